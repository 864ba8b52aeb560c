"""The callback boundary: every ``/_dash-update-component`` request is checked before Dash runs it.

One wrapper around Dash's dispatch view covers every server callback, including ones added
later. It does two things:

1. **Refuses malformed requests** with a 400 and a short JSON error (logged once as a warning,
   no traceback): a body that is not JSON or not a JSON object, an output no callback has,
   inputs or state that do not match what the callback declares, lists nested deeper than
   ``MAX_DEPTH``, more than ``MAX_NODES`` values in all, a string over ``MAX_STRING`` characters,
   a number that is not finite, or a store whose data does not have the shape the page gave it.
2. **Coerces each input to what its component can send** (``SPECS``, keyed by component type and
   property): a wrong type is replaced by ``None``, which every callback already reads as "no
   value" or "unknown", so a list where a dropdown sends a string is answered as an unknown
   borough would be. Component types, dropdown options, slider ranges and the shapes of stores
   are read once from the pages' layouts (``learn``).

The parsed body is Flask's cached JSON (``request.get_json``): the coerced values are written
into it in place, and Dash's own dispatch then reads the same object.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import flask
from dash._utils import stringify_id
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

log = logging.getLogger(__name__)

DISPATCH_ENDPOINT = "_dash-update-component"
MAX_DEPTH = 32          # nesting of lists and objects anywhere in the body
MAX_NODES = 50_000      # values in the whole body
MAX_STRING = 100_000    # characters in any one string
MAX_TEXT = 500          # characters in a value the user picks or types (dropdown, search box)
MAX_ITEMS = 1_000       # items in a multi-select value
MAX_COUNT = 2 ** 31     # clicks, intervals
MAX_POINTS = 100        # points in a graph's click or selection data
MAX_URL = 8_192         # characters in a Location's path, query or address


class Refused(ValueError):
    """A request the boundary answers with 400; the message is short and quotes no input."""


# What a component property accepts ---------------------------------------------------------------
@dataclass
class Component:
    """What the layouts say about one component id (several layouts may add to it)."""
    type: str
    multi: bool = False
    option_kinds: set = field(default_factory=set)   # "text", "number"
    input_type: str | None = None
    bounds: tuple[float, float] | None = None
    store_kinds: set = field(default_factory=set)    # "dict", "list", "text", "number", "bool"
    store_keys: dict = field(default_factory=dict)   # key -> kinds seen in the layouts


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    return "other"


def _finite(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and abs(value) <= 1e15)


def _text(value: Any, _c: Component | None = None) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_TEXT else None


def _count(value: Any, _c: Component | None = None) -> int | None:
    if _finite(value) and value == int(value) and 0 <= value <= MAX_COUNT:
        return int(value)
    return None


def _option(value: Any, c: Component | None) -> Any:
    """One value of a choice component: text, or a number where its options are numbers."""
    if isinstance(value, str):
        return _text(value)
    if c is not None and "number" in c.option_kinds and _finite(value):
        return value
    return None


def _options(value: Any, c: Component | None) -> list | None:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        return None
    return [v for v in (_option(item, c) for item in value) if v is not None]


def _choice(value: Any, c: Component | None) -> Any:
    if c is not None and c.multi:
        return _options(value, c)
    return _option(value, c)


def _input(value: Any, c: Component | None) -> Any:
    if c is not None and c.input_type == "number":
        return value if _finite(value) else None
    return _text(value)


def _slider(value: Any, c: Component | None) -> Any:
    if not _finite(value):
        return None
    if c is not None and c.bounds is not None and not c.bounds[0] <= value <= c.bounds[1]:
        return None
    return value


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool)) or _finite(value)


def _points(value: Any, _c: Component | None = None) -> dict | None:
    """A graph's click, hover or selection data: points whose fields are plain values (and
    ``customdata``, which may be a list of them); anything else is no click."""
    if not isinstance(value, dict) or not isinstance(value.get("points"), list):
        return None
    points = []
    for point in value["points"][:MAX_POINTS]:
        if isinstance(point, dict):
            points.append({k: v for k, v in point.items() if _scalar(v) or (
                k == "customdata" and isinstance(v, list) and all(map(_scalar, v)))})
    return {**value, "points": points}


# A path no page has: what a Location's pathname becomes when it is not a path, so that the
# router shows the not-found view, as for any unknown address.
UNKNOWN_PATH = "/not-a-path"


def _path(value: Any, _c: Component | None = None) -> str:
    ok = isinstance(value, str) and value.startswith("/") and len(value) <= MAX_URL
    return value if ok else UNKNOWN_PATH


def _url_part(value: Any, _c: Component | None = None) -> str:
    return value if isinstance(value, str) and len(value) <= MAX_URL else ""


def _store(value: Any, c: Component | None) -> Any:
    """Store data keeps the shape the page's layout gave it: a store the page filled with an
    object gets an object with the same keys holding the same kinds of values."""
    if value is None or c is None or not c.store_kinds:
        return value
    kind = _kind(value)
    if kind not in c.store_kinds:
        raise Refused("store data of the wrong shape")
    if kind == "dict":
        for key, kinds in c.store_keys.items():
            if key not in value:
                raise Refused("store data of the wrong shape")
            if kinds and value[key] is not None and _kind(value[key]) not in kinds:
                raise Refused("store data of the wrong shape")
    return value


def _pass(value: Any, _c: Component | None = None) -> Any:
    return value


# (component type, property) -> coercion; "*" matches any type. Anything not listed passes as
# sent, within the body's limits.
SPECS: dict[tuple[str, str], Callable[[Any, Component | None], Any]] = {
    ("Dropdown", "value"): _choice,
    ("RadioItems", "value"): _choice,
    ("Checklist", "value"): _options,
    ("Tabs", "value"): _text,
    ("Input", "value"): _input,
    ("Textarea", "value"): _text,
    ("Slider", "value"): _slider,
    ("Store", "data"): _store,
    ("Graph", "clickData"): _points,
    ("Graph", "hoverData"): _points,
    ("Graph", "selectedData"): _points,
    ("Location", "pathname"): _path,
    ("Location", "search"): _url_part,
    ("Location", "hash"): _url_part,
    ("Location", "href"): _url_part,
    ("*", "n_clicks"): _count,
    ("*", "n_intervals"): _count,
    ("*", "n_submit"): _count,
    ("*", "n_blur"): _count,
    ("*", "modified_timestamp"): _pass,  # milliseconds since 1970 (-1 before any write)
}
# What a property accepts when its component was not in any layout read (drawn by a callback).
BY_PROPERTY = {
    "value": lambda v, c: v if _scalar(v) and not isinstance(v, bool) else
    (_options(v, None) if isinstance(v, list) else None),
    "clickData": _points,
    "pathname": _path,
    "search": _url_part,
}


class Catalogue:
    """Component ids -> what they accept, learned from layouts."""

    def __init__(self) -> None:
        self.components: dict[str, Component] = {}

    def learn(self, layout: Any) -> None:
        """Read every component with an id in ``layout`` (a Dash component tree)."""
        if layout is None or not hasattr(layout, "_traverse"):
            return
        for node in (layout, *layout._traverse()):
            cid = getattr(node, "id", None)
            if cid is None or not hasattr(node, "_type"):
                continue
            key = stringify_id(cid)
            c = self.components.get(key)
            if c is None or c.type != node._type:
                c = self.components[key] = Component(node._type)
            self._read(c, node)

    @staticmethod
    def _read(c: Component, node: Any) -> None:
        c.multi = c.multi or bool(getattr(node, "multi", False))
        options = getattr(node, "options", None)
        values: Iterable = ()
        if isinstance(options, dict):
            values = options.keys()
        elif isinstance(options, list):
            values = [o.get("value") if isinstance(o, dict) else o for o in options]
        c.option_kinds.update(k for k in map(_kind, values) if k in ("text", "number"))
        if c.type == "Input":
            c.input_type = getattr(node, "type", None) or c.input_type
        low, high = getattr(node, "min", None), getattr(node, "max", None)
        if _finite(low) and _finite(high):
            c.bounds = (min(low, (c.bounds or (low, high))[0]),
                        max(high, (c.bounds or (low, high))[1]))
        if c.type == "Store":
            data = getattr(node, "data", None)
            kind = _kind(data)
            if kind is not None:
                first = not c.store_kinds
                c.store_kinds.add(kind)
                if kind == "dict":
                    kinds = {k: ({_kind(v)} - {None}) for k, v in data.items()}
                    if first or not c.store_keys:
                        c.store_keys = kinds
                    else:  # keys every layout gives; the kinds any of them gives
                        c.store_keys = {k: c.store_keys[k] | kinds[k]
                                        for k in c.store_keys.keys() & kinds.keys()}

    def coerce(self, item: dict) -> bool:
        """Replace ``item["value"]`` (one input or state of a body) by what its component can
        send (True when a value was replaced by None; trimming a click's extra fields or a
        list's unusable items is not reported); raise ``Refused`` for store data of the wrong
        shape."""
        key = stringify_id(item["id"])
        prop = item["property"]
        c = self.components.get(key)
        rule = None
        if c is not None:
            rule = SPECS.get((c.type, prop)) or SPECS.get(("*", prop))
        else:
            rule = SPECS.get(("*", prop)) or BY_PROPERTY.get(prop)
        if rule is None or "value" not in item:
            return False
        sent = item["value"]
        item["value"] = rule(sent, c)
        return item["value"] is None and sent is not None


# The body ----------------------------------------------------------------------------------------
def _check_limits(body: Any) -> None:
    """Depth, size, string lengths and finite numbers, in one pass without recursion."""
    stack = [(body, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise Refused("too many values")
        if isinstance(value, dict):
            if depth >= MAX_DEPTH:
                raise Refused("nested too deeply")
            stack.extend((v, depth + 1) for v in value.values())
            for k in value:
                if len(k) > MAX_STRING:
                    raise Refused("a string is too long")
        elif isinstance(value, list):
            if depth >= MAX_DEPTH:
                raise Refused("nested too deeply")
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            if len(value) > MAX_STRING:
                raise Refused("a string is too long")
        elif isinstance(value, float) and not math.isfinite(value):
            raise Refused("a number is not finite")


def _is_pattern(declared_id: str) -> bool:
    if not declared_id.startswith("{"):
        return False
    try:
        return any(isinstance(v, list) for v in json.loads(declared_id).values())
    except ValueError:
        return False


def _prop(item: Any) -> dict:
    if (not isinstance(item, dict) or not isinstance(item.get("property"), str)
            or not isinstance(item.get("id"), (str, dict))):
        raise Refused("an input or output is not {id, property}")
    if isinstance(item["id"], dict) and not all(
            isinstance(k, str) and _scalar(v) for k, v in item["id"].items()):
        raise Refused("an id is not a plain object")
    return item


def _check_props(given: Any, declared: list, what: str, catalogue: Catalogue) -> list[str]:
    """Check inputs or state against the callback's; coerce their values. Returns the
    ``id.property`` of each value coerced."""
    coerced = []
    if not isinstance(given, list) or len(given) != len(declared):
        raise Refused(f"{what} do not match the callback")
    for item, spec in zip(given, declared):
        if _is_pattern(spec["id"]):
            items = item if isinstance(item, list) else [item]
            if len(items) > MAX_ITEMS:
                raise Refused(f"{what} do not match the callback")
            for one in items:
                if _prop(one)["property"] != spec["property"]:
                    raise Refused(f"{what} do not match the callback")
                if catalogue.coerce(one):
                    coerced.append(f"{spec['id']}.{spec['property']}")
            continue
        _prop(item)
        if stringify_id(item["id"]) != spec["id"] or item["property"] != spec["property"]:
            raise Refused(f"{what} do not match the callback")
        if catalogue.coerce(item):
            coerced.append(f"{spec['id']}.{spec['property']}")
    return coerced


def check(body: Any, callback_map: dict, catalogue: Catalogue) -> None:
    """Validate a parsed dispatch body against the app's callbacks and coerce its values in
    place; raise ``Refused`` with a short reason."""
    if not isinstance(body, dict):
        raise Refused("the body is not a JSON object")
    _check_limits(body)
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        raise Refused("no callback has that output")
    cb = callback_map[output]
    outputs = body.get("outputs")
    declared = cb.get("output")
    count = len(declared) if isinstance(declared, (list, tuple)) else 1
    if not cb.get("no_output"):
        listed = outputs if isinstance(outputs, list) else [outputs]
        if (isinstance(outputs, list) != isinstance(declared, (list, tuple))
                or len(listed) != count):
            raise Refused("outputs do not match the callback")
        for item in listed:
            for one in (item if isinstance(item, list) else [item]):
                _prop(one)
    coerced = _check_props(body.get("inputs"), cb.get("inputs", []), "inputs", catalogue)
    coerced += _check_props(body.get("state", []), cb.get("state", []), "state", catalogue)
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(p, str) for p in changed):
        raise Refused("changedPropIds is not a list of strings")
    if coerced:  # the ids are the callback's own (matched above), never the client's text
        log.warning("callback values of the wrong type read as none: %s",
                    ", ".join(sorted(set(coerced))[:5]))


def refuse(reason: str) -> flask.Response:
    log.warning("refused a callback request: %s", reason)
    return flask.Response(json.dumps({"error": "bad callback request", "reason": reason}),
                          status=400, mimetype="application/json")


def install(app, catalogue: Catalogue) -> None:
    """Wrap the app's dispatch view (once) so that every callback request passes ``check``."""
    server = app.server
    endpoint = app.config.routes_pathname_prefix + DISPATCH_ENDPOINT
    dispatch = server.view_functions[endpoint]
    if getattr(dispatch, "_boundary", False):
        return

    def guarded(*args, **kwargs):
        try:
            body = flask.request.get_json(cache=True)
        except (BadRequest, UnsupportedMediaType):  # a body over the size limit stays a 413
            return refuse("the body is not JSON")
        except RecursionError:
            return refuse("nested too deeply")
        try:
            check(body, app.callback_map, catalogue)
        except Refused as exc:
            return refuse(str(exc))
        return dispatch(*args, **kwargs)

    guarded._boundary = True
    guarded.__wrapped__ = dispatch  # Dash's own view, for measuring what the boundary costs
    for name in ("__name__", "__qualname__", "__module__"):
        setattr(guarded, name, getattr(dispatch, name))
    server.view_functions[endpoint] = guarded
