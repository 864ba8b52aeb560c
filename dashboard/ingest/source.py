"""Which usage a view shows: the simulation (the default) or an imported dataset.

A link names an imported dataset as ``usage=<dataset_id>``. Read as ``dashboard.domain.state`` reads
every parameter: never failing, and explaining what it drops. An unknown or unreadable id shows
the simulation, with a message and a logged warning; a blank value is the simulation.
``UsageSource`` carries what a page needs to label every usage figure: "Simulated usage", or
"Operator data: <operator>, <period>, imported <date>".
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from dashboard.ingest.datastore import DatasetStore, UnknownDataset
from dashboard.ingest.importer import usage_label
from dashboard.domain.state import Message, excerpt

log = logging.getLogger(__name__)

SIMULATION = "simulation"
STORES_KEPT = 4  # datasets whose store each process keeps open


@dataclass(frozen=True)
class UsageSource:
    dataset_id: str | None          # None: the simulation
    label: str
    record: dict | None = None

    @property
    def simulated(self) -> bool:
        return self.dataset_id is None

    @property
    def months(self) -> tuple[str, str] | None:
        """First and last month of an imported dataset (``YYYY-MM``); None for the simulation."""
        if self.record is None:
            return None
        return self.record["period"][0][:7], self.record["period"][1][:7]


SIMULATED = UsageSource(None, usage_label(None))


def parse_usage(value: str | None, datasets: DatasetStore) -> tuple[UsageSource, Message | None]:
    """The usage a ``usage=`` value names, and a message when it could not be used."""
    text = (value or "").strip()
    if not text or text.lower() == SIMULATION:
        return SIMULATED, None
    try:
        record = datasets.record(text)
    except (UnknownDataset, OSError, ValueError):
        log.warning("usage dataset not found: %s", excerpt(text))
        return SIMULATED, Message(
            "warning",
            f"No imported usage dataset \u201c{excerpt(text)}\u201d: showing simulated usage.")
    return UsageSource(record["dataset_id"], usage_label(record), record), None


def choices(datasets: DatasetStore) -> list[dict]:
    """Options for a "Usage data" control: the simulation first, then each dataset."""
    out = [{"label": usage_label(None), "value": SIMULATION}]
    out += [{"label": usage_label(r), "value": r["dataset_id"]} for r in datasets.datasets()]
    return out


class StoreCache:
    """One open ``Store`` per recently used dataset in this process (opened on first use)."""

    def __init__(self, config, datasets: DatasetStore, size: int = STORES_KEPT):
        self.config = config
        self.datasets = datasets
        self.size = size
        self._lock = threading.Lock()
        self._stores: OrderedDict[str, object] = OrderedDict()

    def get(self, dataset_id: str):
        from dashboard.data.store import Store
        with self._lock:
            store = self._stores.pop(dataset_id, None)
            if store is None:
                store = Store(self.config, sessions=self.datasets.sessions_path(dataset_id),
                              chargepoints=self.datasets.chargepoints_path(dataset_id))
            self._stores[dataset_id] = store
            while len(self._stores) > self.size:
                _, old = self._stores.popitem(last=False)
                old.close()
            return store

    def forget(self, dataset_id: str) -> None:
        """Close a deleted dataset's store."""
        with self._lock:
            store = self._stores.pop(dataset_id, None)
        if store is not None:
            store.close()
