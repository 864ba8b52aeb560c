"""The boundary layers the app draws, with where each comes from and how it is prepared."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerSpec:
    name: str
    title: str
    vintage: str
    dataset_id: str
    # Coverage simplification tolerance in metres (British National Grid); 0 keeps every vertex.
    tolerance_m: float
    description: str


LAYER_SPECS: dict[str, LayerSpec] = {
    "borough": LayerSpec(
        name="borough",
        title="London boroughs",
        vintage="2011 boundaries (unchanged for boroughs since)",
        dataset_id="gla-statistical-gis-2011",
        tolerance_m=25.0,
        description=(
            "The 32 London boroughs and the City of London, made by dissolving the GLA's full "
            "resolution 2011 wards by borough, so that borough and ward edges coincide exactly."
        ),
    ),
    "ward2022": LayerSpec(
        name="ward2022",
        title="Wards (December 2022)",
        vintage="December 2022",
        dataset_id="ons-wards-2022-bgc",
        tolerance_m=10.0,
        description=(
            "The 704 electoral wards in force since the May 2022 London elections (679 borough "
            "wards and the 25 wards of the City of London), from the ONS boundaries generalised "
            "to 20 m (BGC), simplified together at 10 m. Statistics for the City are reported "
            "for the City as a whole."
        ),
    ),
    "ward2011": LayerSpec(
        name="ward2011",
        title="Wards (2011)",
        vintage="2011 (GLA, City of London as one unit)",
        dataset_id="gla-statistical-gis-2011",
        tolerance_m=20.0,
        description=(
            "The 625 wards of the 2011 Census geography (624 wards and the City of London as one "
            "unit): the geography of the GLA Ward Profiles 2015."
        ),
    ),
}
