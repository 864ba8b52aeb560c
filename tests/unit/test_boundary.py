"""The callback boundary: malformed /_dash-update-component bodies are refused with a 400, and
values of the wrong type reach callbacks as None, through the real app's dispatch."""
from __future__ import annotations

import json
import logging

import pytest
from dash import Input, Output

from dashboard.core import boundary
from dashboard.core.boundary import Catalogue, Component

URL = "/_dash-update-component"


def _id(text: str):
    return json.loads(text) if text.startswith("{") else text


def _key(app, fragment: str) -> str:
    return next(k for k in app.callback_map if fragment in k)


def _outputs(cb):
    declared = cb["output"]
    one = lambda o: {"id": _id(o.component_id_str()),  # noqa: E731
                     "property": o.component_property.split("@")[0]}
    return [one(o) for o in declared] if isinstance(declared, (list, tuple)) else one(declared)


def body(app, fragment: str, values: dict | None = None, changed: str | None = None) -> dict:
    """A body as the browser sends it for the callback whose output key holds ``fragment``:
    every input and state None except ``values`` ({"id.prop": value})."""
    values = values or {}
    key = _key(app, fragment)
    cb = app.callback_map[key]

    def items(specs):
        return [{"id": _id(s["id"]), "property": s["property"],
                 "value": values.get(f"{s['id']}.{s['property']}")} for s in specs]

    first = cb["inputs"][0]
    return {"output": key, "outputs": _outputs(cb), "inputs": items(cb["inputs"]),
            "state": items(cb.get("state", [])),
            "changedPropIds": [changed or f"{first['id']}.{first['property']}"]}


def post(client, payload, raw: bool = False):
    data = payload if raw else json.dumps(payload)
    return client.post(URL, data=data, content_type="application/json")


def _malformed(app):
    ev = lambda **kw: body(app, "ev-heading.children", **kw)  # noqa: E731
    cases = {
        "invalid JSON": b"{\"output\": ",
        "a list": b"[]",
        "null": b"null",
        "a string": b'"ev-heading.children"',
    }
    unknown = ev()
    unknown["output"] = "..ev-heading.children...nothing.data.."
    mangled = ev()
    mangled["output"] = mangled["output"].replace("ev-heading", "ev-he\u0000ding")
    no_inputs = ev()
    del no_inputs["inputs"]
    no_state = ev()
    del no_state["state"]
    short = ev()
    short["inputs"] = short["inputs"][:2]
    wrong_id = ev()
    wrong_id["inputs"][0]["id"] = "ev-somewhere-else"
    outputs = ev()
    outputs["outputs"] = outputs["outputs"][:1]
    deep = ev()
    nested: list = []
    for _ in range(1000):
        nested = [nested]
    deep["inputs"][0]["value"] = nested
    many = ev(values={"ev-speed.value": list(range(100_000))})
    long = ev(values={"ev-borough.value": "x" * 1_000_000})
    store = ev(values={'{"page":"ev","type":"query"}.data': {"not": "a query"}})
    cases.update({"an unknown output": unknown, "a mangled output id": mangled,
                  "missing inputs": no_inputs, "missing state": no_state,
                  "too few inputs": short, "an input of another callback": wrong_id,
                  "too few outputs": outputs, "a 1,000-deep list": deep,
                  "a 100,000-item list": many, "a 1 MB string": long,
                  "store data of the wrong shape": store})
    return cases


CASES = ["invalid JSON", "a list", "null", "a string", "an unknown output", "a mangled output id",
         "missing inputs", "missing state", "too few inputs", "an input of another callback",
         "too few outputs", "a 1,000-deep list", "a 100,000-item list", "a 1 MB string",
         "store data of the wrong shape"]


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_body_gets_a_400_with_a_short_reason_and_one_warning(dash_app, client,
                                                                          caplog, case):
    payload = _malformed(dash_app)[case]
    with caplog.at_level(logging.INFO):
        r = post(client, payload, raw=isinstance(payload, bytes))
    assert r.status_code == 400
    assert r.is_json and r.get_json()["error"] == "bad callback request"
    assert len(r.data) < 200
    warnings = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].name == "dashboard.core.boundary"
    assert warnings[0].exc_info is None and "Traceback" not in caplog.text


