"""The processed data contract: file names and columns of everything under ``data/``.

The pipeline writes these files, the store reads them, and tests check them against this module.
"""
from __future__ import annotations

from pathlib import Path

LONDON_CODE = "E12000007"
LONDON_NAME = "London"
CITY_CODE = "E09000001"  # City of London: one statistical unit in every source we use

# Boundary layers ---------------------------------------------------------------------------------
LAYERS = ("borough", "ward2022", "ward2011")
DEFAULT_WARD_LAYER = "ward2022"
# code: GSS code of the area; stat_code: the unit its statistics are reported under. The 25 City of
# London wards of 2022 report under the City (E09000001); every other area reports under itself.
LAYER_COLUMNS = ("code", "name", "borough_code", "borough_name", "area_km2", "stat_code", "geometry")


def layer_path(data_dir: Path, layer: str) -> Path:
    return Path(data_dir) / "layers" / f"{layer}.parquet"


def web_layer_path(data_dir: Path, layer: str) -> Path:
    # Served as application/json so that compression applies (see dashboard.core.app).
    return Path(data_dir) / "web" / f"{layer}.json"


def extents_path(data_dir: Path) -> Path:
    """Bounding box and an inside point per area of every layer (layer, code, west, south, east,
    north, lon, lat)."""
    return Path(data_dir) / "layers" / "extents.csv"


SIMILAR_COLUMNS = ("layer", "code", "rank", "neighbour", "distance", "close", "features")


def similar_wards_path(data_dir: Path) -> Path:
    """The ten most similar wards of every ward unit, within its vintage (layer, code, rank,
    neighbour, distance, close, features; see ``dashboard.pipeline.similar``)."""
    return Path(data_dir) / "similar_wards.csv"


def overlaps_path(data_dir: Path) -> Path:
    """Which 2022 and 2011 wards overlap, and by how much (see ``layers.overlap``)."""
    return Path(data_dir) / "layers" / "ward_overlaps.csv"


# Charge points -----------------------------------------------------------------------------------
SPEED_CLASSES = ("slow", "fast", "rapid", "ultra", "unknown")
SPEED_LABELS = {
    "slow": "Slow (under 8 kW)",
    "fast": "Fast (8 to 49 kW)",
    "rapid": "Rapid (50 to 149 kW)",
    "ultra": "Ultra-rapid (150 kW and over)",
    "unknown": "Power not published",
}
CHARGEPOINT_COLUMNS = (
    "device_id", "name", "lat", "lon", "borough_code", "ward2022_code", "ward2011_code",
    "max_kw", "speed_class", "connectors", "operator", "on_street", "installed", "source",
)


# Device filters beyond place, speed and operator: (field of the filter states, text column the
# store derives in its device table, URL parameter). Empty selections mean all devices.
DEVICE_FILTERS = (
    ("statuses", "status_id", "status"),
    ("streets", "street", "street"),
    ("location_types", "location_type", "type"),
    ("years", "install_year", "year"),
)
STATUS_CHOICES = {"in-service": "In service", "out-of-service": "Out of service"}
STREET_CHOICES = {"on-street": "On-street", "off-street": "Off-street"}
NOT_PUBLISHED = "unknown"  # the derived columns' value where the source gives none


def speed_class(max_kw: float | None) -> str:
    """DfT power bands from the maximum rated kW; ``unknown`` when no source gives a rating."""
    if max_kw is None or max_kw != max_kw or max_kw <= 0:  # None, NaN, 0 or negative
        return "unknown"
    if max_kw < 8:
        return "slow"
    if max_kw < 50:
        return "fast"
    if max_kw < 150:
        return "rapid"
    return "ultra"


def chargepoints_path(data_dir: Path) -> Path:
    return Path(data_dir) / "chargepoints.parquet"


# Indicators --------------------------------------------------------------------------------------
INDICATOR_COLUMNS = ("layer", "code", "indicator_id", "period", "value")
# layer is one of LAYERS or "london" (code LONDON_CODE). period is text: "2021", "2024-03", "2024Q2",
# "2019", "2013" ... The catalogue says which format each indicator uses.
CATALOGUE_COLUMNS = (
    "indicator_id", "title", "theme", "unit", "polarity", "definition", "source", "licence",
    "period_label", "layer", "method", "kind", "default_period", "decimals",
)
THEMES = (
    "People", "Health and disability", "Deprivation", "Housing", "Work and income",
    "Transport and EV", "Crime", "Environment", "Education", "Democracy",
)


def indicators_path(data_dir: Path) -> Path:
    return Path(data_dir) / "indicators.parquet"


def catalogue_path(data_dir: Path) -> Path:
    return Path(data_dir) / "catalogue.csv"


def datasets_path(data_dir: Path) -> Path:
    """Source manifest: one row per dataset used, with publisher, licence, attribution, period."""
    return Path(data_dir) / "datasets.csv"


DATASET_COLUMNS = (
    "dataset_id", "title", "publisher", "licence", "attribution", "period", "geography",
    "official_url", "raw_folder", "used_for", "method_notes",
)

# Sessions ----------------------------------------------------------------------------------------
SESSION_COLUMNS = ("session_id", "device_id", "start", "end", "kwh", "simulated")


def reference_sessions_path(data_dir: Path) -> Path:
    """Real Dundee and Perth sessions, cleaned into the session schema (the simulation's source)."""
    return Path(data_dir) / "reference_sessions.parquet"


def required_files(data_dir: Path) -> list[Path]:
    """The processed files every page needs: without one of them a page would be blank."""
    data_dir = Path(data_dir)
    return [chargepoints_path(data_dir), reference_sessions_path(data_dir),
            indicators_path(data_dir), catalogue_path(data_dir), datasets_path(data_dir),
            extents_path(data_dir), *(layer_path(data_dir, layer) for layer in LAYERS),
            *(web_layer_path(data_dir, layer) for layer in LAYERS)]


def missing_files(data_dir: Path) -> list[str]:
    """The required files absent from ``data_dir``, as paths relative to it."""
    return [str(path.relative_to(data_dir)) for path in required_files(data_dir)
            if not path.is_file()]
