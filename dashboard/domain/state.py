"""URL-driven filter state: what a page shows, read from and written back to the query string.

Every page reads its filters from the URL through :func:`parse`, which validates each value against
the processed data (a :class:`Known`) and never fails: anything it cannot use is dropped or
adjusted, logged, and explained in a plain-English :class:`Message` for the page to show. Pages
write a changed state back to the URL with :func:`to_query`, so every view has a link that
reopens it; ``parse(to_query(state))`` gives the same state back.

Query parameters (all optional; lists are comma-separated)::

    borough   E09 code (or the borough's name); absent = all of London
    ward      ward code in the chosen boundaries
    layer     ward boundaries: ward2022 (default) or ward2011
    from, to  first and last month, YYYY-MM
    speed     charger speed classes, e.g. rapid,ultra; absent = all speeds
    operator  operator names; absent = all operators
    status    in-service, out-of-service (the registry's status); absent = any status
    street    on-street, off-street; absent = both (and devices whose place is not published)
    type      the registry's location types ("Public car park", "Retail car park", ...)
    year      install years (from the registry's date created), e.g. 2021,2022
    indicator indicator id
    measure   what the map colours areas by (ids the caller lists in Known.measures)
    compare   a second ward, in the same boundaries, to show beside the first

How ambiguous links are read (the kinder choice each time):

* Codes and names are matched ignoring case and surrounding spaces.
* A blank value means "none" (``borough=`` is London, ``speed=`` all speeds) where the field can be
  empty, and the default elsewhere (``from=``, ``layer=``).
* A ward wins over a borough: the borough follows the ward's borough, with a note when the link
  named a different borough.
* A ward code from the other boundary vintage switches the boundaries to that vintage.
* An unknown ward leaves the borough (or London) in view; an unknown borough shows London.
* Months that cannot be read fall back to the default; reversed months are swapped; months outside
  the data are moved to its first or last month; a range wholly outside the data is replaced by the
  default period.
* Unknown speeds, operators, statuses, street values, location types and years are left out of
  the selection; the rest still apply. Choosing any of the last four leaves out devices whose
  source does not say (Open Charge Map locations have no install year or location type).
* A parameter given twice uses its first value (list parameters combine all their values).
* Unknown parameters are ignored silently (links often carry tracking parameters).
* A value over ``MAX_VALUE_CHARS`` is ignored; a query over ``MAX_QUERY_CHARS`` is ignored whole.

Messages and logs never repeat a rejected value raw: they quote a short excerpt with anything but
letters, digits and a little plain punctuation removed.
"""
from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Any, Callable, Iterable, Literal, Mapping, NamedTuple, Sequence
from urllib.parse import parse_qsl, quote

from dashboard.data.schema import (DEFAULT_WARD_LAYER, DEVICE_FILTERS, LONDON_CODE, LONDON_NAME,
    SPEED_CLASSES, STATUS_CHOICES, STREET_CHOICES)
from dashboard.domain.text import fmt_month, fmt_period, join_and

__all__ = [
    "FilterState", "KEEP", "Known", "Message", "WARD_LAYERS", "Ward", "excerpt", "narrow", "parse",
    "chosen_month", "read_choice", "read_single", "to_query", "to_search",
]

logger = logging.getLogger(__name__)

WARD_LAYERS = ("ward2022", "ward2011")
LAYER_LABELS = {"ward2022": "2022 ward boundaries", "ward2011": "2011 ward boundaries"}
MAX_VALUE_CHARS = 200
MAX_QUERY_CHARS = 2000
EXCERPT_CHARS = 24
MAX_QUOTED = 3  # rejected list items quoted in one message; the rest are counted

_MONTH = re.compile(r"(\d{4})[-/](\d{1,2})", re.ASCII)  # as links may write it
_CANONICAL_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])", re.ASCII)  # as states hold it
_EXCERPT_KEEP = frozenset(" -_.&")


# State -------------------------------------------------------------------------------------------

