"""Hostile input for the reliability suite: links, callback bodies and paths, and their checks.

Shared by ``python -m bench.reliability`` (against gunicorn over HTTP) and the fast tests in
``tests/reliability`` (against Flask's test client). Links and callback bodies are generated with
hypothesis strategies; :func:`draw` turns a strategy into a fixed, reproducible list of cases
for the benchmark, while the tests use the same strategies under ``@given``.

A link case is a page path and a query string built from that page's own parameters (the names
``dashboard.domain.state`` and the pages read), with values that are unknown codes, markup and script
payloads, control characters, impossible or reversed months, huge values, doubled parameters and
odd percent-encodings. A callback case starts from a valid ``/_dash-update-component`` body for
one callback the app registers (read from its ``/_dash-dependencies``, filled with the values of
the page's default layout) and breaks it one way. The checks are the ones a user or a monitor
would notice: no 5xx, the page still has its heading, and no rejected value comes back as markup.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Page parameters ---------------------------------------------------------------------------------
SHARED = ("borough", "ward", "layer", "from", "to", "speed", "operator", "indicator", "measure",
          "compare")
PAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "/": SHARED,
    "/ev": SHARED + ("freq", "device"),
    "/needs": SHARED + ("classes", "x", "y", "need", "prov", "crime"),
    "/ward": ("ward", "compare", "layer", "borough"),
    "/ward/": ("compare", "layer"),     # the path form, /ward/<code>
    "/sources": ("q", "borough"),
}
PAGES = tuple(PAGE_PARAMS)

# Values that pass for real ones, so that a hostile value sits among usable ones.
PLAUSIBLE = {
    "borough": ("E09000022", "Lambeth", "e09000028", "E09000001"),
    "ward": ("E05014098", "E05000416", "e05014098"),
    "compare": ("E05014099", "E05000417"),
    "layer": ("ward2022", "ward2011"),
    "from": ("2024-04", "2025-01", "2024/6"),
    "to": ("2026-03", "2025-06"),
    "speed": ("rapid,ultra", "slow", "fast"),
    "operator": ("Shell Recharge", "ubitricity"),
    "indicator": ("imd_score", "population"),
    "measure": ("sessions", "utilisation_time"),
    "freq": ("day", "week", "month"),
    "device": ("1", "abc123"),
    "classes": ("quantile", "jenks"),
    "need": ("80",), "prov": ("20",),
}

SCRIPTS = (
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(document.domain)>",
    "'><svg/onload=alert(1)>",
    "javascript:alert(1)",
    "</title><script>alert(1)</script>",
    "<iframe src=javascript:alert(1)>",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "E09000022<script>alert(1)</script>",
    "=HYPERLINK(\"http://x\",\"y\")",
)
MONTHS = ("2025-13", "2025-00", "0000-00", "9999-99", "2026-03/2024-04", "2024-4", "2025-1-1",
          "-2025-01", "2025-02-30", "2027-01", "1900-01", "２０２５-０１", "2025-01 ", "202501")
HUGE = ("9" * 5000, "A" * 201, "E09" + "0" * 400, ",".join(["rapid"] * 300), "%" * 1000,
        "1e308", "-1", "NaN", "Infinity", "99999999999999999999999")
UNKNOWN = ("E09999999", "E05999999", "W05000001", "XYZ", "ward2099", "sessions;drop table x",
           "../../etc/passwd", "null", "undefined", "[]", "{}", "true", "0x41", "E0900002 2")
CONTROL = ("\x00", "a\x00b", "\r\nSet-Cookie: x=1", "\t", "\x1b[31m", "\u202e", "\ufeff",
           "\ud7ff", "E09000022\x00", "\x7f")

value_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


def _values(name: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(PLAUSIBLE.get(name, ("",))),
        st.sampled_from(SCRIPTS), st.sampled_from(MONTHS), st.sampled_from(HUGE),
        st.sampled_from(UNKNOWN), st.sampled_from(CONTROL), value_text,
        st.tuples(st.sampled_from(SCRIPTS + UNKNOWN), st.sampled_from(CONTROL)).map("".join),
    )


RAW_SAFE = "<>\"'();:/=,!*$@[]{}|^`~"


def encode(value: str, how: str) -> str:
    """``value`` as it may appear in a query string: percent-encoded, with markup left literal,
    encoded twice, or with ``+`` for spaces."""
    if how == "raw":
        return quote(value, safe=RAW_SAFE)
    if how == "double":
        return quote(quote(value, safe=""), safe="")
    if how == "plus":
        return quote(value, safe="").replace("%20", "+")
    return quote(value, safe="")


@dataclass(frozen=True)
class Link:
    """A page address with a hostile query: ``path`` and ``query`` (without "?"), and the
    decoded values it carries."""

    page: str
    path: str
    query: str
    values: tuple[str, ...]

    @property
    def url(self) -> str:
        return self.path + ("?" + self.query if self.query else "")


@st.composite
def links(draw) -> Link:
    page = draw(st.sampled_from(PAGES))
    names = PAGE_PARAMS[page]
    pairs = draw(st.lists(st.tuples(st.sampled_from(names), st.data()), min_size=1, max_size=5))
    parts, values = [], []
    for name, data in pairs:
        value = data.draw(_values(name))
        how = data.draw(st.sampled_from(("quote", "raw", "double", "plus")))
        key = data.draw(st.sampled_from((name, name, name.upper(), f" {name}", f"{name}[]")))
        parts.append(f"{encode(key, 'quote')}={encode(value, how)}")
        values.append(value)
        if data.draw(st.booleans()):   # the same parameter twice
            other = data.draw(_values(name))
            parts.append(f"{quote(name)}={encode(other, 'quote')}")
            values.append(other)
    path = page
    if page == "/ward/":
        code = draw(st.one_of(st.sampled_from(PLAUSIBLE["ward"] + UNKNOWN + SCRIPTS), value_text))
        path = "/ward/" + quote(code, safe="") if code else "/ward/x"
        values.append(code)
    return Link(page=page, path=path, query="&".join(parts), values=tuple(values))


def draw(strategy: st.SearchStrategy, count: int) -> list:
    """``count`` examples of ``strategy``, the same ones on every run (hypothesis derandomised,
    without its example database); fewer only when the strategy has fewer distinct ones."""
    found: list = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=("generate",))
    @given(strategy)
    def collect(example):
        found.append(example)

    collect()
    return found[:count]


# Checks ------------------------------------------------------------------------------------------
DANGEROUS = re.compile(r"<\s*[a-z/!]|javascript:|on[a-z]+\s*=|\r\n", re.IGNORECASE)


def dangerous(value: str) -> bool:
    """Whether ``value`` would do harm if a page wrote it back unescaped."""
    return bool(DANGEROUS.search(value or ""))


def strings(node) -> Iterable[str]:
    """Every string in a JSON value (keys and values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, dict):
        for key, item in node.items():
            yield key
            yield from strings(item)


