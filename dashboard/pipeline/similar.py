"""Similar wards (statistical neighbours): the ten wards most like each ward, within its vintage.

For each boundary vintage a fixed set of indicators (``FEATURES``) describes every ward unit:
age structure, deprivation, tenure, cars, health, density and occupation or qualifications.
Each indicator is z-scored across London's ward units (mean 0, standard deviation 1, the City of
London counted once), all are weighted equally, and the distance between two wards is the
Euclidean distance between their z-scores. A ward's similar wards are the ``K`` nearest others
of the same vintage; ties are broken by code so the file is the same on every run.

Statistics for the 25 City of London wards of 2022 are published for the City as a whole, so the
City is one unit here: each City ward has the City's neighbours, and where the City is a
neighbour of another ward it appears once, under its statistical code (E09000001).

A unit with no value for any of its vintage's indicators is left out (it has no neighbours and is
nobody's neighbour): the Census covers every ward, so in practice none is.

Density is not in the indicator table: for 2022 wards it is usual residents (Census 2021) per
km² of the ward layer's area, logged because it spans two orders of magnitude; the 2011 set uses
the GLA ward profiles' own density, logged the same way.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard.data import schema

log = logging.getLogger(__name__)

K = 10
# Two wards are "close" on an indicator when their values differ by less than this many London
# standard deviations; the profile says on how many of the indicators a neighbour is close.
CLOSE_SD = 0.5
DENSITY = "density_log"


@dataclass(frozen=True)
class Feature:
    """One dimension of likeness: an indicator id (or ``DENSITY``) and what it stands for."""

    indicator_id: str
    what: str


FEATURES = {
    "ward2022": (
        Feature("aged_0_14_pct", "children aged 0 to 14"),
        Feature("aged_65_plus_pct", "people aged 65 or over"),
        Feature("deprived_1plus_pct", "households deprived in one or more dimensions"),
        Feature("imd_mean_decile", "average deprivation decile (IMD 2019)"),
        Feature("social_rented_pct", "households renting from a council or housing association"),
        Feature("private_rented_pct", "households renting privately"),
        Feature("no_car_households_pct", "households with no car or van"),
        Feature("bad_health_pct", "residents in bad or very bad health"),
        Feature("nssec_higher_pct", "residents in higher managerial and professional jobs"),
        Feature("nssec_routine_pct", "residents in routine and semi-routine jobs"),
        Feature(DENSITY, "residents per km² (logged)"),
    ),
    "ward2011": (
        Feature("wp_children_pct", "children aged 0 to 15"),
        Feature("wp_older_people_pct", "people aged 65 or over"),
        Feature("wp_out_of_work_benefits_pct", "working-age residents on out-of-work benefits"),
        Feature("wp_imd2010_worst_half_pct", "neighbourhoods in England's most deprived half "
                "(IMD 2010)"),
        Feature("wp_social_rented_pct", "households renting from a council or housing "
                "association"),
        Feature("wp_private_rented_pct", "households renting privately"),
        Feature("wp_cars_per_household", "cars or vans per household"),
        Feature("wp_life_expectancy_female", "female life expectancy"),
        Feature("wp_life_expectancy_male", "male life expectancy"),
        Feature("wp_degree_level_pct", "residents with a degree-level qualification"),
        Feature("wp_no_qualifications_pct", "residents with no qualifications"),
        Feature(DENSITY, "residents per km² (logged)"),
    ),
}

COLUMNS = schema.SIMILAR_COLUMNS


def feature_table(indicators: pd.DataFrame, catalogue: pd.DataFrame, wards: pd.DataFrame,
                  layer: str) -> pd.DataFrame:
    """One row per ward unit (index: statistical code), one column per feature, raw values.

    ``indicators`` and ``catalogue`` as in ``data/``; ``wards`` the layer's attribute table (for
    the areas behind 2022 density). Each indicator is taken at its catalogue default period.
    """
    periods = catalogue.set_index("indicator_id")["default_period"]
    columns = {}
    for feature in FEATURES[layer]:
        if feature.indicator_id == DENSITY:
            continue
        period = periods.get(feature.indicator_id)
        rows = indicators[(indicators["layer"] == layer)
                          & (indicators["indicator_id"] == feature.indicator_id)
                          & (indicators["period"].astype(str) == str(period))]
        columns[feature.indicator_id] = rows.set_index("code")["value"].astype(float)
    table = pd.DataFrame(columns)
    if layer == "ward2022":
        residents = indicators[(indicators["layer"] == layer)
                               & (indicators["indicator_id"] == "usual_residents")]
        people = residents.drop_duplicates("code", keep="last").set_index("code")["value"]
        area = wards.groupby("stat_code")["area_km2"].sum()
        density = people.astype(float) / area.reindex(people.index).astype(float)
    else:
        rows = indicators[(indicators["layer"] == layer)
                          & (indicators["indicator_id"] == "wp_density")]
        density = rows.drop_duplicates("code", keep="last").set_index("code")["value"].astype(float)
    table[DENSITY] = np.log10(density.where(density > 0)).reindex(table.index)
    table = table[[f.indicator_id for f in FEATURES[layer]]]
    return table.sort_index()


def zscores(table: pd.DataFrame) -> pd.DataFrame:
    """Each column standardised across the units (population standard deviation); a unit
    missing a value gets 0 there (London's mean), so it is neither near nor far on it."""
    mean, sd = table.mean(), table.std(ddof=0).replace(0, np.nan)
    return ((table - mean) / sd).fillna(0.0)


def neighbours(table: pd.DataFrame, k: int = K) -> pd.DataFrame:
    """The ``k`` nearest units of every unit (``COLUMNS`` except ``layer``), nearest first."""
    table = table.dropna(how="all")
    z = zscores(table)
    codes = np.array(z.index, dtype=object)
    values = z.to_numpy(dtype=float)
    diff = values[:, None, :] - values[None, :, :]
    distance = np.sqrt((diff ** 2).sum(axis=2))
    close = (np.abs(diff) < CLOSE_SD).sum(axis=2)
    rows = []
    for i, code in enumerate(codes):
        others = [j for j in range(len(codes)) if j != i]
        # Sort by distance rounded to 1e-9, then code: equal distances give the same order on
        # every machine.
        others.sort(key=lambda j: (round(float(distance[i, j]), 9), codes[j]))
        for rank, j in enumerate(others[:k], start=1):
            rows.append({"code": code, "rank": rank, "neighbour": codes[j],
                         "distance": round(float(distance[i, j]), 4),
                         "close": int(close[i, j]), "features": values.shape[1]})
    return pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "layer"])


def build(raw_dir: Path, out_dir: Path) -> dict:
    """Write ``similar_wards.csv`` from the processed indicators and ward layers in ``out_dir``."""
    out_dir = Path(out_dir)
    indicators = pd.read_parquet(schema.indicators_path(out_dir))
    catalogue = pd.read_csv(schema.catalogue_path(out_dir), dtype=str)
    parts, summary = [], {}
    for layer in FEATURES:
        wards = pd.read_parquet(schema.layer_path(out_dir, layer), columns=["code", "stat_code",
                                                                            "area_km2"])
        table = feature_table(indicators, catalogue, wards, layer)
        found = neighbours(table)
        found.insert(0, "layer", layer)
        parts.append(found)
        summary[layer] = {"units": int(table.shape[0]), "features": int(table.shape[1]),
                          "missing_values": int(table.isna().sum().sum())}
    out = pd.concat(parts, ignore_index=True)
    out.to_csv(schema.similar_wards_path(out_dir), index=False, lineterminator="\n", encoding="utf-8",
               float_format="%.4f")
    return summary


def dataset_rows() -> list[dict]:
    """No new source: similar wards are derived from the indicators and layers already credited."""
    return []
