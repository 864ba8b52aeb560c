"""Indicators step: raw open data -> ``indicators.parquet`` and ``catalogue.csv``.

Ward 2022 figures are built from small areas (output areas, LSOAs) assigned wholly to one ward by
the GLA best-fit lookups, or taken from ward-level sources (police-recorded crime). The City of
London is one unit, ``E09000001``, whichever of its 25 wards a small area falls in. Every borough
and London figure is recomputed from summed numerators and denominators, never averaged from ward
rates. Ward 2011 figures are the GLA Ward Profiles 2015, with the file's own borough and London
rows.

``build`` writes the two files; ``dataset_rows`` declares the datasets read, for the manifest.
"""
from __future__ import annotations

import logging
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio

from dashboard.data import schema
from dashboard.pipeline import catalogue
from dashboard.pipeline.catalogue import Entry

log = logging.getLogger(__name__)

OA_DIR = "indicators/census-2021-oa"
TS007A_FILE = "indicators/census-2021-lsoa/census2021-ts007a-lsoa-london.csv"
IMD_FILE = "indicators/mhclg-imd-2019/imd2019-file1-index-of-multiple-deprivation.xlsx"
POP2020_FILE = "indicators/ons-mid2020-lsoa-population/london-mid2020-pop.csv"
CRIME_FILE = "indicators/met-police-ward-crime/mps-ward-level-crime-24-months.csv"
LAEI_FILE = "indicators/laei-2019-air-quality/lsoa21-2019-{pollutant}.csv"
EV_FILE = "ev/lsoa-chargepoints-and-plugin-vehicles-2011-2024/lsoa_evci_and_plugin_vehicles.csv"
PROFILES_FILE = "indicators/gla-ward-profiles-2015/ward-profiles-excel-version.csv"
BESTFIT_FILE = "lookups/gla-ward22-bestfit/{area}_to_ward22_bestfit_london.csv"
WARD_LAD_FILE = ("lookups/ons/Ward_to_Local_Authority_District_(December_2023)_Lookup_in_the_"
                 "United_Kingdom.csv")
WARD2011_FILE = "boundaries/gla-statistical-gis-2011/London_Ward_CityMerged.dbf"

CENSUS_PERIOD = "2021"
LONDON_DEPRIVED_SHARE = 0.2
# A month whose London total is under this share of the median month is an incomplete extract.
INCOMPLETE_MONTH_SHARE = 0.5
PARQUET_SCHEMA = pa.schema([
    ("layer", pa.string()), ("code", pa.string()), ("indicator_id", pa.string()),
    ("period", pa.string()), ("value", pa.float64()),
])


# Geography ---------------------------------------------------------------------------------------
class Wards2022:
    """The 680 ward 2022 statistical units (679 wards and the City) and the small areas in each.

    ``unit_borough`` maps each unit to its borough; ``area_unit[area]`` maps the codes of "oa21",
    "lsoa21" and "lsoa11" to the unit their best-fit ward reports under.
    """

    def __init__(self, raw_dir: Path):
        lookup = pd.read_csv(raw_dir / WARD_LAD_FILE, encoding="utf-8-sig",
                             usecols=["WD23CD", "LAD23CD"])
        london = lookup[lookup["LAD23CD"].str.startswith("E09")]
        ward_borough = london.set_index("WD23CD")["LAD23CD"]
        self.ward_unit = pd.Series(
            np.where(ward_borough == schema.CITY_CODE, schema.CITY_CODE, ward_borough.index),
            index=ward_borough.index)
        self.unit_borough = ward_borough.groupby(self.ward_unit).first()
        self.area_unit = {area: self._best_fit(raw_dir, area)
                          for area in ("oa21", "lsoa21", "lsoa11")}

    def _best_fit(self, raw_dir: Path, area: str) -> pd.Series:
        table = pd.read_csv(raw_dir / BESTFIT_FILE.format(area=area), dtype=str)
        wards = table.set_index(f"{area}cd")["ward22cd"]
        units = wards.map(self.ward_unit)
        if units.isna().any():
            raise ValueError(f"{area} best fit names wards outside London: "
                             f"{sorted(wards[units.isna()].unique())}")
        return units

    def units_reached(self, area: str) -> set[str]:
        return set(self.area_unit[area])