def headings(node) -> list[str]:
    """The text of every ``html.H1`` in a Dash layout (JSON)."""
    found = []
    if isinstance(node, list):
        for item in node:
            found += headings(item)
    elif isinstance(node, dict):
        if node.get("type") == "H1" and isinstance(node.get("props"), dict):
            found.append(" ".join(strings(node["props"].get("children"))).strip())
        for item in node.values():
            if isinstance(item, (list, dict)):
                found += headings(item)
    return found


MARKUP = re.compile(r"<\s*[a-z/!]|\"\s*>|\r\n", re.IGNORECASE)


def check_html(link: Link, status: int, text: str) -> list[str]:
    """Problems with the index page a link answers (the shell the browser renders into): in
    HTML the harm is a value that opens a tag or closes an attribute."""
    problems = []
    if status >= 500:
        problems.append(f"GET answered {status}")
    for value in link.values:
        if MARKUP.search(value or "") and value in text:
            problems.append(f"GET wrote {value[:40]!r} into the page unescaped")
    return problems


def check_layout(link: Link, status: int, body: Any) -> list[str]:
    """Problems with the page layout the router callback answers for a link."""
    if status >= 500:
        return [f"layout answered {status}"]
    if status != 200 or not isinstance(body, dict):
        return [f"layout answered {status} without a layout"]
    problems = []
    if not any(headings(body)):
        problems.append("the layout has no heading")
    found = list(strings(body))
    for value in link.values:
        if dangerous(value) and any(value in s for s in found):
            problems.append(f"the layout repeats {value[:40]!r} raw")
    return problems


