"""What the Data & sources page lists: datasets from the manifest, the searchable catalogue."""
from __future__ import annotations

import pandas as pd

from layers.registry import LAYER_SPECS

CATALOGUE_FIELDS = ("title", "theme", "unit", "direction", "period_label", "geography",
                    "method", "source", "licence", "definition")
CATALOGUE_HEADINGS = ("Indicator", "Theme", "Unit", "Higher is", "Period", "Areas", "Method",
                      "Source", "Licence", "Definition")
POLARITY_WORDS = {1: "better", -1: "worse", 0: "neither (context)"}
LAYER_WORDS = {"ward2022": "2022 wards, boroughs, London", "ward2011": "2011 wards, boroughs, London"}
METHOD_WORDS = {"native": "Published for these areas", "apportioned": "Built up by best fit"}

METHOD_NOTES = (
    "2022 wards: the 704 wards in force since the May 2022 elections. The City of London's 25 "
    "small wards are shown on maps, but every source reports the City as one unit, so they share "
    "the City-wide figure and are ranked as one area.",
    "Best fit: Census 2021 output areas and LSOAs, and 2011 LSOAs, are each given wholly to the "
    "2022 ward that contains most of their population (GLA and ONS best-fit lookups). Ward "
    "figures built this way are marked 'Built up by best fit'.",
    "Borough and London figures are recomputed from counts (numerators and denominators summed "
    "over the areas), never averaged from ward rates. Concentrations (air quality) are averaged "
    "weighted by residents.",
    "2011 wards: the GLA Ward Profiles 2015 are published for the 625 wards of 2011. They are "
    "shown on 2011 boundaries only; values are never moved between boundary vintages.",
    "Charge points are placed in a borough and a ward by their coordinates; a point on the "
    "Thames or a borough edge goes to the nearest area of its borough.",
    "Boundary resolution: 2022 wards are drawn from the ONS boundaries generalised to 20 m "
    "(BGC, December 2022), simplified together at "
    f"{LAYER_SPECS['ward2022'].tolerance_m:g} m so that neighbours keep their shared edges; "
    "2011 wards and boroughs from the GLA's full-resolution files, simplified at "
    f"{LAYER_SPECS['ward2011'].tolerance_m:g} m and {LAYER_SPECS['borough'].tolerance_m:g} m. "
    "Areas are measured before simplifying.",
)


def datasets(store) -> list[dict]:
    """Every dataset in the source manifest, simulated usage last."""
    frame = store.datasets().fillna("")
    rows = frame.to_dict("records")
    return sorted(rows, key=lambda r: (r["dataset_id"] == "simulated-usage", r["title"]))


def catalogue_rows(catalogue: pd.DataFrame) -> list[dict]:
    """Catalogue rows in reading order (theme, then title) with words for codes."""
    rows = []
    for r in catalogue.sort_values(["theme", "title"]).to_dict("records"):
        rows.append({
            **r,
            "direction": POLARITY_WORDS.get(int(r["polarity"]), ""),
            "geography": LAYER_WORDS.get(r["layer"], r["layer"]),
            "method": METHOD_WORDS.get(r["method"], r["method"]),
        })
    return rows


def themes(rows: list[dict]) -> list[str]:
    return sorted({r["theme"] for r in rows})


def search(rows: list[dict], text: str | None, theme: str | None) -> list[dict]:
    """Rows whose title, definition, source or theme contain every word of ``text``."""
    words = [w for w in (text or "").lower().split() if w][:12]
    out = []
    for r in rows:
        if theme and r["theme"] != theme:
            continue
        hay = " ".join(str(r[k]) for k in ("title", "definition", "source", "theme", "unit")).lower()
        if all(w in hay for w in words):
            out.append(r)
    return out
