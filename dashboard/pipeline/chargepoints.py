"""Build the London charge-device table (``data/chargepoints.parquet``) from six open sources.

Sources, with the tag each leaves in the ``source`` column (a device lists every source that
describes it, the base first):

- ``ncr2022``: DfT National Chargepoint Registry, February 2022, London, full schema: the base
  list of devices, each with its connectors' rated kW, controller, owner, status, on-street flag,
  location type and date created;
- ``ncr2020``: the NCR of November 2020 (six columns), ``ncrcreated``: an NCR extract of London
  devices created October 2017 to December 2020, ``ncr2017``: the NCR of November 2017: older
  snapshots of the same registry;
- ``lewisham2022``: LB Lewisham's charging locations (Open Charge Map-derived: CC BY-SA);
- ``ocm2025``: Open Charge Map, central London, November 2025 (CC BY-SA 4.0).

Method:

1. The 2022 registry is the base. Its devices are joined to the older snapshots on
   ``chargeDeviceID`` (else on a ``reference`` unique in 2022), which only adds the older tags
   to ``source``: the 2022 record is the newer description of every field. A device of an older
   snapshot whose id and reference are absent in 2022 was most likely removed (or registered
   again under a new id, as Source London's 2014 ``SRC_LDN`` records were): it is left out, and
   counted in the build summary.
2. Distinct registry ids are distinct devices even at the same spot with the same name (a car
   park lists each post), so the registry is never de-duplicated against itself.
3. Open Charge Map and Lewisham locations carry no NCR id and are matched by place and name (see
   ``names_compatible``: within 2 m always, within 25 m with agreeing names, within 50 m with the
   same name). A matched location only fills fields the registry leaves empty (a name where the
   registry's is a bare id): the registry describes each device, a location stands for several.
   ``licence_note`` names every field taken from a CC BY-SA source. Locations at no device's
   place that are public and not closed or planned are added as devices (``ocm-<Place_ID>``,
   ``lewisham-<name>``): one row per location, after dropping repeated entries (``same_entry``),
   with the location's highest rating as the device's.
4. Every device takes exactly one borough and one ward of each vintage from
   ``layers.spatial.assign_points``; devices outside London are dropped.

Power comes from the highest connector rating; a device no source rates has ``max_kw`` NaN and
``speed_class`` "unknown".

Columns beyond ``schema.CHARGEPOINT_COLUMNS``: see ``EXTRA_COLUMNS``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from dashboard.data import schema
from layers.spatial import NEAREST_M, assign_points

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"
NCR2022_DIR = "ev/ncr-london-2022-02"
NCR2020_FILE = "ev/dft-ncr-2020-11/national-charge-point-registry.csv"
NCR2017_FILE = "ev/dft-ncr-2017-11/national-charge-point-registry.csv"
CREATED_FILE = "ev/dft-ncr-london-2017-2020-created/london_ncr_devices.csv"
OCM_FILE = "ev/open-charge-map-central-london-2025/central_london_ocm.csv"
LEWISHAM_FILE = "ev/lewisham-2022/lewisham_electric_vehicle_charging_locations.geojson"

COINCIDENT_M = 2.0  # the same point, whatever the names say
MATCH_RADIUS_M = 25.0  # the same place when the names agree
SAME_NAME_RADIUS_M = 50.0  # the same place when the whole names are equal
GB_LAT, GB_LON = (49.0, 61.0), (-9.0, 3.0)
# A generous box around Greater London; only points inside it go to the spatial join.
LONDON_BOX = (-0.56, 51.26, 0.36, 51.72)
CODE_COLUMNS = ("borough_code", "ward2022_code", "ward2011_code")
PLACE_COLUMNS = ("reference", "lon", "lat", *CODE_COLUMNS)
# status: "in service", "out of service" (registry), or Open Charge Map's for added locations;
# owner: the registry's device owner; location_type: the registry's category ("On-street",
# "Public car park", ...), "Not published" for added locations.
EXTRA_COLUMNS = ("status", "licence_note", "owner", "location_type")
NO_LOCATION_TYPE = "Not published"
OUTPUT_COLUMNS = (*schema.CHARGEPOINT_COLUMNS, *EXTRA_COLUMNS)

# Where two sources give a value for the same field, the higher rank wins: the 2022 registry
# describes each device, the location sources only fill its gaps.
RANK = {"ncr2017": 1, "ncrcreated": 2, "ncr2020": 3, "lewisham2022": 4, "ocm2025": 5,
        "ncr2022": 6}
SOURCE_ORDER = ("ncr2022", "ncr2020", "ncrcreated", "ncr2017", "ocm2025", "lewisham2022")
OLDER_NCR = ("ncr2020", "ncrcreated", "ncr2017")
CC_BY_SA = {
    "ocm2025": "Open Charge Map (CC BY-SA 4.0)",
    "lewisham2022": "LB Lewisham 2022, Open Charge Map-derived (CC BY-SA 4.0)",
}
SITE_PREFIX = {"ocm2025": "ocm-", "lewisham2022": "lewisham-"}
FIELDS = ("name", "max_kw", "connectors", "operator", "on_street", "installed", "status",
          "owner", "location_type")
LICENCE_FIELD_LABEL = {"name": "name", "max_kw": "power", "connectors": "connectors",
                       "operator": "operator", "status": "status"}

STATUS = {
    "In service": "in service",
    "Out of service": "out of service",
    "Planned": "planned",
    "Operational": "in service",
    "Partly Operational (Mixed)": "partly in service",
    "Not Operational": "out of service",
    "Planned For Future Date": "planned",
}
CLOSED = {"out of service", "planned"}
NO_OPERATOR = {"", "unknown", "*no controller", "*no owner", "business owner at location"}
# locationType values that say a device is off the street (everything but "On-street"/"Other").
OFF_STREET_TYPES = {
    "Public car park", "Service station", "Park & Ride site", "Workplace car park",
    "Retail car park", "NHS property", "Educational establishment", "Leisure centre",
    "Dealership forecourt", "Public estate", "Hotel / Accommodation", "Private home",
}

# Name matching --------------------------------------------------------------------------------
ABBREVIATIONS = {
    "rd": "road", "st": "street", "ave": "avenue", "av": "avenue", "ln": "lane", "pl": "place",
    "gdns": "gardens", "sq": "square", "cres": "crescent", "ct": "court", "cp": "car",
    "dr": "drive", "tce": "terrace",
}
STOP_WORDS = {
    "the", "and", "of", "at", "on", "in", "by", "to", "near", "opposite", "opp", "outside",
    "adjacent", "adj", "junction", "jct", "with", "o", "s", "london", "england", "uk", "greater",
}
# Words that say what kind of place, not which: sharing only these does not make a match.
GENERIC_WORDS = {
    "road", "street", "avenue", "lane", "place", "gardens", "square", "crescent", "court",
    "close", "way", "drive", "terrace", "row", "mews", "walk", "grove", "hill", "park", "car",
    "parking", "site", "bay", "bays", "level", "floor", "charge", "charging", "charger", "point",
    "points", "ev", "electric", "vehicle", "station", "public", "lc", "lamp", "column", "post",
    "bollard", "north", "south", "east", "west", "upper", "lower", "unit",
    # network brands, which some sources use as the location name
    "shell", "recharge", "ubitricity", "char", "gy", "chargy", "pod", "bp", "pulse", "polar",
    "chargemaster", "source", "tesla", "supercharger", "geniepoint", "total", "energies",
}
NUMBER = re.compile(r"^(\d+)[a-z]?$")


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("&", " and ") if isinstance(text, str) else ""
    return [ABBREVIATIONS.get(t, t) for t in re.findall(r"[a-z0-9]+", text)]


class NameKey(NamedTuple):
    """What the matching rules compare: the words of the name and address, the words of the
    name alone, and its house or bay numbers."""

    words: frozenset
    name_words: frozenset
    numbers: frozenset


def _words(tokens: list[str]) -> frozenset:
    return frozenset(t for t in tokens if t.isalpha() and len(t) > 1 and t not in STOP_WORDS)


def name_key(name: str, address: str = "") -> NameKey:
    """The ``NameKey`` of a name and its (optional) address.

    Words: lower case, abbreviations expanded, stop words and one-letter words dropped. Numbers
    (12, 9a -> 9, 04 -> 4) come from the name only, because an address number and a registry
    "site 2" say different things. Tokens mixing letters and digits otherwise (postcodes, ids such
    as suby1100000315) are dropped.
    """
    tokens = _tokens(name)
    numbers = frozenset(str(int(m.group(1))) for m in map(NUMBER.match, tokens) if m)
    name_words = _words(tokens)
    return NameKey(name_words | _words(_tokens(address)), name_words, numbers)


def same_name(a: NameKey, b: NameKey) -> bool:
    """The same name: the same numbers and distinctive words (at least one), and one name's
    words all in the other ("Blackheath Grove Car Park" and "Blackheath Grove", not
    "Albemarle Street" and "Albemarle Way")."""
    distinctive = a.name_words - GENERIC_WORDS
    nested = a.name_words <= b.name_words or b.name_words <= a.name_words
    return bool(distinctive) and distinctive == b.name_words - GENERIC_WORDS and nested \
        and a.numbers == b.numbers


def names_compatible(a: NameKey, b: NameKey, distance_m: float) -> bool:
    """Whether records of two sources ``distance_m`` apart are the same charge point.

    - within ``COINCIDENT_M``: always (Open Charge Map copies registry coordinates to the last
      digit while renaming, e.g. "Saint John Street 327" for "St John Street - site 2");
    - names carrying different numbers never match further apart ("Temple Place 1" is not
      "Temple Place 2");
    - within ``MATCH_RADIUS_M``: when name and address share a distinctive word ("Albemarle",
      "Waitrose"), or both are only generic words and the same ("Park Lane"). A bare id (no
      words) cannot match at this distance;
    - within ``SAME_NAME_RADIUS_M``: when the names are the same (``same_name``: "NCP Saffron
      Hill", where the sources place a car park at different entrances).
    """
    if distance_m <= COINCIDENT_M:
        return True
    if a.numbers and b.numbers and not a.numbers & b.numbers:
        return False
    if distance_m <= MATCH_RADIUS_M and a.words and b.words:
        distinctive_a, distinctive_b = a.words - GENERIC_WORDS, b.words - GENERIC_WORDS
        if distinctive_a & distinctive_b or (
                not distinctive_a and not distinctive_b and a.words == b.words):
            return True
    return distance_m <= SAME_NAME_RADIUS_M and same_name(a, b)


def same_entry(a: NameKey, b: NameKey, distance_m: float) -> bool:
    """Whether two entries of one source are the same charge point: within ``COINCIDENT_M``, or
    within ``MATCH_RADIUS_M`` with the same name. Stricter than ``names_compatible``, because one
    source lists neighbouring lamp posts on a street as separate entries."""
    return distance_m <= COINCIDENT_M or (distance_m <= MATCH_RADIUS_M and same_name(a, b))


def is_uninformative(name: str) -> bool:
    """True for names without words, such as registry ids ("suby1100000315") or "4002063"."""
    return not name_key(name).words


# Geometry helpers -----------------------------------------------------------------------------
def with_bng(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``x``, ``y`` in British National Grid metres from its ``lon``, ``lat``."""
    points = gpd.GeoSeries(gpd.points_from_xy(frame["lon"], frame["lat"]), crs=WGS84).to_crs(BNG)
    return frame.assign(x=points.x.to_numpy(), y=points.y.to_numpy())


def keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (``lon``, ``lat``, ``name``, optional ``address``) with a fresh positional index,
    ``x``, ``y`` in metres and ``key`` (``name_key``)."""
    frame = with_bng(frame.reset_index(drop=True))
    address = frame["address"] if "address" in frame else pd.Series("", index=frame.index)
    keys = [name_key(n, a) for n, a in zip(frame["name"], address.fillna(""))]
    return frame.assign(key=pd.Series(keys, index=frame.index, dtype=object))


def candidate_pairs(left: pd.DataFrame, right: pd.DataFrame,
                    rule: Callable[[NameKey, NameKey, float], bool] = names_compatible
                    ) -> pd.DataFrame:
    """Every (left, right) pair of ``keyed`` rows that ``rule`` calls the same charge point.

    Returns positional indices ``left``, ``right`` and ``distance_m``, closest first.
    """
    columns = {"left": "int64", "right": "int64", "distance_m": "float64"}
    if left.empty or right.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    tree = shapely.STRtree(shapely.points(right["x"].to_numpy(), right["y"].to_numpy()))
    li, ri = tree.query(shapely.points(left["x"].to_numpy(), left["y"].to_numpy()),
                        predicate="dwithin", distance=SAME_NAME_RADIUS_M)
    dist = np.hypot(left["x"].to_numpy()[li] - right["x"].to_numpy()[ri],
                    left["y"].to_numpy()[li] - right["y"].to_numpy()[ri])
    lk, rk = left["key"].to_numpy(), right["key"].to_numpy()
    ok = np.array([rule(lk[i], rk[j], d) for i, j, d in zip(li, ri, dist)], bool)
    pairs = pd.DataFrame({"left": li[ok], "right": ri[ok], "distance_m": dist[ok]})
    return pairs.astype(columns).sort_values(["distance_m", "left", "right"], ignore_index=True)


def one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Greedy matching: closest pairs first, each left and right row used at most once."""
    used_left, used_right, keep = set(), set(), []
    for row in pairs.itertuples(index=False):
        if row.left not in used_left and row.right not in used_right:
            used_left.add(row.left)
            used_right.add(row.right)
            keep.append(row)
    return pd.DataFrame(keep, columns=pairs.columns).astype(pairs.dtypes.to_dict())


def match_places(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """One-to-one matches between two tables of places (``lon``, ``lat``, ``name``, optional
    ``address``) that ``names_compatible`` calls the same, closest first.

    Returns positional indices ``left``, ``right`` and ``distance_m``.
    """
    return one_to_one(candidate_pairs(keyed(left), keyed(right)))


def drop_duplicate_places(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the rows that are the same charge point as an earlier row
    (``same_entry``): the first row of each such group is kept."""
    rows = keyed(frame)
    pairs = candidate_pairs(rows, rows, same_entry)
    later = pairs[pairs["left"] < pairs["right"]].sort_values(["left", "right"])
    drop = set()
    for first, second in zip(later["left"], later["right"]):
        if first not in drop:
            drop.add(second)
    return frame.iloc[[i for i in range(len(frame)) if i not in drop]]


# Readers --------------------------------------------------------------------------------------
def _valid_ncr(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a 32-hex device id and coordinates in Great Britain (shifted rows in the CSVs
    fail both). Some registry rows give latitude and longitude the wrong way round: swapped
    back when that puts them in Great Britain."""
    ok = frame["chargeDeviceID"].astype(str).str.fullmatch(r"[0-9a-f]{32}")
    lat = pd.to_numeric(frame["latitude"], errors="coerce")
    lon = pd.to_numeric(frame["longitude"], errors="coerce")
    swapped = lon.between(*GB_LAT) & lat.between(*GB_LON)
    lat, lon = lat.where(~swapped, lon), lon.where(~swapped, lat)
    ok &= lat.between(*GB_LAT) & lon.between(*GB_LON)
    return frame[ok].assign(lat=lat[ok], lon=lon[ok], coordinates_swapped=swapped[ok])


def _clean_text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.replace(r"\s+", " ", regex=True).str.strip() \
        .replace("", pd.NA)


def _operator(values: pd.Series) -> pd.Series:
    """Operator names without the " (UK)" suffix Open Charge Map adds; NA for placeholders."""
    names = _clean_text(values).str.replace(r"\s*\(UK\)$", "", regex=True)
    return names.where(~names.fillna("").str.lower().isin(NO_OPERATOR))


def _on_street(flag: pd.Series | None, location_type: pd.Series) -> pd.Series:
    """On-street from the NCR flag where given, else from the location type; NA for "Other"."""
    kind = location_type.astype("string")
    from_type = pd.Series(pd.NA, index=kind.index, dtype="boolean")
    from_type[kind == "On-street"] = True
    from_type[kind.isin(OFF_STREET_TYPES)] = False
    if flag is None:
        return from_type
    flag = pd.to_numeric(flag, errors="coerce")
    return flag.map({1.0: True, 0.0: False}).astype("boolean").fillna(from_type)


def _ncr2022_records(raw_dir: Path) -> pd.DataFrame:
    """Every feature of the per-borough 2022 files as one text table (properties plus
    ``latitude``, ``longitude`` from the point), files in name order."""
    rows = []
    for path in sorted((Path(raw_dir) / NCR2022_DIR).glob("*-chargepoints.geojson")):
        for feature in json.loads(path.read_text(encoding="utf-8"))["features"]:
            lon, lat = feature["geometry"]["coordinates"][:2]
            rows.append({**feature["properties"], "longitude": lon, "latitude": lat,
                         "file": path.name})
    frame = pd.DataFrame(rows)
    frame = frame.astype({c: "string" for c in frame.columns if c not in ("latitude",
                                                                          "longitude")})
    return frame.rename(columns={"chargedeviceid": "chargeDeviceID"})


def read_ncr2022(raw_dir: Path) -> tuple[pd.DataFrame, int]:
    """The 2022 London registry, one row per device, and how many rows were unusable."""
    raw = _ncr2022_records(raw_dir)
    ok = _valid_ncr(raw).drop_duplicates("chargeDeviceID")
    kw = ok[[f"connector{i}ratedoutputkw" for i in range(1, 9) if
             f"connector{i}ratedoutputkw" in ok]].apply(pd.to_numeric, errors="coerce")
    types = ok[[f"connector{i}type" for i in range(1, 9) if f"connector{i}type" in ok]]
    name = _clean_text(ok["name"])
    location_type = _clean_text(ok["locationtype"])
    frame = pd.DataFrame({
        "device_id": ok["chargeDeviceID"], "reference": _clean_text(ok["reference"]),
        # A bare id is no name: left empty so that a matched location may name the device.
        "name": name.where(~name.fillna("").map(is_uninformative)),
        "lon": ok["lon"], "lat": ok["lat"], "swapped": ok["coordinates_swapped"],
        "max_kw": kw.max(axis=1).where(lambda v: v > 0),
        "connectors": types.notna().sum(axis=1).astype("Int64").replace(0, pd.NA),
        "operator": _operator(ok["devicecontrollername"]).fillna(
            _operator(ok["deviceownername"])),
        "owner": _operator(ok["deviceownername"]),
        "on_street": _on_street(ok["onstreetflag"], location_type),
        "location_type": location_type,
        "installed": pd.to_datetime(ok["datecreated"], errors="coerce"),
        "status": ok["chargedevicestatus"].map(STATUS),
    })
    return frame.reset_index(drop=True), len(raw) - len(ok)


def read_ncr2020(raw_dir: Path) -> tuple[pd.DataFrame, int]:
    """The 2020 registry (device_id, reference, name, lon, lat, status) and how many rows were
    unusable (malformed or without coordinates)."""
    raw = pd.read_csv(Path(raw_dir) / NCR2020_FILE, dtype=str)
    ok = _valid_ncr(raw)
    frame = pd.DataFrame({
        "device_id": ok["chargeDeviceID"], "reference": _clean_text(ok["reference"]),
        "name": _clean_text(ok["name"]), "lon": ok["lon"], "lat": ok["lat"],
        "swapped": ok["coordinates_swapped"], "status": ok["chargeDeviceStatus"].map(STATUS),
    })
    return frame.reset_index(drop=True), len(raw) - len(ok)


def read_ncr2017(raw_dir: Path) -> pd.DataFrame:
    """The 2017 registry: identity, place and the fields the 2020 registry lacks."""
    raw = _valid_ncr(pd.read_csv(Path(raw_dir) / NCR2017_FILE, dtype=str))
    kw = raw[[f"connector{i}RatedOutputKW" for i in range(1, 9)]].apply(
        pd.to_numeric, errors="coerce")
    types = raw[[f"connector{i}Type" for i in range(1, 9)]]
    frame = pd.DataFrame({
        "device_id": raw["chargeDeviceID"], "reference": _clean_text(raw["reference"]),
        "name": _clean_text(raw["name"]), "lon": raw["lon"], "lat": raw["lat"],
        "swapped": raw["coordinates_swapped"], "max_kw": kw.max(axis=1).where(lambda s: s > 0),
        "connectors": types.notna().sum(axis=1).astype("Int64").replace(0, pd.NA),
        "operator": _operator(raw["deviceControllerName"]).fillna(
            _operator(raw["deviceOwnerName"])),
        "on_street": _on_street(raw["onStreetFlag"], raw["locationType"]),
        "installed": pd.to_datetime(raw["dateCreated"], errors="coerce"),
        "status": raw["chargeDeviceStatus"].map(STATUS),
    })
    return frame.reset_index(drop=True)


def read_created(raw_dir: Path) -> pd.DataFrame:
    """The 2017-2020 London extract: date created and location type (its GSS_CODE column holds
    postcodes and is not used). It has no device name, so the postcode and town stand in."""
    raw = _valid_ncr(pd.read_csv(Path(raw_dir) / CREATED_FILE, dtype=str))
    label = (_clean_text(raw["postcode"]).fillna("") + " " + _clean_text(raw["town"]).fillna(""))
    frame = pd.DataFrame({
        "device_id": raw["chargeDeviceID"], "reference": pd.Series(pd.NA, index=raw.index,
                                                                   dtype="string"),
        "name": _clean_text(label), "lon": raw["lon"], "lat": raw["lat"],
        "swapped": raw["coordinates_swapped"], "on_street": _on_street(None, raw["locationType"]),
        "installed": pd.to_datetime(raw["dateCreated"], errors="coerce"),
        "status": raw["chargeDeviceStatus"].map(STATUS),
    })
    return frame.reset_index(drop=True)


def read_ocm(raw_dir: Path) -> pd.DataFrame:
    """Open Charge Map locations: one row per location (``site_id`` = ``ocm-<Place_ID>``)."""
    raw = pd.read_csv(Path(raw_dir) / OCM_FILE, dtype={"Place_ID": str})
    name = _clean_text(raw["Location_Name"])
    address = _clean_text(raw["Address"])
    street = address.str.split(",").str[0]
    return pd.DataFrame({
        "site_id": SITE_PREFIX["ocm2025"] + raw["Place_ID"].str.strip(),
        "name": name.where(~name.fillna("").map(is_uninformative), street).fillna(name),
        "address": address,
        "lon": raw["Longitude"].astype(float), "lat": raw["Latitude"].astype(float),
        "max_kw": raw["Max_Power_kW"].astype(float).where(lambda s: s > 0),
        "min_kw": raw["Min_Power_kW"].astype(float).where(lambda s: s > 0),
        "connectors": raw["Number_of_Connectors"].astype("Int64"),
        "operator": _operator(raw["Operator"]),
        "public": raw["Usage"].astype(str).str.startswith("Public"),
        "status": raw["Bussiness_Status"].map(STATUS),
    })


def read_lewisham(raw_dir: Path) -> pd.DataFrame:
    """Lewisham's locations: the file has one feature per connector type, grouped here into one
    row per location. Its ``points`` is per location and its per-type quantities are not given,
    so no connector count is taken from it."""
    raw = gpd.read_file(Path(raw_dir) / LEWISHAM_FILE)
    raw = pd.DataFrame(raw.drop(columns="geometry")).assign(
        lon=raw.geometry.x, lat=raw.geometry.y, kW=pd.to_numeric(raw["kW"], errors="coerce"))
    sites = raw.groupby(["name", "address", "lon", "lat"], sort=True, dropna=False).agg(
        postcode=("postcode", "first"), operator=("operator", "first"),
        max_kw=("kW", "max"), min_kw=("kW", "min")).reset_index()
    slug = sites["name"].str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    if slug.duplicated().any():
        slug = slug + "-" + sites["postcode"].str.lower().str.replace(r"[^a-z0-9]+", "",
                                                                      regex=True)
    return pd.DataFrame({
        "site_id": SITE_PREFIX["lewisham2022"] + slug,
        "name": _clean_text(sites["name"]),
        "address": _clean_text(sites["address"] + ", " + sites["postcode"].fillna("")),
        "lon": sites["lon"], "lat": sites["lat"],
        "max_kw": sites["max_kw"].where(lambda s: s > 0),
        "min_kw": sites["min_kw"].where(lambda s: s > 0),
        "connectors": pd.array([pd.NA] * len(sites), dtype="Int64"),
        "operator": _operator(sites["operator"]),
        "public": True,
        "status": pd.Series([pd.NA] * len(sites), dtype="string"),
    })


# Combining sources ----------------------------------------------------------------------------
def new_devices(frame: pd.DataFrame, tag: str) -> pd.DataFrame:
    """Device rows (indexed by device id) first seen in source ``tag``: place, reference and the
    fields it gives, each field marked as coming from ``tag``."""
    rows = frame.set_index("device_id")
    out = rows[[c for c in PLACE_COLUMNS if c in rows]].copy()
    out["sources"] = [frozenset({tag})] * len(out)
    return apply_source(out, rows, tag)


def apply_source(devices: pd.DataFrame, values: pd.DataFrame, tag: str) -> pd.DataFrame:
    """Take each field of ``values`` (indexed by device id) where it has a value and ``tag`` is
    newer than the source of the value already held; add ``tag`` to the devices' sources."""
    out = devices.copy()
    rank = RANK[tag]
    values = values[values.index.isin(out.index)]
    for field in FIELDS:
        if field not in values:
            continue
        src_col = f"src_{field}"
        if field not in out:
            out[field] = values[field].iloc[:0].reindex(out.index)
            out[src_col] = pd.Series(None, index=out.index, dtype=object)
        incoming = values[field].reindex(out.index)
        take = incoming.notna() & (out[src_col].map(RANK).fillna(0) < rank)
        out.loc[take, field] = incoming[take]
        out.loc[take, src_col] = tag
    touched = out.index.isin(values.index)
    out.loc[touched, "sources"] = out.loc[touched, "sources"].map(lambda s: s | {tag})
    return out


def _resolve_ids(frame: pd.DataFrame, base: pd.DataFrame) -> pd.Series:
    """Each row's device id in ``base``: its own id when ``base`` lists it, else the id of the
    ``base`` device with the same reference (when that reference is unique there), else NA."""
    by_reference = pd.Series(base["device_id"].to_numpy(), index=base["reference"])
    by_reference = by_reference[by_reference.index.notna() & ~by_reference.index.duplicated(
        keep=False)]
    ids = frame["device_id"].where(frame["device_id"].isin(base["device_id"]))
    via_reference = by_reference.reindex(frame["reference"]).to_numpy()
    return ids.fillna(pd.Series(via_reference, index=frame.index, dtype=object)).astype(object)


def registry_devices(raw_dir: Path) -> tuple[pd.DataFrame, dict]:
    """The 2022 London registry as one row per device id, with the tags of the older snapshots
    that list the same device (by id, else by reference). Older records absent in 2022 are
    left out (counted)."""
    ncr2022, unusable = read_ncr2022(raw_dir)
    devices = new_devices(ncr2022, "ncr2022")
    counts = {"ncr2022_devices": len(ncr2022), "ncr2022_unusable_rows": unusable}
    older = {"ncr2020": read_ncr2020(raw_dir)[0], "ncrcreated": read_created(raw_dir),
             "ncr2017": read_ncr2017(raw_dir)}
    for tag in OLDER_NCR:
        frame = older[tag]
        ids = _resolve_ids(frame, ncr2022)
        found = ids.dropna().drop_duplicates()
        devices = apply_source(devices, pd.DataFrame(index=pd.Index(found, name="device_id")),
                               tag)
        london = in_london_box(frame["lon"], frame["lat"])
        counts[f"{tag}_in_2022"] = len(found)
        counts[f"{tag}_near_london_not_in_2022_left_out"] = int((london & ids.isna()).sum())
    return devices, counts


def in_london_box(lon: pd.Series, lat: pd.Series) -> pd.Series:
    """A cheap first cut before the spatial join: inside ``LONDON_BOX``."""
    west, south, east, north = LONDON_BOX
    return lon.between(west, east) & lat.between(south, north)


def assign(frame: pd.DataFrame, layers_dir: Path) -> pd.DataFrame:
    """``frame`` restricted to London, with ``borough_code``, ``ward2022_code``,
    ``ward2011_code`` from ``layers.spatial.assign_points``."""
    frame = frame[in_london_box(frame["lon"], frame["lat"])]
    codes = assign_points(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float), layers_dir)
    codes.index = frame.index
    frame = frame.join(codes)
    return frame[frame["borough_code"].notna()]


def attach_sites(devices: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """Which site each device belongs to.

    Closest compatible pairs are matched one to one first; a device left over then joins the
    closest matched site it is compatible with (a car park listed once in Open Charge Map but
    device by device in the registry). Returns ``device_id``, ``right`` (site position),
    ``distance_m`` and ``n_devices`` (devices linked to that site).
    """
    left = keyed(devices.reset_index())
    right = keyed(sites)
    pairs = candidate_pairs(left, right)
    primary = one_to_one(pairs)
    rest = pairs[~pairs["left"].isin(primary["left"]) & pairs["right"].isin(primary["right"])]
    secondary = rest.drop_duplicates("left")
    links = pd.concat([primary, secondary], ignore_index=True)
    links["device_id"] = left["device_id"].iloc[links["left"]].to_numpy()
    links["n_devices"] = links.groupby("right")["left"].transform("size")
    return links


def site_values(devices: pd.DataFrame, sites: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """The fields a site gives to each linked device (indexed by device id).

    Power goes to a device when the site is that device alone or all its connectors share one
    rating; the connector count only when the site is that device alone; the operator and status
    always; the name only where the registry name is a bare id and the site is that device alone.
    """
    site = sites.iloc[links["right"]].reset_index(drop=True)
    alone = (links["n_devices"] == 1).to_numpy()
    uniform = (site["min_kw"] == site["max_kw"]).fillna(False).to_numpy()
    registry_name = devices["name"].reindex(links["device_id"]).fillna("").to_numpy()
    bare = np.array([is_uninformative(n) for n in registry_name], bool)
    values = pd.DataFrame({
        "max_kw": site["max_kw"].where(alone | uniform),
        "connectors": site["connectors"].where(alone),
        "operator": site["operator"],
        "status": site["status"],
        "name": site["name"].where(alone & bare),
    })
    values.index = pd.Index(links["device_id"].to_numpy(), name="device_id")
    return values


def enrich_from_sites(devices: pd.DataFrame, sites: pd.DataFrame, tag: str
                      ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Enrich ``devices`` from the London ``sites`` of source ``tag``; returns the devices, the
    sites at no device's place, and counts.

    Whether a site is at a device's place is judged after the enrichment, against the devices'
    new names, so that a second Open Charge Map entry for a lamp post whose registry name is a
    bare id is recognised by the name the first entry gave it.
    """
    sites = sites.reset_index(drop=True)
    links = attach_sites(devices, sites)
    values = site_values(devices, sites, links)
    devices = apply_source(devices, values, tag)
    near_device = set(candidate_pairs(keyed(sites), keyed(devices.reset_index()))["left"])
    unmatched = sites[~sites.index.isin(near_device)]
    counts = {
        f"{tag}_sites_matched": int(links["right"].nunique()),
        f"{tag}_devices_enriched": len(links),
        f"{tag}_sites_at_matched_place": len(near_device) - int(links["right"].nunique()),
        f"{tag}_sites_unmatched": len(unmatched),
    }
    return devices, unmatched, counts


def add_sites(devices: pd.DataFrame, sites: pd.DataFrame, tag: str
              ) -> tuple[pd.DataFrame, dict]:
    """Unmatched public sites not closed or planned become devices (one row per site).

    A site that is the same place as another (``drop_duplicate_places``) is added once.
    """
    usable = sites[sites["public"] & ~sites["status"].isin(CLOSED).fillna(False)]
    unique = drop_duplicate_places(usable.sort_values("site_id"))
    rows = unique.rename(columns={"site_id": "device_id"}).assign(reference=pd.NA)
    devices = pd.concat([devices, new_devices(rows, tag)])
    counts = {
        f"{tag}_added": len(unique),
        f"{tag}_not_added_private_or_closed": len(sites) - len(usable),
        f"{tag}_not_added_repeated": len(usable) - len(unique),
    }
    return devices, counts


# Output ---------------------------------------------------------------------------------------
def licence_note(row: pd.Series) -> str | None:
    """Which fields of a device come from a CC BY-SA source, e.g. "power, operator from Open
    Charge Map (CC BY-SA 4.0)"; None when every field is under the OGL."""
    notes = []
    for tag, credit in CC_BY_SA.items():
        fields = [label for field, label in LICENCE_FIELD_LABEL.items()
                  if row.get(f"src_{field}") == tag]
        if row.name.startswith(SITE_PREFIX[tag]):
            notes.append(f"all fields from {credit}")
        elif fields:
            notes.append(f"{', '.join(fields)} from {credit}")
    return "; ".join(notes) or None


def finalise(devices: pd.DataFrame) -> pd.DataFrame:
    """The output table: contract columns plus ``EXTRA_COLUMNS``, by device id."""
    out = devices.sort_index()
    notes = [licence_note(row) for _, row in out.iterrows()]
    out = out.reset_index()
    fallback = "Charge point " + out["reference"].astype("string").fillna(
        out["device_id"].str[:8])
    table = pd.DataFrame({
        "device_id": out["device_id"].astype(str),
        "name": out["name"].astype("string").fillna(fallback).astype(str),
        "lat": out["lat"].astype(float).round(6),
        "lon": out["lon"].astype(float).round(6),
        **{c: out[c].astype(str) for c in CODE_COLUMNS},
        "max_kw": out["max_kw"].astype(float),
        "speed_class": out["max_kw"].astype(float).map(schema.speed_class),
        "connectors": out["connectors"].astype("Int64"),
        "operator": out["operator"].astype("string").fillna("Unknown").astype(str),
        "on_street": out["on_street"].astype("boolean"),
        "installed": pd.to_datetime(out["installed"]).astype("datetime64[ms]"),
        "source": out["sources"].map(lambda s: "+".join(t for t in SOURCE_ORDER if t in s)),
        "status": out["status"].astype("string").fillna("unknown").astype(str),
        "licence_note": pd.Series(notes, dtype="str"),
        "owner": out["owner"].astype("string").fillna("Unknown").astype(str),
        "location_type": out["location_type"].astype("string").fillna(NO_LOCATION_TYPE)
        .astype(str),
    })
    return table[list(OUTPUT_COLUMNS)]


ARROW_SCHEMA = pa.schema([
    ("device_id", pa.string()), ("name", pa.string()), ("lat", pa.float64()),
    ("lon", pa.float64()), ("borough_code", pa.string()), ("ward2022_code", pa.string()),
    ("ward2011_code", pa.string()), ("max_kw", pa.float64()), ("speed_class", pa.string()),
    ("connectors", pa.int64()), ("operator", pa.string()), ("on_street", pa.bool_()),
    ("installed", pa.timestamp("ms")), ("source", pa.string()), ("status", pa.string()),
    ("licence_note", pa.string()), ("owner", pa.string()), ("location_type", pa.string()),
])


def write(table: pd.DataFrame, out_dir: Path) -> Path:
    """Write the table as zstd Parquet; the same table always gives the same bytes."""
    path = schema.chargepoints_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrow = pa.Table.from_pandas(table, schema=ARROW_SCHEMA, preserve_index=False)
    pq.write_table(arrow, path, compression="zstd")
    return path


# Entry points ---------------------------------------------------------------------------------
def _origin(sources: pd.Series) -> pd.Series:
    """The first source, in ``SOURCE_ORDER``, that lists each device."""
    return sources.map(lambda s: next(t for t in SOURCE_ORDER if t in s))


def build(raw_dir: Path, out_dir: Path, layers_dir: Path | None = None) -> dict:
    """Build ``out_dir/chargepoints.parquet``; returns counts for each step.

    The boundary layers are read from ``layers_dir`` (default ``out_dir``), under ``layers/``.
    """
    layers_dir = Path(out_dir if layers_dir is None else layers_dir)
    devices, counts = registry_devices(raw_dir)
    origin_all = _origin(devices["sources"]).value_counts()
    devices = assign(devices, layers_dir)
    origin_london = _origin(devices["sources"]).value_counts()
    for tag, total in origin_all.items():
        counts[f"{tag}_first_in_london"] = int(origin_london.get(tag, 0))
        counts[f"{tag}_first_outside_london_dropped"] = int(total - origin_london.get(tag, 0))

    for tag, reader in (("ocm2025", read_ocm), ("lewisham2022", read_lewisham)):
        sites = reader(raw_dir)
        london = assign(sites, layers_dir)
        counts[f"{tag}_sites"] = len(sites)
        counts[f"{tag}_sites_outside_london_dropped"] = len(sites) - len(london)
        devices, unmatched, step = enrich_from_sites(devices, london, tag)
        counts.update(step)
        devices, step = add_sites(devices, unmatched, tag)
        counts.update(step)

    table = finalise(devices)
    path = write(table, out_dir)
    speed = table["speed_class"].value_counts()
    counts.update({
        "devices": len(table),
        "by_source": {k: int(v) for k, v in table["source"].value_counts().sort_index().items()},
        "by_status": {k: int(v) for k, v in table["status"].value_counts().sort_index().items()},
        "speed_class": {c: int(speed.get(c, 0)) for c in schema.SPEED_CLASSES},
        "unknown_power_share": round(float(speed.get("unknown", 0)) / len(table), 3),
        "with_licence_note": int(table["licence_note"].notna().sum()),
        "parquet_kb": round(path.stat().st_size / 1024, 1),
    })
    return counts


def dataset_rows() -> list[dict]:
    """Source-manifest rows for the six charge-point datasets this module reads."""
    ogl = "Contains public sector information licensed under the Open Government Licence v3.0."
    ncr_url = ("https://www.gov.uk/guidance/"
               "find-and-use-data-on-public-electric-vehicle-chargepoints")
    publisher = "Department for Transport / Office for Zero Emission Vehicles"
    return [
        {
            "dataset_id": "dft-ncr-london-2022-02",
            "title": "National Chargepoint Registry (February 2022, London)",
            "publisher": publisher, "licence": "OGL v3.0", "attribution": ogl,
            "period": "Devices created June 2012 to February 2022",
            "geography": "Charge devices, London (point locations)",
            "official_url": ncr_url, "raw_folder": NCR2022_DIR,
            "used_for": "The base list of London charge devices: location, rated output of each "
                        "connector (speed from the highest), operator, owner, status, on-street "
                        "flag, location type and date created",
            "method_notes": (
                "One file per borough, combined; each device assigned to a borough and wards "
                f"by its point (the nearest borough within {NEAREST_M:g} m for the Thames edge), "
                "not by the file it came in. Speed band from the highest connector rating "
                "(DfT bands: slow under 8 kW, fast 8 to 49, rapid 50 to 149, ultra-rapid 150 "
                "and over). Bare-id names are left for a matched Open Charge Map location to "
                "name; otherwise every field is the registry's."),
        },
        {
            "dataset_id": "dft-ncr-2020-11",
            "title": "National Chargepoint Registry (November 2020 extract)",
            "publisher": publisher, "licence": "OGL v3.0", "attribution": ogl,
            "period": "November 2020", "geography": "Charge devices, UK (point locations)",
            "official_url": ncr_url, "raw_folder": "ev/dft-ncr-2020-11",
            "used_for": "Provenance only: which 2022 devices the 2020 registry already listed",
            "method_notes": (
                "Joined to the 2022 registry on device id, else on a reference unique in 2022 "
                "(rows with latitude and longitude swapped are swapped back first). A 2020 "
                "device absent from the 2022 registry was most likely removed or registered "
                "again under a new id: it is not on the map."),
        },
        {
            "dataset_id": "dft-ncr-2017-11",
            "title": "National Chargepoint Registry (November 2017 extract, full schema)",
            "publisher": publisher, "licence": "OGL v3.0", "attribution": ogl,
            "period": "November 2017", "geography": "Charge devices, UK (point locations)",
            "official_url": ncr_url, "raw_folder": "ev/dft-ncr-2017-11",
            "used_for": "Provenance only: which 2022 devices the 2017 registry already listed",
            "method_notes": (
                "Joined to the 2022 registry as the 2020 extract is. 2017 devices absent in "
                "2022 (among them Source London's 2014 records, registered again under new "
                "ids) are not on the map."),
        },
        {
            "dataset_id": "dft-ncr-london-2017-2020-created",
            "title": "National Chargepoint Registry: London devices created 2017 to 2020",
            "publisher": publisher, "licence": "OGL v3.0", "attribution": ogl,
            "period": "October 2017 to December 2020", "geography": "Charge devices, London",
            "official_url": ncr_url, "raw_folder": "ev/dft-ncr-london-2017-2020-created",
            "used_for": "Provenance only: which 2022 devices this extract already listed",
            "method_notes": (
                "Joined on device id. Its GSS_CODE column holds postcodes and is ignored. "
                "Devices it lists that are absent in 2022 are not on the map."),
        },
        {
            "dataset_id": "open-charge-map-central-london-2025",
            "title": "Open Charge Map: central London charging locations",
            "publisher": "Open Charge Map", "licence": "CC BY-SA 4.0",
            "attribution": "Open Charge Map contributors (openchargemap.org), CC BY-SA 4.0",
            "period": "November 2025",
            "geography": "Charging locations, central London (lat 51.48-51.55, lon -0.20 to "
                         "-0.02)",
            "official_url": "https://openchargemap.org/site",
            "raw_folder": "ev/open-charge-map-central-london-2025",
            "used_for": "Public locations not in the 2022 registry (newer devices) added as "
                        "devices, with their power, connectors, operator and status; names of "
                        "registry devices listed by a bare id",
            "method_notes": (
                "Matched to registry devices by place and name: within 2 m whatever the names, "
                "within 25 m when the names share a distinctive word and no conflicting number, "
                "within 50 m when the names are the same. A matched location only fills what "
                "the registry leaves empty. Public locations that are not closed or planned and "
                "match no device are added, one row per location, rated at the location's "
                "highest power. Fields taken are shared under CC BY-SA 4.0 and named in each "
                "device's licence_note."),
        },
        {
            "dataset_id": "lewisham-ev-charging-2022",
            "title": "LB Lewisham electric vehicle charging locations",
            "publisher": "London Borough of Lewisham",
            "licence": "CC BY-SA 4.0 (declared OGL v3.0; fields are Open Charge Map-derived)",
            "attribution": "London Borough of Lewisham; Open Charge Map contributors, "
                           "CC BY-SA 4.0",
            "period": "March 2022", "geography": "Charging locations, Lewisham",
            "official_url": "https://lewisham.gov.uk/myservices/roads-and-transport/"
                            "sustainable-transport/our-long-term-strategy-for-low-emission-"
                            "vehicles",
            "raw_folder": "ev/lewisham-2022",
            "used_for": "Locations not otherwise listed added as devices",
            "method_notes": (
                "One feature per connector type, grouped into one row per location. Matched and "
                "added by the same rules as Open Charge Map, after it."),
        },
    ]
