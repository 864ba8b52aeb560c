"""Shared test fixtures: where the committed processed data and the raw sources live."""
from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.core.config import DEFAULT_DATA_DIR, DEFAULT_RAW_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The committed processed data that the app runs on."""
    return DEFAULT_DATA_DIR


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The raw open data; tests that rebuild from it skip when it is not beside the repository."""
    if not (DEFAULT_RAW_DIR / "boundaries").is_dir():
        pytest.skip("raw open data not present beside the repository")
    return DEFAULT_RAW_DIR