def test_the_same_callback_with_a_good_body_is_answered_without_a_warning(dash_app, client,
                                                                          caplog):
    with caplog.at_level(logging.WARNING):
        r = post(client, body(dash_app, "ev-heading.children",
                              values={"ev-borough.value": "E09000022"}))
    assert r.status_code == 200
    assert "Lambeth" in r.get_data(as_text=True)
    assert not [rec for rec in caplog.records if rec.name == "dashboard.core.boundary"]


@pytest.mark.parametrize("sent", [["E09000022"], {"code": "E09000022"}, True, 1e308])
def test_a_wrong_type_where_a_borough_is_expected_is_read_as_no_borough(dash_app, client, caplog,
                                                                        sent):
    def answer(value):
        r = post(client, body(dash_app, "ev-heading.children",
                              values={"ev-borough.value": value}))
        return r.status_code, r.get_json()

    with caplog.at_level(logging.WARNING):
        assert answer(sent) == answer(None)
    assert "Traceback" not in caplog.text
    coerced = [r for r in caplog.records if r.name == "dashboard.core.boundary"]
    assert [r.getMessage() for r in coerced] == [
        "callback values of the wrong type read as none: ev-borough.value"]


def test_a_month_that_is_not_one_leaves_the_period_unchanged(dash_app, client, caplog):
    with caplog.at_level(logging.ERROR):
        r = post(client, body(dash_app, "ev-heading.children", values={"ev-from.value": "2025-13"},
                              changed="ev-from.value"))
    assert r.status_code in (200, 204)
    assert "2025-13" not in r.get_data(as_text=True)
    assert not caplog.records


def test_a_client_month_on_the_needs_page_does_not_raise(dash_app, client, caplog):
    payload = body(dash_app, "needs-borough.value", values={"needs-to.value": "2025-13"},
                   changed="needs-to.value")
    with caplog.at_level(logging.ERROR):
        r = post(client, payload)
    assert r.status_code in (200, 204) and not caplog.records


def test_a_callback_added_later_is_behind_the_boundary_too(dash_app, client):
    @dash_app.callback(Output("boundary-test-out", "children"),
                       Input("boundary-test-in", "n_clicks"))
    def _echo(n):
        return f"clicks: {n!r}"

    def send(value):
        payload = {"output": "boundary-test-out.children",
                   "outputs": {"id": "boundary-test-out", "property": "children"},
                   "inputs": [{"id": "boundary-test-in", "property": "n_clicks", "value": value}],
                   "changedPropIds": ["boundary-test-in.n_clicks"]}
        return post(client, payload)

    assert "clicks: 3" in send(3).get_data(as_text=True)
    assert "clicks: None" in send("3; DROP TABLE").get_data(as_text=True)
    assert send([[[]]] * 60_000).status_code == 400


# Coercion rules, one component at a time ----------------------------------------------------------
def _coerce(component: Component | None, prop: str, value, cid: str = "x"):
    catalogue = Catalogue()
    if component is not None:
        catalogue.components[cid] = component
    item = {"id": cid, "property": prop, "value": value}
    catalogue.coerce(item)
    return item["value"]


def test_a_single_dropdown_takes_text_only():
    single = Component("Dropdown", option_kinds={"text"})
    assert _coerce(single, "value", "E09000001") == "E09000001"
    for wrong in (["E09000001"], {"a": 1}, True, 1e308, "x" * 10_000):
        assert _coerce(single, "value", wrong) is None


def test_a_multi_dropdown_and_a_checklist_take_bounded_lists_of_text():
    multi = Component("Dropdown", multi=True, option_kinds={"text"})
    assert _coerce(multi, "value", ["rapid", 3, None, {"x": 1}, "ultra"]) == ["rapid", "ultra"]
    assert _coerce(multi, "value", "rapid") is None
    checklist = Component("Checklist", option_kinds={"text"})
    assert _coerce(checklist, "value", ["a"] * (boundary.MAX_ITEMS + 1)) is None
    assert _coerce(checklist, "value", ["a", "b"]) == ["a", "b"]


def test_numbers_are_kept_only_where_options_or_inputs_are_numbers():
    numeric = Component("RadioItems", option_kinds={"number"})
    assert _coerce(numeric, "value", 3) == 3
    assert _coerce(numeric, "value", float("inf")) is None
    assert _coerce(Component("Input", input_type="number"), "value", 1e308) is None
    slider = Component("Slider", bounds=(0, 4))
    assert _coerce(slider, "value", 2) == 2
    assert _coerce(slider, "value", 9) is None


