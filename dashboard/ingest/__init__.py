"""Operator usage data: import real charging sessions, check them, and store them as datasets.

- ``readers``: recognise and read a file (OCPI CDRs, the EV Charging Use Specification, council
  and back-office exports, or any table through a column mapping);
- ``validate``: the rules that exclude or flag a row, and the report;
- ``devices``: tie each session to a device of the app's device table;
- ``datastore``: the datasets, each immutable, behind one small interface;
- ``importer``: one import end to end; ``python -m dashboard.ingest`` runs it.
"""
from dashboard.ingest.datastore import DatasetStore, UnknownDataset
from dashboard.ingest.importer import Options, parse_period, run_import, usage_label
from dashboard.ingest.readers import IngestError, NeedsMapping

__all__ = ["DatasetStore", "IngestError", "NeedsMapping", "Options", "UnknownDataset",
           "parse_period", "run_import", "usage_label"]
