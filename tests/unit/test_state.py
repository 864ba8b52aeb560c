"""Tests of URL-driven filter state: parsing links, writing them back, and narrowing the place."""
from __future__ import annotations

import logging
from urllib.parse import parse_qs

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.data.schema import LONDON_CODE, SPEED_CLASSES
from dashboard.domain.state import (KEEP, MAX_QUERY_CHARS, MAX_VALUE_CHARS, WARD_LAYERS,
    FilterState, Known, Message, Ward, excerpt, narrow, parse, to_query, to_search)

LAMBETH, SOUTHWARK, CITY = "E09000022", "E09000028", "E09000001"
ACRE_LANE, RUSH_COMMON, BANKSIDE, ALDERSGATE = "E05014096", "E05014097", "E05011095", "E05009288"
BRIXTON_HILL, CATHEDRALS = "E05000416", "E05000534"
OPERATORS = (
    "Source London", "Ubitricity, a Shell company", "bp pulse", "Char.gy", "Zap & Go+",
    "Électricité 100%", "A, B, and C Charging",
)

KNOWN = Known(
    boroughs={LAMBETH: "Lambeth", SOUTHWARK: "Southwark", CITY: "City of London"},
    wards={
        "ward2022": {
            ACRE_LANE: Ward("Brixton Acre Lane", LAMBETH),
            RUSH_COMMON: Ward("Brixton Rush Common", LAMBETH),
            BANKSIDE: Ward("Borough & Bankside", SOUTHWARK),
            ALDERSGATE: Ward("Aldersgate", CITY),
        },
        "ward2011": {
            BRIXTON_HILL: Ward("Brixton Hill", LAMBETH),
            CATHEDRALS: Ward("Cathedrals", SOUTHWARK),
        },
    },
    months=("2024-04", "2026-03"),
    operators=OPERATORS,
    indicators=("imd_score", "pop_density"),
    measures=("devices", "devices_per_100k"),
    location_types=("On-street", "Public car park", "Hotel / Accommodation", "Park & Ride site"),
    years=("2019", "2021", "2022"),
)
DEFAULTS = KNOWN.defaults()


def read(query, defaults: FilterState | None = None) -> tuple[FilterState, list[Message]]:
    return parse(query, KNOWN, defaults)


def texts(messages: list[Message]) -> str:
    return " | ".join(m.text for m in messages)


def assert_valid(state: FilterState) -> None:
    """The state satisfies the data: what parse promises for any input."""
    assert state.borough is None or state.borough in KNOWN.boroughs
    if state.ward is not None:
        assert KNOWN.ward(state.ward_layer, state.ward).borough == state.borough
    if state.compare is not None:
        assert KNOWN.ward(state.ward_layer, state.compare) and state.compare != state.ward
    assert "2024-04" <= state.date_from <= state.date_to <= "2026-03"
    assert set(state.speeds) <= set(SPEED_CLASSES)
    assert set(state.operators) <= set(OPERATORS)
    assert state.indicator in (None, "imd_score", "pop_density")
    assert state.measure in (None, "devices", "devices_per_100k")


# FilterState -------------------------------------------------------------------------------------

def test_defaults_are_london_over_the_data_period():
    assert DEFAULTS == FilterState(date_from="2024-04", date_to="2026-03")
    assert (DEFAULTS.borough, DEFAULTS.ward, DEFAULTS.ward_layer) == (None, None, "ward2022")
    assert DEFAULTS.area == ("london", LONDON_CODE)


def test_lists_are_canonical_tuples_so_equal_filters_compare_equal():
    a = DEFAULTS.replace(speeds=["ultra", "slow", "ultra"], operators=["bp pulse", "Char.gy"])
    b = DEFAULTS.replace(speeds=("slow", "ultra"), operators=("Char.gy", "bp pulse"))
    assert a == b and hash(a) == hash(b)
    assert a.speeds == ("slow", "ultra") and a.operators == ("bp pulse", "Char.gy")
    assert DEFAULTS.replace(speeds="rapid").speeds == ("rapid",)


def test_replace_returns_a_new_frozen_state():
    state = DEFAULTS.replace(borough=LAMBETH)
    assert state.borough == LAMBETH and DEFAULTS.borough is None
    with pytest.raises(AttributeError):
        state.borough = SOUTHWARK  # type: ignore[misc]


