"""What the device table covers, said beside DfT's count for the same area.

The map's devices come from the National Chargepoint Registry as it stood in February 2022 and
two location lists; DfT's statistics count every public device registered by 2024. The two
differ by design, so wherever devices are counted the page says both, and where each comes from.
"""
from __future__ import annotations

from dashboard.views.ev import model as ev
from dashboard.domain import filters
from dashboard.domain.state import FilterState, Known
from dashboard.domain.text import NO_DATA, fmt_number

DEVICE_SOURCES = ("the registry to February 2022, Open Charge Map central London 2025, "
                  "Lewisham 2022")


def sentence(on_map: int, place: str, dft: float | None, dft_area: str,
             year: str = ev.DFT_YEAR) -> str:
    """ "N devices on the map in <place> (sources); DfT counted M public devices in <area> in
    <year>." The DfT half says so when the figure is missing."""
    devices = f"{fmt_number(on_map)} device{'' if on_map == 1 else 's'}"
    first = f"{devices} on the map in {place} ({DEVICE_SOURCES})"
    if dft is None:
        return f"{first}; DfT publishes no count of public devices for {dft_area}."
    return f"{first}; DfT counted {fmt_number(dft)} public devices in {dft_area} in {year}."


def area_devices(store, state: FilterState) -> int:
    """Devices on the map in the area in view, whatever the speed and operator filters (DfT
    counts every speed and operator)."""
    return len(store.devices(borough=state.borough, ward=state.ward, ward_layer=state.ward_layer))


def for_state(store, state: FilterState, known: Known, layers) -> str:
    """The coverage sentence for the area in view (London, a borough or a ward)."""
    layer, code, dft_area = ev.area_key(state, known, layers)
    dft = ev.dft_value(store, "ev_public_devices", layer, code, ev.DFT_YEAR)
    return sentence(area_devices(store, state), filters.place_name(state, known), dft, dft_area)


__all__ = ["DEVICE_SOURCES", "NO_DATA", "area_devices", "for_state", "sentence"]