def _check_month(value: str, name: str) -> None:
    """Raise ValueError unless ``value`` is a well-formed ``YYYY-MM`` month."""
    if not isinstance(value, str) or not _CANONICAL_MONTH.fullmatch(value):
        raise ValueError(f"{name} must be a month written YYYY-MM, not {value!r}")


def _as_tuple(values: Iterable[str] | str) -> tuple[str, ...]:
    """A single string as a one-item tuple, any other iterable as a tuple without repeats."""
    return (values,) if isinstance(values, str) else tuple(set(values))


def _speed_order(speed: str) -> tuple[int, str]:
    """Sort key putting speed classes in schema order (slow to ultra, then unknown)."""
    rank = SPEED_CLASSES.index(speed) if speed in SPEED_CLASSES else len(SPEED_CLASSES)
    return rank, speed


def _operator_order(name: str) -> tuple[str, str]:
    """Sort key putting operator names in alphabetical order, ignoring case."""
    return name.casefold(), name


@dataclass(frozen=True, kw_only=True)
class FilterState:
    """The filters of one view. Frozen and hashable, so it can key caches.

    ``borough`` None means all of London and ``ward`` None means the whole borough (or London).
    Empty ``speeds`` or ``operators`` mean all of them. Lists given as any iterable are stored as
    tuples in a canonical order (speed classes in schema order, operators alphabetically, no
    repeats), so two states that filter the same way compare equal. ``measure`` and ``compare``
    are optional extras for pages with a map measure picker or a two-ward comparison; pages that
    do not use them leave them None.

    A state made by :func:`parse` or :func:`narrow` also satisfies the data: codes exist, the
    borough is the ward's borough, ``compare`` is in ``ward_layer`` and months lie within the data.
    """

    date_from: str
    date_to: str
    borough: str | None = None
    ward: str | None = None
    ward_layer: str = DEFAULT_WARD_LAYER
    speeds: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    streets: tuple[str, ...] = ()
    location_types: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    indicator: str | None = None
    measure: str | None = None
    compare: str | None = None

    def __post_init__(self) -> None:
        if self.ward_layer not in WARD_LAYERS:
            raise ValueError(f"ward_layer must be one of {WARD_LAYERS}, not {self.ward_layer!r}")
        _check_month(self.date_from, "date_from")
        _check_month(self.date_to, "date_to")
        object.__setattr__(self, "speeds", tuple(sorted(_as_tuple(self.speeds), key=_speed_order)))
        object.__setattr__(
            self, "operators", tuple(sorted(_as_tuple(self.operators), key=_operator_order))
        )
        for name, _, _ in DEVICE_FILTERS:
            object.__setattr__(self, name, tuple(sorted(_as_tuple(getattr(self, name)))))

    def replace(self, **changes: Any) -> FilterState:
        """A copy with some fields changed (``dataclasses.replace``), normalised the same way."""
        return dataclasses.replace(self, **changes)

    @property
    def area(self) -> tuple[str, str]:
        """The (layer, code) of the area in view: the ward, else the borough, else London."""
        if self.ward:
            return self.ward_layer, self.ward
        if self.borough:
            return "borough", self.borough
        return "london", LONDON_CODE


@dataclass(frozen=True)
class Message:
    """A note for the person reading the page about how their link was read.

    ``info``: a value was adjusted (swapped, clamped, followed); ``warning``: a value was dropped.
    """

    level: Literal["info", "warning"]
    text: str


# What the data holds -----------------------------------------------------------------------------

class Ward(NamedTuple):
    """A ward's name and the code of its borough."""

    name: str
    borough: str