@pytest.mark.parametrize("changes", [
    {"ward_layer": "ward2019"}, {"date_from": "2024-4"}, {"date_to": "2024-13"},
    {"date_from": "２０２４-04"},
])
def test_malformed_states_are_refused(changes):
    with pytest.raises(ValueError):
        DEFAULTS.replace(**changes)


def test_area_is_the_ward_then_the_borough_then_london():
    assert DEFAULTS.replace(borough=LAMBETH).area == ("borough", LAMBETH)
    assert DEFAULTS.replace(borough=LAMBETH, ward=BRIXTON_HILL, ward_layer="ward2011").area == (
        "ward2011", BRIXTON_HILL
    )


# Known -------------------------------------------------------------------------------------------

def test_known_from_layer_tables():
    boroughs = pd.DataFrame({"code": [LAMBETH], "name": ["Lambeth"], "borough_code": [LAMBETH]})
    wards = pd.DataFrame(
        {"code": [ACRE_LANE], "name": ["Brixton Acre Lane"], "borough_code": [LAMBETH]}
    )
    known = Known.from_layers(
        {"borough": boroughs, "ward2022": wards}, months=("2024-04", "2026-03"),
        operators=["Source London", None, " "], indicators=["imd_score"],
    )
    assert known.boroughs == {LAMBETH: "Lambeth"}
    assert known.ward("ward2022", ACRE_LANE) == Ward("Brixton Acre Lane", LAMBETH)
    assert known.ward("ward2011", ACRE_LANE) is None
    assert known.operators == ("Source London",)
    assert parse(f"ward={ACRE_LANE.lower()}", known)[0].borough == LAMBETH


@pytest.mark.parametrize("months", [("2026-03", "2024-04"), ("2024-4", "2026-03")])
def test_known_refuses_bad_months(months):
    with pytest.raises(ValueError):
        Known(boroughs={}, wards={}, months=months)


def test_known_refuses_unknown_layers():
    with pytest.raises(ValueError):
        Known(boroughs={}, wards={"ward2019": {}}, months=("2024-04", "2026-03"))


# Parsing: the happy path -------------------------------------------------------------------------

@pytest.mark.parametrize("query", [None, "", "?", {}, "?utm_source=newsletter&fbclid=abc"])
def test_no_filters_gives_the_defaults_silently(query):
    assert read(query) == (DEFAULTS, [])


def test_a_full_link_is_read_exactly():
    state, messages = read(
        f"?borough={LAMBETH}&ward={ACRE_LANE}&from=2024-06&to=2025-05&speed=rapid,ultra"
        f"&operator=Source%20London,Char.gy&indicator=imd_score&measure=devices&compare={BANKSIDE}"
    )
    assert messages == []
    assert state == FilterState(
        borough=LAMBETH, ward=ACRE_LANE, ward_layer="ward2022", date_from="2024-06",
        date_to="2025-05", speeds=("rapid", "ultra"), operators=("Char.gy", "Source London"),
        indicator="imd_score", measure="devices", compare=BANKSIDE,
    )


def test_codes_and_names_ignore_case_and_surrounding_spaces():
    state, messages = read(
        f"borough=+{LAMBETH.lower()}+&ward=%20{ACRE_LANE.lower()}&speed=+Rapid+,+ULTRA"
        "&operator=+SOURCE+london+,bp+PULSE&indicator=IMD_Score&measure=Devices&layer=WARD2022"
    )
    assert messages == []
    assert (state.borough, state.ward) == (LAMBETH, ACRE_LANE)
    assert state.speeds == ("rapid", "ultra")
    assert state.operators == ("bp pulse", "Source London")
    assert (state.indicator, state.measure) == ("imd_score", "devices")


@pytest.mark.parametrize("value, code", [
    ("Lambeth", LAMBETH), ("city of london", CITY), ("London", None), (LONDON_CODE, None),
    (LONDON_CODE.lower(), None),
])
def test_boroughs_may_be_named(value, code):
    assert read({"borough": value}) == (DEFAULTS.replace(borough=code), [])