def area_counts(area_unit: pd.Series, indicator_id: str, period: str, num: pd.Series,
          den: pd.Series | None = None) -> pd.DataFrame:
    """Numerator (and denominator) of one indicator per small area, labelled with its unit.

    ``num`` and ``den`` are indexed by small-area code; a count has no denominator.
    """
    units = num.index.to_series().map(area_unit)
    if units.isna().any():
        raise ValueError(f"{indicator_id}: {int(units.isna().sum())} areas not in the lookup")
    return pd.DataFrame({
        "code": units.to_numpy(), "indicator_id": indicator_id, "period": period,
        "num": num.to_numpy(dtype=float),
        "den": np.nan if den is None else den.reindex(num.index).to_numpy(dtype=float),
    })


def aggregate(counts: pd.DataFrame, unit_borough: pd.Series, scale: float = 1.0) -> pd.DataFrame:
    """Ward, borough and London values from summed numerators and denominators.

    Counts (no denominator) are the summed numerator; ratios are ``scale * sum(num) / sum(den)``.
    Undefined ratios (zero denominator) are left out.
    """
    counts = counts.assign(borough=counts["code"].map(unit_borough))
    if counts["borough"].isna().any():
        raise ValueError("units without a borough")
    keys = ["indicator_id", "period"]
    frames = []
    for layer, by in (("ward2022", "code"), ("borough", "borough"), ("london", None)):
        groups = counts.groupby(([by] if by else []) + keys, sort=True)
        sums = groups[["num", "den"]].sum(min_count=1).reset_index()
        value = np.where(sums["den"].isna(), sums["num"], scale * sums["num"] / sums["den"])
        frames.append(pd.DataFrame({
            "layer": layer,
            "code": sums[by] if by else schema.LONDON_CODE,
            "indicator_id": sums["indicator_id"], "period": sums["period"], "value": value,
        }))
    rows = pd.concat(frames, ignore_index=True)
    return rows[np.isfinite(rows["value"])]


# Census 2021 -------------------------------------------------------------------------------------
def _column(table: pd.DataFrame, label: str) -> pd.Series:
    """The one column whose name is ``label`` or ends with ``": " + label``."""
    matches = [c for c in table.columns if c == label or c.endswith(": " + label)]
    if len(matches) != 1:
        raise KeyError(f"{label!r} matches {matches}")
    return table[matches[0]]


def _columns_sum(table: pd.DataFrame, labels: list[str]) -> pd.Series:
    return sum((_column(table, label) for label in labels), start=pd.Series(0.0, table.index))


# indicator id -> (table, numerator labels, denominator label, scale); a count has no denominator.
CENSUS_OA_RECIPES: dict[str, tuple[str, list[str], str | None, float]] = {
    "usual_residents": ("ts001", ["Residence type: Total"], None, 1.0),
    "households": ("ts054", ["Total: All households"], None, 1.0),
    "no_car_households_pct": ("ts045", ["No cars or vans in household"],
                              "Total: All households", 100.0),
    "bad_health_pct": ("ts037", ["Bad health", "Very bad health"],
                       "Total: All usual residents", 100.0),
    "disabled_pct": ("ts038", ["Disabled under the Equality Act"],
                     "Total: All usual residents", 100.0),
    "social_rented_pct": ("ts054", ["Social rented"], "Total: All households", 100.0),
    "private_rented_pct": ("ts054", ["Private rented"], "Total: All households", 100.0),
    "deprived_1plus_pct": ("ts011", [f"Household is deprived in {n} dimension{s}" for n, s in
                                     (("one", ""), ("two", "s"), ("three", "s"), ("four", "s"))],
                           "Total: All households", 100.0),
    "deprived_2plus_pct": ("ts011", [f"Household is deprived in {n} dimensions"
                                     for n in ("two", "three", "four")],
                           "Total: All households", 100.0),
    "nssec_higher_pct": ("ts062", ["L1, L2 and L3 Higher managerial, administrative and "
                                   "professional occupations"],
                         "Total: All usual residents aged 16 years and over", 100.0),
    "nssec_routine_pct": ("ts062", ["L12 Semi-routine occupations", "L13 Routine occupations"],
                          "Total: All usual residents aged 16 years and over", 100.0),
    "nssec_never_worked_pct": ("ts062", ["L14.1 and L14.2 Never worked and long-term "
                                         "unemployed"],
                               "Total: All usual residents aged 16 years and over", 100.0),
}
AGE_BANDS = {
    "aged_0_14_pct": ["Aged 4 years and under", "Aged 5 to 9 years", "Aged 10 to 14 years"],
    "aged_65_plus_pct": ["Aged 65 to 69 years", "Aged 70 to 74 years", "Aged 75 to 79 years",
                         "Aged 80 to 84 years", "Aged 85 years and over"],
}