def test_clicks_are_counts_and_click_data_keeps_plain_points():
    assert _coerce(None, "n_clicks", 4) == 4
    for wrong in (-1, "4", True, 2.5, 1e308, [1]):
        assert _coerce(None, "n_clicks", wrong) is None
    graph = Component("Graph")
    click = {"points": [{"location": ["E05000001"], "customdata": ["a", 1], "z": 2}, "x"]}
    assert _coerce(graph, "clickData", click) == {"points": [{"customdata": ["a", 1], "z": 2}]}
    assert _coerce(graph, "clickData", {"points": "x"}) is None


def test_a_store_keeps_the_shape_its_layout_gave_it():
    from dash import dcc, html

    catalogue = Catalogue()
    catalogue.learn(html.Div([dcc.Store(id="s", data={"sort": "rank", "page": 0}),
                              dcc.Store(id="q", data="")]))

    def coerce(cid, value):
        item = {"id": cid, "property": "data", "value": value}
        catalogue.coerce(item)
        return item["value"]

    assert coerce("s", {"sort": "name", "page": 2, "extra": 1})["page"] == 2
    assert coerce("q", "borough=E09000001") == "borough=E09000001"
    assert coerce("s", None) is None
    for wrong in ({"sort": "name"}, {"sort": ["x"], "page": 0}, ["sort"], "sort"):
        with pytest.raises(boundary.Refused):
            coerce("s", wrong)
    with pytest.raises(boundary.Refused):
        coerce("q", {"borough": "E09000001"})


def test_a_pathname_that_is_not_a_path_shows_the_not_found_view(dash_app, client):
    payload = body(dash_app, "_pages_content.children",
                   values={"_pages_location.pathname": ["/ev"], "_pages_location.search": 5})
    r = post(client, payload)
    assert r.status_code == 200
    assert "Page not found" in r.get_data(as_text=True)


def test_a_body_over_the_size_limit_is_still_413(client):
    r = client.post(URL, data=b"x" * (6 * 1024 * 1024), content_type="application/json")
    assert r.status_code == 413


def test_a_body_sent_as_form_data_is_refused_as_not_json(client):
    r = client.post(URL, data={"output": "x"})
    assert r.status_code == 400 and r.get_json()["reason"] == "the body is not JSON"


@pytest.mark.parametrize("hostile", [[["E09000001"]], {"points": [{"location": ["x"]}]}, 1e308,
                                     "2025-13"])
def test_every_callback_answers_values_of_the_wrong_type_without_an_error(dash_app, client,
                                                                         caplog, hostile):
    """Every server callback, every input and state given the same hostile value, triggered by
    its first input: a 200, 204 or 400, never a 500."""
    statuses = set()
    with caplog.at_level(logging.ERROR):
        for key, cb in list(dash_app.callback_map.items()):
            if "callback" not in cb or key.startswith("boundary-test"):
                continue
            values = {f"{s['id']}.{s['property']}": hostile
                      for s in [*cb["inputs"], *cb.get("state", [])]}
            payload = body(dash_app, key, values=values)
            for item in [*payload["inputs"], *payload["state"]]:
                if isinstance(item["id"], dict) and any(isinstance(v, list)
                                                        for v in item["id"].values()):
                    item.clear()  # a pattern-matching input: no component matched
            payload["inputs"] = [i or [] for i in payload["inputs"]]
            payload["state"] = [i or [] for i in payload["state"]]
            statuses.add(post(client, payload).status_code)
    assert statuses <= {200, 204, 400}, statuses
    assert "Traceback" not in caplog.text and not caplog.records


def test_a_real_map_click_is_passed_on_without_a_warning(dash_app, client, caplog):
    click = {"points": [{"curveNumber": 0, "pointNumber": 3, "location": "E09000022", "z": 12,
                         "bbox": {"x0": 1, "x1": 2, "y0": 3, "y1": 4}, "ct": [0.1, 51.5]}]}
    with caplog.at_level(logging.WARNING):
        r = post(client, body(dash_app, "ov-borough.value", values={"ov-map.clickData": click},
                              changed="ov-map.clickData"))
    assert r.status_code == 200 and "E09000022" in r.get_data(as_text=True)
    assert not [rec for rec in caplog.records if rec.name == "dashboard.core.boundary"]