def test_dash_layout_mapping_with_repeated_values_as_lists():
    state, messages = read({"borough": LAMBETH, "speed": ["rapid", "slow,ultra"], "extra": None})
    assert messages == []
    assert state == DEFAULTS.replace(borough=LAMBETH, speeds=("slow", "rapid", "ultra"))


# Parsing: places ---------------------------------------------------------------------------------

def test_a_ward_alone_brings_its_borough():
    assert read(f"ward={BANKSIDE}") == (DEFAULTS.replace(borough=SOUTHWARK, ward=BANKSIDE), [])


def test_a_ward_in_another_borough_wins_and_the_borough_follows():
    state, messages = read(f"borough={LAMBETH}&ward={BANKSIDE}")
    assert (state.borough, state.ward) == (SOUTHWARK, BANKSIDE)
    assert messages == [Message(
        "info",
        "The ward Borough & Bankside is in Southwark, not Lambeth, so we're showing Southwark.",
    )]


def test_an_unknown_ward_keeps_the_borough_in_view():
    state, messages = read(f"borough={LAMBETH}&ward=E05999999")
    assert state == DEFAULTS.replace(borough=LAMBETH)
    assert messages == [Message(
        "warning", "We couldn't find the ward 'E05999999', so we're showing all of Lambeth."
    )]


def test_an_unknown_ward_alone_shows_london():
    state, messages = read("ward=E05999999")
    assert state == DEFAULTS
    assert texts(messages) == (
        "We couldn't find the ward 'E05999999', so we're showing all of London."
    )


def test_an_unknown_borough_shows_london():
    state, messages = read("borough=E09999999")
    assert state == DEFAULTS
    assert messages == [Message(
        "warning", "We couldn't find the borough 'E09999999', so we're showing all of London."
    )]


def test_an_unknown_borough_with_a_known_ward_shows_the_ward():
    state, messages = read(f"borough=Lambth&ward={ACRE_LANE}")
    assert (state.borough, state.ward) == (LAMBETH, ACRE_LANE)
    assert texts(messages) == (
        "We couldn't find the borough 'Lambth', so we're showing Lambeth, where the ward "
        "Brixton Acre Lane is."
    )


@pytest.mark.parametrize("query, layer, ward", [
    (f"ward={BRIXTON_HILL}", "ward2011", BRIXTON_HILL),
    (f"ward={ACRE_LANE}&layer=ward2011", "ward2022", ACRE_LANE),
])
def test_a_ward_of_the_other_vintage_switches_the_boundaries(query, layer, ward):
    state, messages = read(query)
    assert (state.ward_layer, state.ward, state.borough) == (layer, ward, LAMBETH)
    assert [m.level for m in messages] == ["info"]
    assert f"{layer[4:]} ward boundaries, so we've switched to those" in messages[0].text


@pytest.mark.parametrize("value, layer", [
    ("ward2011", "ward2011"), ("2011", "ward2011"), ("WARD2022", "ward2022"), ("2022", "ward2022"),
])
def test_layer_names_and_years(value, layer):
    assert read({"layer": value}) == (DEFAULTS.replace(ward_layer=layer), [])


def test_an_unknown_layer_falls_back_to_the_default():
    state, messages = read("layer=ward1999")
    assert state == DEFAULTS
    assert texts(messages) == (
        "We don't recognise the ward boundaries 'ward1999', "
        "so we're using the 2022 ward boundaries."
    )


def test_compare_is_a_second_ward_of_the_same_boundaries():
    state, messages = read(f"ward={ACRE_LANE}&compare={RUSH_COMMON.lower()}")
    assert (state.compare, messages) == (RUSH_COMMON, [])


def test_comparing_a_ward_with_itself_is_dropped_quietly():
    assert read(f"ward={ACRE_LANE}&compare={ACRE_LANE}")[0].compare is None


@pytest.mark.parametrize("compare, expected", [
    (CATHEDRALS, "The comparison ward Cathedrals uses the 2011 ward boundaries, but the page uses "
                 "the 2022 ward boundaries, so we've left the comparison out."),
    ("E05999999", "We couldn't find the comparison ward 'E05999999', so we've left it out."),
])
def test_an_unusable_comparison_is_dropped(compare, expected):
    state, messages = read(f"ward={ACRE_LANE}&compare={compare}")
    assert state.compare is None and state.ward == ACRE_LANE
    assert messages == [Message("warning", expected)]