def read_oa_table(raw_dir: Path, table: str) -> pd.DataFrame:
    """One Census 2021 topic summary by output area, indexed by OA code."""
    return pd.read_csv(raw_dir / OA_DIR / f"{table}_oa21_london.csv").set_index("OA21CD")


def read_ts007a(raw_dir: Path) -> pd.DataFrame:
    """Census 2021 age bands by LSOA 2021, indexed by LSOA code."""
    return pd.read_csv(raw_dir / TS007A_FILE).set_index("geography code")


def census_oa_rows(raw_dir: Path, wards: Wards2022) -> pd.DataFrame:
    """Census 2021 counts and percentages built up from output areas."""
    tables = {name: read_oa_table(raw_dir, name)
              for name in sorted({recipe[0] for recipe in CENSUS_OA_RECIPES.values()})}
    frames = []
    for indicator_id, (table, numerator, denominator, scale) in CENSUS_OA_RECIPES.items():
        data = tables[table]
        den = _column(data, denominator) if denominator else None
        parts = area_counts(wards.area_unit["oa21"], indicator_id, CENSUS_PERIOD,
                            _columns_sum(data, numerator), den)
        frames.append(aggregate(parts, wards.unit_borough, scale))
    return pd.concat(frames, ignore_index=True)


def age_rows(ts007a: pd.DataFrame, wards: Wards2022) -> pd.DataFrame:
    """Shares of residents aged 0 to 14 and 65 or over, built up from LSOAs."""
    total = ts007a["Age: Total"]
    parts = [area_counts(wards.area_unit["lsoa21"], indicator_id, CENSUS_PERIOD,
                         _columns_sum(ts007a, bands), total)
             for indicator_id, bands in AGE_BANDS.items()]
    return aggregate(pd.concat(parts, ignore_index=True), wards.unit_borough, 100.0)


def ward_residents(raw_dir: Path, wards: Wards2022) -> pd.Series:
    """Census 2021 usual residents of each ward 2022 unit (the crime-rate denominator)."""
    residents = _column(read_oa_table(raw_dir, "ts001"), "Residence type: Total")
    return residents.groupby(residents.index.map(wards.area_unit["oa21"])).sum()


# Index of Multiple Deprivation 2019 --------------------------------------------------------------
def imd_rows(raw_dir: Path, wards: Wards2022) -> pd.DataFrame:
    """Shares of residents in the most deprived LSOAs, and the average decile, by 2022 ward."""
    imd = pd.read_excel(raw_dir / IMD_FILE, sheet_name="IMD2019").rename(columns={
        "LSOA code (2011)": "lsoa", "Index of Multiple Deprivation (IMD) Rank": "rank",
        "Index of Multiple Deprivation (IMD) Decile": "decile"}).set_index("lsoa")
    pop = pd.read_csv(raw_dir / POP2020_FILE).set_index("LSOA11CD")["Persons_All-Ages"]
    imd = imd.loc[pop.index]
    london_position = imd["rank"].rank(method="first")
    london_cut = int(len(imd) * LONDON_DEPRIVED_SHARE)
    area_unit = wards.area_unit["lsoa11"]
    in_england_20 = pop * (imd["decile"] <= 2)
    in_london_20 = pop * (london_position <= london_cut)
    percentages = pd.concat([
        area_counts(area_unit, "imd_england_20pct_pct", "2019", in_england_20, pop),
        area_counts(area_unit, "imd_london_20pct_pct", "2019", in_london_20, pop),
    ], ignore_index=True)
    decile = area_counts(area_unit, "imd_mean_decile", "2019", pop * imd["decile"], pop)
    return pd.concat([aggregate(percentages, wards.unit_borough, 100.0),
                      aggregate(decile, wards.unit_borough)], ignore_index=True)


