"""The repository keeps its promises to a newcomer: README commands, CI, processed data."""
from __future__ import annotations

import re

from dashboard.core.config import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    top = text.split("---", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", top)


def test_readme_opens_with_exactly_two_setup_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert "requirements.txt" in commands[0] and "app.py" in commands[0]
    assert "requirements-dev.txt" in commands[1] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_processed_data_is_small_enough_to_commit():
    data = ROOT / "data"
    total = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    assert total <= 25 * 1024 * 1024, f"data/ is {total / 1e6:.1f} MB"


def _bundle_traces() -> list[str]:
    entry = (ROOT / "tools" / "plotly-bundle" / "entry.js").read_text(encoding="utf-8")
    return [t for t in re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry) if t != "core"]


def test_plotly_bundle_has_every_trace_type_the_pages_draw():
    import plotly.graph_objects as go

    trace_types = set(go.Figure()._data_validator.class_strs_map)
    used = set()
    for path in [*(ROOT / "dashboard").rglob("*.py"), *(ROOT / "pages").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= {name.lower() for name in re.findall(r"\bgo\.([A-Z]\w*)\(", text)}
        used |= set(re.findall(r"\btype=[\"'](\w+)[\"']", text))
    used &= trace_types
    assert "choroplethmap" in used and "bar" in used  # the search finds the figures
    missing = used - {"scatter", *_bundle_traces()}  # scatter is in plotly.js's core
    assert not missing, f"add {sorted(missing)} to tools/plotly-bundle/entry.js and rebuild"


def test_plotly_bundle_was_built_from_its_entry_and_the_plotly_package_version():
    from plotly.offline import get_plotlyjs_version

    head = (ROOT / "vendor" / "plotly" / "plotly.min.js").read_bytes()[:300].decode("utf-8")
    assert f"plotly.js v{get_plotlyjs_version()}, " in head
    assert f"partial bundle: scatter, {', '.join(_bundle_traces())}." in head
