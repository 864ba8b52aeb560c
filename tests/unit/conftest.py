"""The whole app, built once for the tests that talk to it over Flask's test client."""
from __future__ import annotations

import pytest

from dashboard.core.config import DEFAULT_DATA_DIR, Config


@pytest.fixture(scope="session")
def dash_app(tmp_path_factory):
    """``create_app()`` on the committed data, with a small simulation in a fresh cache folder
    (a few seconds to generate) so that the tests do not depend on a cache left by a run."""
    from dashboard.core.app import create_app

    cache = tmp_path_factory.mktemp("cache")
    return create_app(Config(data_dir=DEFAULT_DATA_DIR, cache_dir=cache, sim_scale=0.05))


@pytest.fixture
def client(dash_app):
    return dash_app.server.test_client()