# Air quality -------------------------------------------------------------------------------------
def air_rows(raw_dir: Path, ts007a: pd.DataFrame, wards: Wards2022) -> pd.DataFrame:
    """Resident-weighted mean NO2 and PM2.5 concentrations."""
    residents = ts007a["Age: Total"]
    parts = []
    for indicator_id, pollutant in (("no2_mean", "NO2"), ("pm25_mean", "PM25")):
        table = pd.read_csv(raw_dir / LAEI_FILE.format(pollutant=pollutant)).set_index("LSOA21CD")
        mean = table[f"{pollutant}-2019-mean"]
        weights = residents.reindex(mean.index)
        parts.append(area_counts(wards.area_unit["lsoa21"], indicator_id, "2019",
                                 mean * weights, weights))
    return aggregate(pd.concat(parts, ignore_index=True), wards.unit_borough)


# EV charge devices and plug-in vehicles ----------------------------------------------------------
def ev_rows(raw_dir: Path, wards: Wards2022,
            notes: list[str]) -> pd.DataFrame:
    """Devices by year, vehicles by quarter, vehicles per device and devices per 100,000."""
    ev = pd.read_csv(raw_dir / EV_FILE).set_index("LSOA21CD")
    area_unit = wards.area_unit["lsoa21"]
    absent = sorted(set(area_unit.index) - set(ev.index))
    if absent:
        notes.append(f"ev: {len(absent)} LSOAs absent from the source (no figures): {absent}")
    device_years = sorted(c.removeprefix("EVCI") for c in ev.columns if c.startswith("EVCI"))
    quarters = sorted(c.removeprefix("y") for c in ev.columns if re.fullmatch(r"y\d{4}Q\d", c))
    totals = [area_counts(area_unit, "ev_public_devices", year, ev[f"EVCI{year}"])
              for year in device_years]
    totals += [area_counts(area_unit, "ev_plugin_vehicles", quarter, ev[f"y{quarter}"])
               for quarter in quarters]
    per_device = [area_counts(area_unit, "ev_vehicles_per_device", year,
                              ev[f"y{_year_end_quarter(year, quarters)}"], ev[f"EVCI{year}"])
                  for year in device_years]
    latest = device_years[-1]
    # Devices per 100,000 residents: the devices of a ward's LSOAs over the ward's own Census
    # residents (the same denominator as every other per-resident figure in the app).
    devices = area_counts(area_unit, "ev_devices_per_100k", latest, ev[f"EVCI{latest}"])
    devices = devices.groupby(["code", "indicator_id", "period"], as_index=False)["num"].sum()
    residents = ward_residents(raw_dir, wards)
    per_100k = devices.assign(den=devices["code"].map(residents).to_numpy(dtype=float))
    return pd.concat([
        aggregate(pd.concat(totals, ignore_index=True), wards.unit_borough),
        aggregate(pd.concat(per_device, ignore_index=True), wards.unit_borough),
        aggregate(per_100k, wards.unit_borough, 100_000.0),
    ], ignore_index=True)


def _year_end_quarter(year: str, quarters: list[str]) -> str:
    """Q4 of ``year``, or the latest quarter published when the year is not complete."""
    return f"{year}Q4" if f"{year}Q4" in quarters else max(q for q in quarters if q[:4] == year)


# Police-recorded crime ---------------------------------------------------------------------------
def read_crime(raw_dir: Path, wards: Wards2022, notes: list[str]) -> pd.DataFrame:
    """Offences by ward (rows) and complete month (columns), for each major category and all.

    The index is (fragment, ward code), where fragment is the category's id fragment or "all".
    Wards with no offence of a category in the file get zeros.
    """
    crime = pd.read_csv(raw_dir / CRIME_FILE)
    months = [c for c in crime.columns if re.fullmatch(r"\d{6}", c)]
    totals = crime[months].sum()
    complete = [m for m in months if totals[m] >= INCOMPLETE_MONTH_SHARE * totals.median()]
    for month in sorted(set(months) - set(complete)):
        notes.append(f"crime: month {month} dropped as incomplete "
                     f"({int(totals[month])} offences London-wide)")
    unknown = set(crime["MajorText"]) - set(catalogue.CRIME_CATEGORIES)
    if unknown:
        raise ValueError(f"crime categories missing from the catalogue: {sorted(unknown)}")
    outside = ~crime["WardCode"].isin(wards.ward_unit.index)
    if outside.any():
        notes.append(f"crime: {int(outside.sum())} rows with non-ward codes dropped: "
                     f"{sorted(crime.loc[outside, 'WardCode'].unique())}")
    crime = crime[~outside].assign(
        fragment=lambda t: t["MajorText"].map(lambda c: catalogue.CRIME_CATEGORIES[c][0]))
    by_category = crime.groupby(["fragment", "WardCode"])[complete].sum()
    fragments = sorted(fragment for fragment, _ in catalogue.CRIME_CATEGORIES.values())
    grid = pd.MultiIndex.from_product([fragments, sorted(crime["WardCode"].unique())],
                                      names=["fragment", "WardCode"])
    by_category = by_category.reindex(grid, fill_value=0)
    all_crime = by_category.groupby(level="WardCode").sum()
    all_crime.index = pd.MultiIndex.from_product([[catalogue.CRIME_ALL[0]], all_crime.index],
                                                 names=["fragment", "WardCode"])
    return pd.concat([all_crime, by_category])