# Callback bodies ---------------------------------------------------------------------------------
WILDCARDS = ('["ALL"]', '["MATCH"]', '["ALLSMALLER"]')


def _parse_id(text: str):
    return json.loads(text) if text.startswith("{") else text


def _id_key(cid) -> str:
    return json.dumps(cid, sort_keys=True, separators=(",", ":")) if isinstance(cid, dict) else cid


def split_output(output: str) -> list[dict]:
    """The ``outputs`` of a dispatch body from a dependency's ``output`` string."""
    parts = [p for p in output.strip(".").split("...") if p] if output.startswith("..") \
        else [output]
    out = []
    for part in parts:
        part = part.split("@", 1)[0]
        cid, prop = part.rsplit(".", 1)
        out.append({"id": _parse_id(cid), "property": prop})
    return out


def walk(node, found: dict) -> None:
    """Collect the props of every component with an id in a layout JSON tree."""
    if isinstance(node, list):
        for item in node:
            walk(item, found)
    elif isinstance(node, dict):
        props = node.get("props")
        if not isinstance(props, dict):
            for value in node.values():
                walk(value, found)
            return
        if props.get("id") is not None:
            found[_id_key(props["id"])] = props
        for value in props.values():
            walk(value, found)


def _matches(pattern: dict, cid: dict) -> bool:
    return set(pattern) == set(cid) and all(
        isinstance(v, list) or cid.get(k) == v for k, v in pattern.items())


def _item(dep: dict, props: dict):
    """A dispatch body's entry for one input or state: a concrete id's value, or the list of
    matching components for an ALL pattern (one of them for MATCH)."""
    text, prop = dep["id"], dep["property"]
    if any(w in text for w in WILDCARDS):
        pattern = json.loads(text)
        items = [{"id": json.loads(key), "property": prop, "value": p.get(prop)}
                 for key, p in props.items() if key.startswith("{")
                 and _matches(pattern, json.loads(key))]
        if '["MATCH"]' in text:
            return items[0] if items else {"id": {k: (v if not isinstance(v, list) else "x")
                                                  for k, v in pattern.items()},
                                           "property": prop, "value": None}
        return items
    cid = _parse_id(text)
    return {"id": cid, "property": prop, "value": props.get(_id_key(cid), {}).get(prop)}


def base_body(dep: dict, props: dict) -> dict:
    """A valid dispatch body for callback ``dep`` with the values in ``props`` (by id)."""
    inputs = [_item(d, props) for d in dep["inputs"]]
    first = inputs[0] if inputs else None
    if isinstance(first, list):
        first = first[0] if first else None
    changed = [f"{_id_key(first['id'])}.{first['property']}"] if first else []
    outputs = split_output(dep["output"])
    return {"output": dep["output"],
            "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": inputs, "changedPropIds": changed,
            "state": [_item(d, props) for d in dep.get("state", [])]}


def bases(deps: list[dict], props: dict) -> list[dict]:
    """A valid body for every registered server callback (clientside ones never reach the
    server, but a client may still send them)."""
    return [base_body(d, props) for d in deps]