# Parsing: months ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, month", [
    ("2024-06", "2024-06"), ("2024-6", "2024-06"), ("2024/06", "2024-06"), (" 2025-12 ", "2025-12"),
])
def test_months_in_common_spellings(value, month):
    assert read({"from": value}) == (DEFAULTS.replace(date_from=month), [])


@pytest.mark.parametrize("value", [
    "2024-13", "2024-00", "April", "2024-04-01", "202404", "24-04", "２０２４-04", "2024-4x",
])
def test_unreadable_months_fall_back_to_the_default(value):
    state, messages = read({"from": value})
    assert state == DEFAULTS
    assert [m.level for m in messages] == ["warning"]
    assert messages[0].text.startswith("We couldn't read the start month")
    assert messages[0].text.endswith("(we expect a month like 2024-04), so we're using April 2024.")


def test_reversed_months_are_swapped():
    state, messages = read("from=2025-06&to=2024-09")
    assert (state.date_from, state.date_to) == ("2024-09", "2025-06")
    assert messages == [Message(
        "info",
        "The start month was after the end month, "
        "so we've swapped them: September 2024 to June 2025.",
    )]


def test_months_outside_the_data_are_clamped():
    state, messages = read("from=2023-01&to=2027-12")
    assert (state.date_from, state.date_to) == ("2024-04", "2026-03")
    assert [m.text for m in messages] == [
        "The data starts in April 2024, so we've moved the start of the period there.",
        "The data ends in March 2026, so we've moved the end of the period there.",
    ]
    assert {m.level for m in messages} == {"info"}


@pytest.mark.parametrize("query", ["from=2020-01&to=2020-12", "from=2030-01", "to=2023-12"])
def test_a_period_without_data_shows_the_default_period(query):
    state, messages = read(query)
    assert state == DEFAULTS
    assert texts(messages) == (
        "There's no data for the months in the link, so we're showing April 2024 to March 2026."
    )


def test_narrower_defaults_give_way_to_a_month_in_the_link():
    defaults = DEFAULTS.replace(date_from="2025-04", date_to="2026-03")
    state, messages = read("to=2024-09", defaults)
    assert (state.date_from, state.date_to, messages) == ("2024-04", "2024-09", [])
    state, messages = read("from=2020-01&to=2020-02", defaults)
    assert state == defaults
    assert texts(messages).endswith(
        "the data covers April 2024 to March 2026, so we're showing April 2025 to March 2026."
    )


# Parsing: lists and choices ----------------------------------------------------------------------

def test_unknown_speeds_are_left_out():
    state, messages = read("speed=rapid,turbo")
    assert state.speeds == ("rapid",)
    assert messages == [Message(
        "warning", "We don't recognise the charger speed 'turbo', so we've left it out."
    )]


def test_when_no_speed_is_known_all_speeds_show():
    state, messages = read("speed=turbo,warp,ludicrous,plaid,x")
    assert state.speeds == ()
    assert texts(messages) == (
        "We don't recognise the charger speeds 'turbo', 'warp', 'ludicrous' and 2 more, so we've "
        "left them out. We're showing all speeds."
    )


@pytest.mark.parametrize("query", ["speed=", "speed=,,", "speed=&speed=+"])
def test_blank_lists_mean_all(query):
    assert read(query) == (DEFAULTS, [])


def test_blank_values_clear_fields_that_can_be_empty_and_default_the_rest():
    defaults = DEFAULTS.replace(
        borough=LAMBETH, ward=ACRE_LANE, compare=RUSH_COMMON, speeds=("rapid",),
        operators=("Char.gy",), indicator="imd_score", measure="devices", date_from="2025-01",
    )
    assert read("", defaults) == (defaults, [])
    state, messages = read(
        "borough=&ward=&compare=&speed=&operator=&indicator=&measure=&from=&to=&layer=", defaults
    )
    assert messages == []
    assert state == DEFAULTS.replace(date_from="2025-01")