def crime_rows(raw_dir: Path, wards: Wards2022, notes: list[str]) -> pd.DataFrame:
    """Crime per 1,000 residents by major category and in total: monthly and latest 12 months."""
    offences = read_crime(raw_dir, wards, notes)
    residents = ward_residents(raw_dir, wards)
    months = list(offences.columns)
    last_year = months[-12:]
    year_period = f"{_month(last_year[0])} to {_month(last_year[-1])}"
    parts = []
    for fragment, table in offences.groupby(level="fragment"):
        table = table.droplevel("fragment")
        den = residents.reindex(wards.ward_unit[table.index]).set_axis(table.index)
        monthly = catalogue.crime_id(fragment, "monthly")
        parts += [area_counts(wards.ward_unit, monthly, _month(m), table[m], den) for m in months]
        parts.append(area_counts(wards.ward_unit, catalogue.crime_id(fragment, "12m"),
                                 year_period, table[last_year].sum(axis=1), den))
    return aggregate(pd.concat(parts, ignore_index=True), wards.unit_borough, 1000.0)


def _month(yyyymm: str) -> str:
    return f"{yyyymm[:4]}-{yyyymm[4:]}"


# GLA Ward Profiles 2015 (2011 wards) -------------------------------------------------------------
def profile_period(column: catalogue.ProfileColumn) -> str:
    """The period of a ward-profile column: the one set in the catalogue or the header's end."""
    if column.period:
        return column.period
    match = re.search(r"(\d{4}(?:[-/]\d{2})?(?: to \d{4}/\d{2})?)\)?$", column.header)
    if not match:
        raise ValueError(f"no period in ward-profile header {column.header!r}")
    return match.group(1)


def profile_rows(raw_dir: Path, notes: list[str]) -> pd.DataFrame:
    """Ward 2011, borough and London rows of every ward-profile column, as published."""
    table = pd.read_csv(raw_dir / PROFILES_FILE, encoding="latin-1")
    table.columns = [c.strip() for c in table.columns]
    specs = {c.header: c for c in catalogue.PROFILE_COLUMNS}
    numeric = [c for c in table.columns if c not in ("Ward name", "Old code", "New code")]
    if set(numeric) != set(specs):
        raise ValueError(f"ward-profile columns differ from the catalogue: "
                         f"{sorted(set(numeric) ^ set(specs))}")
    ward_codes = set(pyogrio.read_dataframe(raw_dir / WARD2011_FILE,
                                            read_geometry=False)["GSS_CODE"])
    code = table["New code"]
    layer = pd.Series(None, index=table.index, dtype=object)
    is_ward = code.isin(ward_codes) & ~code.duplicated(keep="first")
    layer[is_ward] = "ward2011"
    layer[~is_ward & code.str.startswith("E09")] = "borough"
    layer[code == schema.LONDON_CODE] = "london"
    if set(code[is_ward]) != ward_codes:
        raise ValueError("ward-profile wards differ from the 2011 ward boundaries")
    notes.append(f"ward profiles: rows not used: "
                 f"{sorted(table.loc[layer.isna(), 'Ward name'])}")
    long = (table.assign(layer=layer).dropna(subset=["layer"])
            .melt(id_vars=["layer", "New code"], value_vars=numeric, var_name="header")
            .dropna(subset=["value"]))
    return pd.DataFrame({
        "layer": long["layer"], "code": long["New code"],
        "indicator_id": long["header"].map(lambda h: specs[h].indicator_id),
        "period": long["header"].map(lambda h: profile_period(specs[h])),
        "value": long["value"].astype(float),
    })


