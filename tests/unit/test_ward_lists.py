"""The ward pickers' options file: exactly what the server would send for each borough."""
from __future__ import annotations

import json

from dashboard.domain import filters
from dashboard.core import runtime
from dashboard.core import ward_lists


def test_every_layer_and_borough_has_the_servers_options():
    known = runtime.known()
    lists = ward_lists.lists(known)
    assert set(lists) == {"ward2022", "ward2011"}
    for layer, by_borough in lists.items():
        assert by_borough[""] == filters.ward_options(known, layer, None)
        assert set(by_borough) == {"", *known.boroughs}
        for borough in known.boroughs:
            assert by_borough[borough] == filters.ward_options(known, layer, borough)
        # Every ward of London once in the London list, and once in its borough's.
        assert len(by_borough[""]) == len(known.wards[layer])
        assert sum(len(v) for k, v in by_borough.items() if k) == len(known.wards[layer])


def test_the_file_name_follows_its_content():
    known = runtime.known()
    name, packed = ward_lists._file(known)
    assert ward_lists.url(known) == ward_lists.ROUTE + name
    assert json.loads(packed.raw) == ward_lists.lists(known)
    assert name.startswith("wards.") and packed.digest[:12] in name
    assert ward_lists._file(known) is ward_lists._file(known)  # made once