def test_operator_names_with_commas_survive_comma_separated_lists():
    state, messages = read(
        "operator=ubitricity, a shell company,A, B, and C Charging,Zap %26 Go%2B,Nobody,Char.gy"
    )
    assert state.operators == ("A, B, and C Charging", "Char.gy", "Ubitricity, a Shell company",
                               "Zap & Go+")
    assert texts(messages) == "We don't recognise the operator 'Nobody', so we've left it out."


def test_repeated_list_parameters_combine():
    state, messages = read("operator=Char.gy&operator=bp%20pulse&operator=Char.gy")
    assert (state.operators, messages) == (("bp pulse", "Char.gy"), [])


@pytest.mark.parametrize("name, label", [("indicator", "indicator"), ("measure", "measure")])
def test_unknown_choices_fall_back_to_the_default(name, label):
    state, messages = read({name: "nonsense"})
    assert state == DEFAULTS
    assert messages == [Message(
        "warning", f"We couldn't find the {label} 'nonsense', so we're showing the default."
    )]


def test_choices_default_to_the_callers_defaults():
    defaults = DEFAULTS.replace(indicator="pop_density", measure="devices")
    assert read("", defaults) == (defaults, [])
    assert read("indicator=nope", defaults)[0].indicator == "pop_density"


# Parsing: hostile and odd links ------------------------------------------------------------------

def test_repeated_single_parameters_use_the_first():
    state, messages = read(f"borough={LAMBETH}&borough={SOUTHWARK}")
    assert state.borough == LAMBETH
    assert messages == [Message(
        "warning", f"The link gave more than one borough, so we used the first, '{LAMBETH}'."
    )]


def test_identical_repeats_and_blank_repeats_are_quiet():
    assert read(f"borough={LAMBETH}&borough={LAMBETH.lower()}&borough=") == (
        DEFAULTS.replace(borough=LAMBETH), []
    )


def test_an_over_long_value_is_ignored():
    state, messages = read({"borough": "E" * (MAX_VALUE_CHARS + 1)})
    assert state == DEFAULTS
    assert texts(messages) == "The borough in the link was too long to be real, so we ignored it."


def test_an_over_long_list_item_is_left_out():
    state, messages = read({"operator": f"Char.gy,{'x' * (MAX_VALUE_CHARS + 1)}"})
    assert state.operators == ("Char.gy",)
    assert texts(messages) == (
        "One operator name in the link was too long to be real, so we left it out."
    )


@pytest.mark.parametrize("query", [
    "borough=" + "a" * MAX_QUERY_CHARS,
    {"speed": ["rapid"] * 400},
])
def test_an_over_long_link_is_ignored_whole(query):
    assert read(query) == (DEFAULTS, [Message(
        "warning", "That link was too long to read, so we're showing the default view."
    )])


