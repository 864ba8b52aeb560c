"""The repository keeps its promises to a newcomer: README commands, CI, processed data."""
from __future__ import annotations

import re

from dashboard.config import ROOT


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