DEEP = "[" * 1000 + "]" * 1000
BAD_VALUES: dict[str, Callable[[], str]] = {   # JSON text of a wrong value for an input
    "list": lambda: '["E09000022", 1, null]',
    "dict": lambda: '{"value": "E09000022", "__proto__": {}}',
    "bool": lambda: "true",
    "1e308": lambda: "1e308",
    "1e999": lambda: "1e999",
    "NaN": lambda: "NaN",
    "-Infinity": lambda: "-Infinity",
    "huge string": lambda: json.dumps("x" * 1_000_000),
    "deep list": lambda: DEEP,
    "100,000 items": lambda: json.dumps(["rapid"] * 100_000),
    "month 2025-13": lambda: '"2025-13"',
    "months reversed": lambda: '["2026-03", "2024-04"]',
    "script": lambda: json.dumps(SCRIPTS[1]),
    "control characters": lambda: json.dumps("E09\x00\r\n"),
    "empty string": lambda: '""',
    "negative": lambda: "-1",
}
PLACEHOLDER = "\"__value_placeholder__\""


def _with_value(body: dict, where: str, index: int, bad: str) -> str:
    """The JSON text of ``body`` with input or state ``index`` (wrapped) given JSON text ``bad``."""
    copy = json.loads(json.dumps(body))
    items = copy[where]
    if not items:
        return json.dumps(copy)
    target = items[index % len(items)]
    if isinstance(target, list):
        if not target:
            items[index % len(items)] = json.loads(PLACEHOLDER)   # a list where one was expected
        else:
            target[0]["value"] = json.loads(PLACEHOLDER)
    else:
        target["value"] = json.loads(PLACEHOLDER)
    return json.dumps(copy).replace(PLACEHOLDER, bad, 1)


def _mangled(body: dict, how: str) -> str:
    copy = json.loads(json.dumps(body))
    if how == "unknown output":
        copy["output"] = "no-such-component.children"
        copy["outputs"] = {"id": "no-such-component", "property": "children"}
    elif how == "mangled output":
        copy["output"] = copy["output"][::-1]
    elif how == "output hash changed":
        copy["output"] = copy["output"].split("@")[0] + "@" + "0" * 64
    elif how == "outputs of the wrong shape":
        copy["outputs"] = "ev-map.figure"
    elif how == "no inputs":
        copy.pop("inputs")
    elif how == "one input missing":
        copy["inputs"] = copy["inputs"][1:]
    elif how == "no state":
        copy.pop("state", None)
        copy["state"] = None if copy.get("inputs") else []
    elif how == "state missing":
        copy.pop("state", None)
    elif how == "extra input":
        copy["inputs"] = copy["inputs"] + [{"id": "x", "property": "value", "value": 1}]
    elif how == "input without id":
        copy["inputs"] = [{"value": 1} for _ in copy["inputs"]] or [{"value": 1}]
    elif how == "changedPropIds not a list":
        copy["changedPropIds"] = "ev-borough.value"
    elif how == "input id a number":
        copy["inputs"] = [{"id": 7, "property": "value", "value": None}
                          for _ in copy["inputs"]]
    elif how == "inputs a dict":
        copy["inputs"] = {"a": 1}
    return json.dumps(copy)


MANGLES = ("unknown output", "mangled output", "output hash changed",
           "outputs of the wrong shape", "no inputs", "one input missing", "no state",
           "state missing", "extra input", "input without id", "changedPropIds not a list",
           "input id a number", "inputs a dict")
RAW_BODIES = {"invalid JSON": '{"output": "ev-map.figure", "inputs": [', "empty body": "",
              "a list": "[]", "null": "null", "a string": '"x"', "a number": "1e308",
              "an empty object": "{}", "not UTF-8": "\udcff"}


@dataclass(frozen=True)
class Body:
    """A dispatch body as sent: what was broken, for which callback, and the JSON text."""

    label: str
    output: str
    text: str