HOSTILE = [
    "<script>alert(document.cookie)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "'; DROP TABLE wards; --",
    "%3Cscript%3E",
    "\x00\x1b[31mred\r\nSet-Cookie: x=1",
    "\u202eevil\u200b",
    "=HYPERLINK(\"http://x\")",
    "a" * 150,
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("param", [
    "borough", "ward", "compare", "layer", "from", "to", "speed", "operator", "indicator",
    "measure",
])
def test_hostile_values_are_never_echoed_raw(param, value, caplog):
    with caplog.at_level(logging.INFO, logger="dashboard.domain.state"):
        state, messages = read({param: value})
    assert_valid(state)
    assert messages and all(m.level == "warning" for m in messages)
    logged = " ".join(record.getMessage() for record in caplog.records)
    for text in (texts(messages), logged):
        assert not set(text) & set("<>\"\x00\x1b\r\n\u202e\u200b=;%")
        assert "a" * 30 not in text


def test_excerpts_are_short_and_plain():
    assert excerpt("<b>Lambeth</b>") == "bLambethb"
    assert excerpt("x" * 100) == "x" * 23 + "…"
    assert excerpt("  two   words ") == "two words"
    assert excerpt("<>") == ""
    state, messages = read("borough=%3C%3E")
    assert texts(messages) == (
        "We couldn't find the borough (a value we can't display), so we're showing all of London."
    )


def test_rejected_values_are_logged_as_warnings(caplog):
    with caplog.at_level(logging.WARNING, logger="dashboard.domain.state"):
        read("borough=<nope>&speed=warp")
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'nope'" in line for line in logged)
    assert any("'warp'" in line for line in logged)


# Writing links -----------------------------------------------------------------------------------

def test_the_default_state_has_an_empty_query():
    assert to_query(DEFAULTS, DEFAULTS) == ""
    assert to_search(DEFAULTS, DEFAULTS) == ""


def test_queries_are_canonical_ordered_and_encoded():
    state = DEFAULTS.replace(
        compare=RUSH_COMMON, operators=("Zap & Go+", "Ubitricity, a Shell company"),
        speeds=("ultra", "rapid"), borough=LAMBETH, ward=ACRE_LANE, date_to="2025-03",
    )
    query = to_query(state, DEFAULTS)
    assert query == (
        f"borough={LAMBETH}&ward={ACRE_LANE}&to=2025-03&speed=rapid,ultra"
        "&operator=Ubitricity%2C%20a%20Shell%20company,Zap%20%26%20Go%2B"
        f"&compare={RUSH_COMMON}"
    )
    assert to_search(state, DEFAULTS) == f"?{query}"


def test_an_empty_list_against_non_empty_defaults_is_written_blank():
    defaults = DEFAULTS.replace(speeds=("rapid",))
    state = defaults.replace(speeds=())
    assert to_query(state, defaults) == "speed="
    assert read(to_query(state, defaults), defaults) == (state, [])


def _valid_states() -> st.SearchStrategy[FilterState]:
    """Any state parse could return without messages."""
    months = st.lists(
        st.sampled_from([f"{y}-{m:02d}" for y in (2024, 2025, 2026) for m in range(1, 13)
                         if "2024-04" <= f"{y}-{m:02d}" <= "2026-03"]),
        min_size=2, max_size=2,
    ).map(sorted)

    @st.composite
    def build(draw) -> FilterState:
        layer = draw(st.sampled_from(WARD_LAYERS))
        wards = sorted(KNOWN.wards[layer])
        ward = draw(st.none() | st.sampled_from(wards))
        borough = KNOWN.ward(layer, ward).borough if ward else draw(
            st.none() | st.sampled_from(sorted(KNOWN.boroughs))
        )
        others = [w for w in wards if w != ward]
        date_from, date_to = draw(months)
        return FilterState(
            borough=borough, ward=ward, ward_layer=layer, date_from=date_from, date_to=date_to,
            speeds=draw(st.lists(st.sampled_from(SPEED_CLASSES), unique=True)),
            operators=draw(st.lists(st.sampled_from(OPERATORS), unique=True)),
            statuses=draw(st.lists(st.sampled_from(("in-service", "out-of-service")),
                                   unique=True)),
            streets=draw(st.lists(st.sampled_from(("on-street", "off-street")), unique=True)),
            location_types=draw(st.lists(st.sampled_from(tuple(KNOWN.location_types)),
                                         unique=True)),
            years=draw(st.lists(st.sampled_from(tuple(KNOWN.years)), unique=True)),
            indicator=draw(st.none() | st.sampled_from(KNOWN.indicators)),
            measure=draw(st.none() | st.sampled_from(KNOWN.measures)),
            compare=draw(st.none() | st.sampled_from(others)),
        )

    return build()


@settings(max_examples=300, deadline=None)
@given(_valid_states())
def test_round_trip_through_the_query_string(state):
    query = to_query(state, DEFAULTS)
    assert read(query) == (state, [])
    assert read(f"?{query}") == (state, [])


@settings(max_examples=300, deadline=None)
@given(_valid_states(), _valid_states())
def test_round_trip_against_any_defaults(state, defaults):
    assert read(to_query(state, defaults), defaults) == (state, [])


@settings(max_examples=200, deadline=None)
@given(_valid_states())
def test_round_trip_through_dash_layout_arguments(state):
    parsed = parse_qs(to_query(state, DEFAULTS), keep_blank_values=True)
    arguments = {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}  # as Dash passes them
    assert read(arguments) == (state, [])


_PARAMS = st.sampled_from([
    "borough", "ward", "compare", "layer", "from", "to", "speed", "operator", "indicator",
    "measure", "BOROUGH", "x",
])
_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from([LAMBETH, SOUTHWARK, ACRE_LANE, BANKSIDE, BRIXTON_HILL, CATHEDRALS, "2023-01",
                     "2025-07", "2027-02", "rapid,turbo", "ward2011", "Char.gy,Nobody", "2024-13"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_PARAMS, _VALUES), max_size=8))