@dataclass(frozen=True, eq=False)
class Known:
    """The values a link may name, built by the caller from the processed data.

    ``boroughs`` maps borough code to name; ``wards`` maps each ward layer (``ward2022``,
    ``ward2011``) to ``{ward code: Ward(name, borough code)}``; ``months`` is the first and last
    month with data (``YYYY-MM``), which is also the default period. ``measures`` lists the map
    measure ids a page offers. If two operator names differ only in case, links match the first.
    """

    boroughs: Mapping[str, str]
    wards: Mapping[str, Mapping[str, Ward]]
    months: tuple[str, str]
    operators: Iterable[str] = ()
    indicators: Iterable[str] = ()
    measures: Iterable[str] = ()
    # The values links may choose for the device filters: location types and install years as
    # the device table holds them (statuses and on/off-street are fixed lists).
    location_types: Iterable[str] = ()
    years: Iterable[str] = ()

    def __post_init__(self) -> None:
        _check_month(self.months[0], "months[0]")
        _check_month(self.months[1], "months[1]")
        if self.months[0] > self.months[1]:
            raise ValueError("months must run from the first month to the last")
        unknown = set(self.wards) - set(WARD_LAYERS)
        if unknown:
            raise ValueError(f"unknown ward layers: {sorted(unknown)}")
        object.__setattr__(self, "boroughs", {c.upper(): n for c, n in self.boroughs.items()})
        object.__setattr__(self, "wards", {
            layer: {c.upper(): ward for c, ward in wards.items()}
            for layer, wards in self.wards.items()
        })
        for name in ("operators", "indicators", "measures", "location_types", "years"):
            names = tuple(v for v in getattr(self, name) if isinstance(v, str) and v.strip())
            object.__setattr__(self, name, names)

    @classmethod
    def from_layers(
        cls,
        layers: Mapping[str, Any],
        months: tuple[str, str],
        operators: Iterable[str] = (),
        indicators: Iterable[str] = (),
        measures: Iterable[str] = (),
        location_types: Iterable[str] = (),
        years: Iterable[str] = (),
    ) -> Known:
        """Build from layer tables keyed by layer name (``borough``, ``ward2022``, ``ward2011``).

        Each table needs the ``code``, ``name`` and ``borough_code`` columns of
        ``schema.LAYER_COLUMNS``; a pandas or GeoPandas DataFrame will do.
        """
        boroughs = layers["borough"]
        wards = {
            layer: {
                str(code): Ward(str(name), str(borough))
                for code, name, borough in zip(
                    layers[layer]["code"], layers[layer]["name"], layers[layer]["borough_code"]
                )
            }
            for layer in WARD_LAYERS
            if layer in layers
        }
        return cls(
            boroughs={str(c): str(n) for c, n in zip(boroughs["code"], boroughs["name"])},
            wards=wards,
            months=months,
            operators=operators,
            indicators=indicators,
            measures=measures,
            location_types=location_types,
            years=years,
        )

    def choices(self, field: str) -> tuple[str, ...]:
        """The values a link may choose for a device filter field (``DEVICE_FILTERS``)."""
        fixed = {"statuses": tuple(STATUS_CHOICES), "streets": tuple(STREET_CHOICES)}
        return fixed.get(field) or tuple(getattr(self, field))

    def defaults(self) -> FilterState:
        """The state of a link without parameters: all of London over the whole data period."""
        return FilterState(date_from=self.months[0], date_to=self.months[1])

    def borough_name(self, code: str | None) -> str:
        """The borough's name, or "London" for None."""
        return LONDON_NAME if code is None else self.boroughs.get(code, code)

    def ward(self, layer: str, code: str) -> Ward | None:
        """The ward with this (upper-case) code in this layer, if there is one."""
        return self.wards.get(layer, {}).get(code)

    def find_borough(self, text: str) -> str | None:
        """The code of the borough with this code or name, ignoring case; None if there is none."""
        code = text.upper()
        return code if code in self.boroughs else self._borough_names.get(text.casefold())

    def find_operator(self, text: str) -> str | None:
        """The data's spelling of this operator name, ignoring case and surrounding spaces."""
        return self._operators.get(text.strip().casefold())

    def find_indicator(self, text: str) -> str | None:
        """The indicator id matching ``text`` ignoring case; None if there is none."""
        return self._indicators.get(text.casefold())

    def find_measure(self, text: str) -> str | None:
        """The measure id matching ``text`` ignoring case; None if there is none."""
        return self._measures.get(text.casefold())

    @cached_property
    def operator_span(self) -> int:
        """How many comma-separated pieces the longest operator name splits into."""
        return 1 + max((name.count(",") for name in self.operators), default=0)

    @cached_property
    def _borough_names(self) -> dict[str, str]:
        return {name.casefold(): code for code, name in self.boroughs.items()}

    @cached_property
    def _operators(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for name in self.operators:
            index.setdefault(name.strip().casefold(), name)
        return index

    @cached_property
    def _indicators(self) -> dict[str, str]:
        return {i.casefold(): i for i in self.indicators}

    @cached_property
    def _measures(self) -> dict[str, str]:
        return {m.casefold(): m for m in self.measures}


# Parsing helpers ---------------------------------------------------------------------------------

def excerpt(value: str) -> str:
    """A short, harmless version of an untrusted value, fit to quote in a message or a log.

    Keeps letters, digits, spaces and ``-_.&``; drops everything else (markup, quotes, control
    and invisible characters) and shortens the result to ``EXCERPT_CHARS`` characters.
    """
    kept = "".join(c for c in value if c.isalnum() or c in _EXCERPT_KEEP)
    kept = " ".join(kept.split())
    return kept if len(kept) <= EXCERPT_CHARS else kept[: EXCERPT_CHARS - 1].rstrip() + "…"


def _quoted(value: str) -> str:
    """An excerpt in quotes, or a description when nothing printable is left."""
    short = excerpt(value)
    return f"'{short}'" if short else "(a value we can't display)"


def _quoted_list(values: Sequence[str]) -> str:
    """Up to ``MAX_QUOTED`` quoted values, then a count of the others."""
    shown = [_quoted(v) for v in values[:MAX_QUOTED]]
    if len(values) > MAX_QUOTED:
        shown.append(f"{len(values) - MAX_QUOTED} more")
    return join_and(shown)


class _Notes:
    """Collects messages for the page and logs each one, keeping the first of any duplicates."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def info(self, text: str) -> None:
        """An adjusted value."""
        self._add(Message("info", text), logging.INFO)

    def warning(self, text: str) -> None:
        """A dropped value."""
        self._add(Message("warning", text), logging.WARNING)

    def _add(self, message: Message, log_level: int) -> None:
        if message not in self.messages:
            self.messages.append(message)
            logger.log(log_level, "Filter link: %s", message.text)


def _query_pairs(query: str | Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    """(name, value) pairs of a query string or mapping; None when the query is too long.

    A string may start with ``?``. Mapping values may be strings or lists of strings (as Dash
    passes repeated parameters to ``layout``). Names are lower-cased and trimmed.
    """
    if query is None:
        return []
    if isinstance(query, str):
        text = query[1:] if query.startswith("?") else query
        if len(text) > MAX_QUERY_CHARS:
            return None
        raw = parse_qsl(text, keep_blank_values=True)
    else:
        raw = [
            (str(name), "" if v is None else str(v))
            for name, value in query.items()
            for v in (value if isinstance(value, (list, tuple)) else [value])
        ]
        if sum(len(name) + len(value) + 2 for name, value in raw) > MAX_QUERY_CHARS:
            return None
    return [(name.strip().lower(), value) for name, value in raw]


def _single(values: list[str], label: str, notes: _Notes) -> str | None:
    """The value of a single-valued parameter: the first non-blank one, trimmed and short enough.

    None when the parameter is absent (or its value unusable), ``""`` when it is present but blank.
    """
    given = [v.strip() for v in values if v.strip()]
    if not given:
        return "" if values else None
    if len({v.casefold() for v in given}) > 1:
        notes.warning(
            f"The link gave more than one {label}, so we used the first, {_quoted(given[0])}."
        )
    if len(given[0]) > MAX_VALUE_CHARS:
        notes.warning(f"The {label} in the link was too long to be real, so we ignored it.")
        return None
    return given[0]


def _items(values: list[str]) -> list[str]:
    """Comma-separated pieces of all values of a list parameter, untrimmed, blanks kept."""
    return [piece for v in values for piece in v.split(",")]


def _drop_long(pieces: list[str], label: str, notes: _Notes) -> list[str]:
    """Pieces within ``MAX_VALUE_CHARS``; an over-long piece becomes blank (and is noted)."""
    if any(len(p) > MAX_VALUE_CHARS for p in pieces):
        notes.warning(f"One {label} in the link was too long to be real, so we left it out.")
    return [p if len(p) <= MAX_VALUE_CHARS else "" for p in pieces]


# Parsing each parameter --------------------------------------------------------------------------

def _layer(value: str | None, default: str, notes: _Notes) -> str:
    """The ward boundaries named by ``layer`` (``ward2022``, ``2022``, ``ward2011``, ``2011``)."""
    if not value:
        return default
    name = value.lower()
    name = name if name.startswith("ward") else f"ward{name}"
    if name in WARD_LAYERS:
        return name
    notes.warning(
        f"We don't recognise the ward boundaries {_quoted(value)}, "
        f"so we're using the {LAYER_LABELS[default]}."
    )
    return default


def _borough(value: str | None, default: str | None, known: Known) -> tuple[str | None, bool]:
    """(borough code or None for London, whether the value was unknown)."""
    if value is None:
        return default, False
    if not value or value.upper() == LONDON_CODE or value.casefold() == LONDON_NAME.casefold():
        return None, False
    code = known.find_borough(value)
    return code, code is None


def _find_ward(code: str, layer: str, known: Known) -> tuple[str, Ward] | None:
    """(layer, ward) for a ward code, looked up in ``layer`` first and then the other vintage."""
    for candidate in (layer, *(other for other in WARD_LAYERS if other != layer)):
        ward = known.ward(candidate, code)
        if ward:
            return candidate, ward
    return None


def _place(
    values: dict[str, str | None], defaults: FilterState, known: Known, notes: _Notes
) -> dict[str, str | None]:
    """borough, ward, ward_layer and compare, consistent with each other and with the data."""
    layer = _layer(values["layer"], defaults.ward_layer, notes)
    raw_borough = values["borough"]
    borough, borough_unknown = _borough(raw_borough, defaults.borough, known)
    ward = defaults.ward if values["ward"] is None else values["ward"].upper() or None
    found = _find_ward(ward, layer, known) if ward else None

    if found:
        ward_layer, info = found
        if ward_layer != layer:
            notes.info(
                f"The ward {info.name} uses the {LAYER_LABELS[ward_layer]}, "
                "so we've switched to those."
            )
            layer = ward_layer
        if borough_unknown:
            notes.warning(
                f"We couldn't find the borough {_quoted(raw_borough)}, so we're showing "
                f"{known.borough_name(info.borough)}, where the ward {info.name} is."
            )
        elif borough is not None and borough != info.borough:
            home = known.borough_name(info.borough)
            notes.info(
                f"The ward {info.name} is in {home}, not {known.borough_name(borough)}, "
                f"so we're showing {home}."
            )
        borough = info.borough
    else:
        if borough_unknown:
            notes.warning(
                f"We couldn't find the borough {_quoted(raw_borough)}, "
                "so we're showing all of London."
            )
        if ward:
            notes.warning(
                f"We couldn't find the ward {_quoted(ward)}, "
                f"so we're showing all of {known.borough_name(borough)}."
            )
            ward = None
    compare = defaults.compare if values["compare"] is None else (
        _compare(values["compare"], ward, layer, known, notes) if values["compare"] else None
    )
    return {"borough": borough, "ward": ward, "ward_layer": layer, "compare": compare}


def _compare(value: str, ward: str | None, layer: str, known: Known, notes: _Notes) -> str | None:
    """The comparison ward: another ward in the same boundaries as the view."""
    code = value.upper()
    if code == ward:
        return None
    if known.ward(layer, code):
        return code
    found = _find_ward(code, layer, known)
    if found:
        notes.warning(
            f"The comparison ward {found[1].name} uses the {LAYER_LABELS[found[0]]}, but the page "
            f"uses the {LAYER_LABELS[layer]}, so we've left the comparison out."
        )
    else:
        notes.warning(
            f"We couldn't find the comparison ward {_quoted(value)}, so we've left it out."
        )
    return None


def _month(value: str | None, label: str, default: str, notes: _Notes) -> str | None:
    """``YYYY-MM`` from ``2024-04``, ``2024-4`` or ``2024/04``; None if absent or unreadable."""
    if not value:
        return None
    match = _MONTH.fullmatch(value)
    if match and 1 <= int(match[2]) <= 12:
        return f"{match[1]}-{int(match[2]):02d}"
    notes.warning(
        f"We couldn't read the {label} month {_quoted(value)} (we expect a month like 2024-04), "
        f"so we're using {fmt_month(default)}."
    )
    return None


def _period(
    values: dict[str, str | None], defaults: FilterState, known: Known, notes: _Notes
) -> dict[str, str]:
    """date_from and date_to: readable, in order, and within the months that have data."""
    first, last = known.months
    start = _month(values["from"], "start", defaults.date_from, notes)
    end = _month(values["to"], "end", defaults.date_to, notes)
    if start and end and start > end:
        notes.info(
            "The start month was after the end month, so we've swapped them: "
            f"{fmt_period(end, start)}."
        )
        start, end = end, start
    if (start and start > last) or (end and end < first):
        covers = "" if (first, last) == (defaults.date_from, defaults.date_to) else (
            f": the data covers {fmt_period(first, last)}"
        )
        notes.warning(
            f"There's no data for the months in the link{covers}, so we're showing "
            f"{fmt_period(defaults.date_from, defaults.date_to)}."
        )
        return {"date_from": defaults.date_from, "date_to": defaults.date_to}
    date_from = _clamp(start, first, last, "start", notes) if start else defaults.date_from
    date_to = _clamp(end, first, last, "end", notes) if end else defaults.date_to
    if date_from > date_to:  # one month came from the link and passed the default for the other
        date_from, date_to = (date_from, last) if start else (first, date_to)
    return {"date_from": date_from, "date_to": date_to}


def _clamp(month: str, first: str, last: str, label: str, notes: _Notes) -> str:
    """``month`` moved into [first, last], with a note when it moves."""
    if month < first:
        notes.info(
            f"The data starts in {fmt_month(first)}, "
            f"so we've moved the {label} of the period there."
        )
        return first
    if month > last:
        notes.info(
            f"The data ends in {fmt_month(last)}, so we've moved the {label} of the period there."
        )
        return last
    return month


def _speeds(values: list[str], notes: _Notes) -> tuple[str, ...]:
    """Known speed classes among the comma-separated values; unknown ones are left out."""
    pieces = [p.strip() for p in _drop_long(_items(values), "charger speed", notes)]
    chosen = [p.lower() for p in pieces if p.lower() in SPEED_CLASSES]
    unknown = [p for p in pieces if p and p.lower() not in SPEED_CLASSES]
    if unknown:
        _note_unknown(unknown, "charger speed", "speeds", chosen, notes)
    return tuple(chosen)


def _operators(values: list[str], known: Known, notes: _Notes) -> tuple[str, ...]:
    """Known operators among the comma-separated values, matching names that contain commas.

    Commas separate names, but a few operator names contain one, so at each position the longest
    run of pieces that spells a known name is taken.
    """
    pieces = _drop_long(_items(values), "operator name", notes)
    chosen: list[str] = []
    unknown: list[str] = []
    i = 0
    while i < len(pieces):
        for j in range(min(len(pieces), i + known.operator_span), i, -1):
            name = known.find_operator(",".join(pieces[i:j]))
            if name:
                chosen.append(name)
                i = j
                break
        else:
            if pieces[i].strip():
                unknown.append(pieces[i].strip())
            i += 1
    if unknown:
        _note_unknown(unknown, "operator", "operators", chosen, notes)
    return tuple(chosen)


_CHOICE_LABELS = {"statuses": ("status", "statuses"), "streets": ("street value", "street values"),
                  "location_types": ("location type", "location types"),
                  "years": ("install year", "install years")}


def _choices(values: list[str], field: str, known: Known, notes: _Notes) -> tuple[str, ...]:
    """The known values of a device filter among the comma-separated values (case ignored)."""
    label, plural = _CHOICE_LABELS[field]
    allowed = {v.casefold(): v for v in known.choices(field)}
    pieces = [p.strip() for p in _drop_long(_items(values), label, notes)]
    chosen = [allowed[p.casefold()] for p in pieces if p.casefold() in allowed]
    unknown = [p for p in pieces if p and p.casefold() not in allowed]
    if unknown:
        _note_unknown(unknown, label, plural, chosen, notes)
    return tuple(chosen)


def _note_unknown(
    unknown: list[str], label: str, plural: str, chosen: list[str], notes: _Notes
) -> None:
    """One warning for all the unrecognised items of a list parameter."""
    noun = label if len(unknown) == 1 else f"{label}s"
    them = "it" if len(unknown) == 1 else "them"
    rest = "" if chosen else f" We're showing all {plural}."
    notes.warning(
        f"We don't recognise the {noun} {_quoted_list(unknown)}, so we've left {them} out.{rest}"
    )


def _choice(
    value: str | None,
    default: str | None,
    find: Callable[[str], str | None],
    label: str,
    notes: _Notes,
) -> str | None:
    """The id ``find`` matches to ``value``: the default if absent or unknown, None if blank."""
    if not value:
        return default if value is None else None
    chosen = find(value)
    if chosen is None:
        notes.warning(
            f"We couldn't find the {label} {_quoted(value)}, so we're showing the default."
        )
        return default
    return chosen


# Public API --------------------------------------------------------------------------------------

_SINGLE_LABELS = {
    "layer": "ward boundaries", "borough": "borough", "ward": "ward", "compare": "comparison ward",
    "from": "start month", "to": "end month", "indicator": "indicator", "measure": "measure",
}
# (FilterState field, query parameter), in the order to_query writes them.
_PARAMS = (
    ("borough", "borough"), ("ward", "ward"), ("ward_layer", "layer"), ("date_from", "from"),
    ("date_to", "to"), ("speeds", "speed"), ("operators", "operator"),
    *((field, param) for field, _, param in DEVICE_FILTERS), ("indicator", "indicator"),
    ("measure", "measure"), ("compare", "compare"),
)


def parse(
    query: str | Mapping[str, Any] | None,
    known: Known,
    defaults: FilterState | None = None,
) -> tuple[FilterState, list[Message]]:
    """Read a query string (or Dash's ``layout(**query)`` mapping) into a valid FilterState.

    ``defaults`` fills in absent parameters (``known.defaults()`` if not given). Never raises on
    bad input: see the module docstring for how each kind of bad value is handled. Returns the
    state and the messages to show, roughly in parameter order.
    """
    defaults = defaults or known.defaults()
    notes = _Notes()
    pairs = _query_pairs(query)
    if pairs is None:
        notes.warning("That link was too long to read, so we're showing the default view.")
        return defaults, notes.messages

    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    single = {
        name: _single(grouped.get(name, []), label, notes)
        for name, label in _SINGLE_LABELS.items()
    }
    place = _place(single, defaults, known, notes)
    period = _period(single, defaults, known, notes)
    speeds = _speeds(grouped["speed"], notes) if "speed" in grouped else defaults.speeds
    operators = defaults.operators
    if "operator" in grouped:
        operators = _operators(grouped["operator"], known, notes)
    choices = {field: (_choices(grouped[param], field, known, notes) if param in grouped
                       else getattr(defaults, field))
               for field, _, param in DEVICE_FILTERS}
    state = FilterState(
        **place,
        **period,
        speeds=speeds,
        operators=operators,
        **choices,
        indicator=_choice(
            single["indicator"], defaults.indicator, known.find_indicator, "indicator", notes
        ),
        measure=_choice(single["measure"], defaults.measure, known.find_measure, "measure", notes),
    )
    return state, notes.messages


def read_single(
    query: str | Mapping[str, Any] | None, name: str, label: str
) -> tuple[str | None, list[Message]]:
    """One single-valued parameter a page reads itself, by the rules above: the first non-blank
    value, trimmed (``""`` when present but blank, None when absent or unusable), with a message
    when the link gave two different values or one too long to be real."""
    notes = _Notes()
    pairs = _query_pairs(query)
    if pairs is None:
        return None, []  # parse() explains a link too long to read
    value = _single([v for n, v in pairs if n == name], label, notes)
    return value, notes.messages


def read_choice(
    query: str | Mapping[str, Any] | None, name: str, label: str, choices: Iterable[str],
    default: str,
) -> tuple[str, list[Message]]:
    """A parameter a page reads itself that names one of ``choices`` (any case): the default
    when absent or blank, and the default with a message when the value is not a choice."""
    value, messages = read_single(query, name, label)
    if not value:
        return default, messages
    found = next((c for c in choices if c.casefold() == value.casefold()), None)
    if found is not None:
        return found, messages
    notes = _Notes()
    notes.warning(f"We couldn't find the {label} {_quoted(value)}, so we're showing the default.")
    return default, [*messages, *notes.messages]


def _encode(value: str | tuple[str, ...] | None) -> str:
    """A field value as URL-encoded query text; lists joined by literal commas."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(quote(item, safe="") for item in value)
    return quote(value, safe="")


def to_query(state: FilterState, defaults: FilterState) -> str:
    """The canonical query string of a state, without the leading ``?``; ``""`` for the defaults.

    Only fields that differ from ``defaults`` are written, always in the same order, so one view
    has one link: ``parse(to_query(s, d), known, d) == (s, [])`` for every valid state ``s``.
    A field that is empty where the default is not is written blank (``borough=``, ``speed=``),
    which reads back as empty.
    """
    return "&".join(
        f"{param}={_encode(getattr(state, name))}"
        for name, param in _PARAMS
        if getattr(state, name) != getattr(defaults, name)
    )


def to_search(state: FilterState, defaults: FilterState) -> str:
    """The query string for ``dcc.Location.search``: ``"?..."``, or ``""`` for the defaults."""
    query = to_query(state, defaults)
    return f"?{query}" if query else ""


def chosen_month(value: Any) -> str | None:
    """A month chosen on the page, if it is one (``YYYY-MM``); None (logged) for anything else,
    which the page reads as "unchanged", as it reads a stale choice."""
    if isinstance(value, str) and _CANONICAL_MONTH.fullmatch(value):
        return value
    if value:
        logger.warning("Ignored a month chosen on the page that is not one: %r",
                       excerpt(str(value)))
    return None


class _Keep(Enum):
    """Marks a :func:`narrow` argument that was not given."""

    KEEP = "keep"


KEEP = _Keep.KEEP


def narrow(
    state: FilterState,
    known: Known,
    *,
    borough: str | None | _Keep = KEEP,
    ward: str | None | _Keep = KEEP,
) -> FilterState:
    """Apply a borough or ward chosen on the page, keeping the place consistent.

    Choosing a ward sets its borough (and its boundaries, if the code is of the other vintage);
    choosing a borough (None = London) clears a ward from another borough; ``ward=None`` clears
    the ward and keeps the borough. Given both, the ward wins. A code the data doesn't have is
    ignored (and logged): a stale click should not break the page.
    """
    if isinstance(ward, str):
        code = ward.strip().upper()
        found = _find_ward(code, state.ward_layer, known)
        if found:
            layer, info = found
            keep_compare = layer == state.ward_layer and state.compare != code
            return state.replace(
                ward=code, borough=info.borough, ward_layer=layer,
                compare=state.compare if keep_compare else None,
            )
        logger.warning("Ignored an unknown ward chosen on the page: %r", excerpt(ward))
    elif ward is None:
        state = state.replace(ward=None)
    if borough is KEEP:
        return state
    if borough is not None:
        code = known.find_borough(borough.strip())
        if code is None:
            logger.warning("Ignored an unknown borough chosen on the page: %r", excerpt(borough))
            return state
        borough = code
    current = known.ward(state.ward_layer, state.ward) if state.ward else None
    keep_ward = current is not None and current.borough == borough
    return state.replace(borough=borough, ward=state.ward if keep_ward else None)