def bodies(valid: list[dict]) -> st.SearchStrategy[Body]:
    """Broken dispatch bodies made from the valid ones."""
    index = st.integers(min_value=0, max_value=len(valid) - 1)

    def bad_value(args):
        i, where, k, kind = args
        body = valid[i]
        return Body(f"{kind} in {where}", body["output"],
                    _with_value(body, where, k, BAD_VALUES[kind]()))

    def mangle(args):
        i, how = args
        return Body(how, valid[i]["output"], _mangled(valid[i], how))

    def raw(args):
        i, label = args
        return Body(label, valid[i]["output"], RAW_BODIES[label])

    return st.one_of(
        st.tuples(index, st.sampled_from(("inputs", "inputs", "state")),
                  st.integers(0, 8), st.sampled_from(tuple(BAD_VALUES))).map(bad_value),
        st.tuples(index, st.sampled_from(MANGLES)).map(mangle),
        st.tuples(index, st.sampled_from(tuple(RAW_BODIES))).map(raw),
        index.map(lambda i: Body("valid", valid[i]["output"], json.dumps(valid[i]))),
    )


def encode_body(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# Path probes -------------------------------------------------------------------------------------
PROBE_PREFIXES = ("/_dash-component-suites/", "/assets/", "/geo/", "/ev-points/",
                  "/ward-options/", "/ward/")
TRICKS = ("..%2f..%2fapp.py", "../../app.py", "%2e%2e/%2e%2e/etc/passwd", "..%252f..%252fapp.py",
          "%00", "x%00.js", "dash/%00", "dash/deps/", "os/path.py", "dash/../../app.py",
          "dash/dash-renderer/build/dash_renderer.min.js%00.map", "plotly/../../../etc/passwd",
          "....//....//etc/passwd", "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "dash/dcc/",
          "dash/dcc/async-graph.js/..", "flask/__init__.py", "dash/_utils.py",
          "dash/dash_table/bundle.js", "dash/dcc/async-nonexistent.js", "nonexistent/x.js",
          "dash/dcc/async-graph.v9_9_9m999.js", "dash/%2e%2e/%2e%2e/app.py", "%5c..%5capp.py",
          "x" * 3000, "dash/" + "a/" * 200, "%ff%fe", "dash/deps/polyfill@7.v0.js",
          "style.css%00", "..;/app.py", "x/y", "E05014098/other")
UNKNOWN_PAGES = ("/.git/config", "/app.py", "/.env", "/wp-login.php", "/admin",
                 "/ev/x", "/needs/../app.py", "/sources.json", "/%00", "/index.php?x=1",
                 "/server-status", "/_dash-layout/x",
                 "/healthz/x", "/robots.txt", "/favicon.ico.bak", "/ev%2f..%2fapp.py",
                 "/cgi-bin/test.cgi")


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    expect_404: bool = False    # an unknown page: the status should say so


def probes(geo_names: Iterable[str] = (), pdf_codes: Iterable[str] = ()) -> list[Probe]:
    """Path probes: traversal and NUL tricks under each served prefix, the PDF route with bad
    codes, HEAD and odd methods, and unknown pages (which should answer 404)."""
    out = [Probe("GET", prefix + trick) for prefix in PROBE_PREFIXES for trick in TRICKS]
    out += [Probe("GET", f"/ward/{code}/profile.pdf") for code in
            ("E05999999", "%3Cscript%3E", "E05014098%00", "..%2f..%2fapp.py", "x" * 300,
             "E05014098/..", "E05014098%2F..")]
    out += [Probe("HEAD", f"/geo/{name}") for name in geo_names]
    out += [Probe("HEAD", f"/ward/{code}/profile.pdf") for code in pdf_codes]
    out += [Probe("OPTIONS", "/"), Probe("PUT", "/ev"), Probe("DELETE", "/_dash-update-component"),
            Probe("GET", "/_dash-update-component"), Probe("PATCH", "/healthz")]
    out += [Probe("GET", page, expect_404=True) for page in UNKNOWN_PAGES]
    return out