def test_any_link_gives_a_valid_state_and_safe_messages(pairs):
    mapping: dict[str, list[str]] = {}
    for name, value in pairs:
        mapping.setdefault(name, []).append(value)
    state, messages = read(mapping)
    assert_valid(state)
    for message in messages:
        assert message.level in ("info", "warning")
        assert not set(message.text) & set("<>\"\x00\r\n")
        assert len(message.text) < 300


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_query_string_parses(query):
    state, _ = read(query)
    assert_valid(state)


# Narrowing ---------------------------------------------------------------------------------------

def test_choosing_a_ward_sets_its_borough():
    state = narrow(DEFAULTS.replace(borough=LAMBETH), KNOWN, ward=BANKSIDE)
    assert (state.borough, state.ward) == (SOUTHWARK, BANKSIDE)


def test_choosing_another_borough_clears_the_ward():
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE, compare=BANKSIDE)
    assert narrow(state, KNOWN, borough=SOUTHWARK) == DEFAULTS.replace(borough=SOUTHWARK,
                                                                       compare=BANKSIDE)


def test_choosing_the_wards_own_borough_keeps_the_ward():
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE)
    assert narrow(state, KNOWN, borough=LAMBETH.lower()) == state


def test_choosing_london_clears_the_borough_and_ward():
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE)
    assert narrow(state, KNOWN, borough=None) == DEFAULTS


def test_clearing_the_ward_keeps_the_borough():
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE)
    assert narrow(state, KNOWN, ward=None) == DEFAULTS.replace(borough=LAMBETH)


def test_a_ward_of_the_other_vintage_switches_boundaries_and_drops_the_comparison():
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE, compare=RUSH_COMMON)
    assert narrow(state, KNOWN, ward=CATHEDRALS) == DEFAULTS.replace(
        borough=SOUTHWARK, ward=CATHEDRALS, ward_layer="ward2011"
    )


def test_choosing_the_comparison_ward_clears_the_comparison():
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE, compare=RUSH_COMMON)
    assert narrow(state, KNOWN, ward=RUSH_COMMON).compare is None


def test_given_both_the_ward_wins():
    state = narrow(DEFAULTS, KNOWN, borough=LAMBETH, ward=BANKSIDE)
    assert (state.borough, state.ward) == (SOUTHWARK, BANKSIDE)


def test_unknown_codes_from_the_page_are_ignored_and_logged(caplog):
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE)
    with caplog.at_level(logging.WARNING, logger="dashboard.domain.state"):
        assert narrow(state, KNOWN, ward="E05999999") == state
        assert narrow(state, KNOWN, borough="<b>E09999999") == state
    assert len(caplog.records) == 2 and "<" not in caplog.text


def test_narrow_without_changes_is_the_identity():
    state = DEFAULTS.replace(borough=LAMBETH, ward=ACRE_LANE)
    assert narrow(state, KNOWN) == narrow(state, KNOWN, borough=KEEP, ward=KEEP) == state


def test_device_filters_read_from_the_link():
    state, messages = read("status=Out-of-service&street=on-street,off-street"
                           "&type=public%20car%20park,Hotel%20%2F%20Accommodation&year=2021,2019")
    assert messages == []
    assert state.statuses == ("out-of-service",)
    assert state.streets == ("off-street", "on-street")
    assert state.location_types == ("Hotel / Accommodation", "Public car park")
    assert state.years == ("2019", "2021")
    assert to_query(state, DEFAULTS) == ("status=out-of-service&street=off-street,on-street"
                                         "&type=Hotel%20%2F%20Accommodation,Public%20car%20park"
                                         "&year=2019,2021")


def test_unknown_device_filter_values_are_left_out_with_a_note():
    state, messages = read("status=broken,in-service&year=1999&type=Moon%20base")
    assert state.statuses == ("in-service",) and state.years == () and state.location_types == ()
    texts = " ".join(m.text for m in messages)
    assert "status 'broken'" in texts and "install year '1999'" in texts
    assert "location type 'Moon base'" in texts and "all install years" in texts