# Catalogue and output ----------------------------------------------------------------------------
def catalogue_entries() -> list[Entry]:
    """Every catalogue entry: ward 2022 indicators, then the ward profiles."""
    profiles = [catalogue.profile_entry(c, profile_period(c)) for c in catalogue.PROFILE_COLUMNS]
    return [*catalogue.WARD2022_ENTRIES, *profiles]


def catalogue_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The catalogue table, with licence from the source dataset and the latest period."""
    licences = {d["dataset_id"]: d["licence"] for d in catalogue.DATASETS}
    latest = rows.groupby("indicator_id")["period"].max()
    frame = pd.DataFrame([asdict(e) for e in catalogue_entries()])
    frame["licence"] = frame["source"].map(licences)
    frame["default_period"] = frame["indicator_id"].map(latest)
    return frame[list(schema.CATALOGUE_COLUMNS)].sort_values("indicator_id", ignore_index=True)


def check(rows: pd.DataFrame, entries: list[Entry]) -> None:
    """Fail loudly on duplicate keys or indicators missing from either side of the catalogue."""
    ids = [e.indicator_id for e in entries]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate indicator ids in the catalogue")
    if set(rows["indicator_id"]) != set(ids):
        raise ValueError(f"indicators and catalogue differ: "
                         f"{sorted(set(rows['indicator_id']) ^ set(ids))}")
    if rows.duplicated(["layer", "code", "indicator_id", "period"]).any():
        raise ValueError("duplicate indicator rows")
    if not set(rows["layer"]) <= {*schema.LAYERS, "london"}:
        raise ValueError(f"unknown layers {set(rows['layer'])}")


def write_parquet(rows: pd.DataFrame, path: Path) -> None:
    """Write the long table reproducibly: same rows, same bytes."""
    table = pa.Table.from_pandas(rows, schema=PARQUET_SCHEMA, preserve_index=False)
    # Dictionary encoding on every column: codes, ids and periods repeat, and so do many values
    # (zero crime counts, rounded published figures); one row group keeps the dictionaries whole.
    pq.write_table(
        table.replace_schema_metadata(None), path, compression="zstd", compression_level=15,
        use_dictionary=True, row_group_size=len(rows) or None, store_schema=False,
    )


def build_rows(raw_dir: Path, notes: list[str]) -> pd.DataFrame:
    """Every indicator row, sorted by layer, indicator, period and code."""
    wards = Wards2022(raw_dir)
    ts007a = read_ts007a(raw_dir)
    for area in ("oa21", "lsoa21", "lsoa11"):
        missing = set(wards.unit_borough.index) - wards.units_reached(area)
        if missing:
            notes.append(f"{area} best fit reaches no small area in {sorted(missing)}")
    frames = [
        census_oa_rows(raw_dir, wards), age_rows(ts007a, wards), imd_rows(raw_dir, wards),
        air_rows(raw_dir, ts007a, wards), ev_rows(raw_dir, wards, notes),
        crime_rows(raw_dir, wards, notes), profile_rows(raw_dir, notes),
    ]
    rows = pd.concat(frames, ignore_index=True)[list(schema.INDICATOR_COLUMNS)]
    rows = rows.astype({"value": "float64"})
    return rows.sort_values(["layer", "indicator_id", "period", "code"], ignore_index=True)


def build(raw_dir: Path, out_dir: Path) -> dict:
    """Write ``indicators.parquet`` and ``catalogue.csv`` under ``out_dir``; return a summary."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    rows = build_rows(raw_dir, notes)
    check(rows, catalogue_entries())
    write_parquet(rows, schema.indicators_path(out_dir))
    cat = catalogue_frame(rows)
    cat.to_csv(schema.catalogue_path(out_dir), index=False, lineterminator="\n", encoding="utf-8")
    for note in notes:
        log.info(note)
    return {
        "rows": len(rows),
        "indicators": int(cat.shape[0]),
        "rows_by_layer": rows["layer"].value_counts().sort_index().to_dict(),
        "parquet_bytes": schema.indicators_path(out_dir).stat().st_size,
        "notes": notes,
    }


def dataset_rows() -> list[dict]:
    """Source-manifest rows (``dashboard.data.schema.DATASET_COLUMNS``) for every dataset read here."""
    return [dict(row) for row in catalogue.DATASETS]
