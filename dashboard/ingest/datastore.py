"""The dataset store: imported usage datasets on a local folder, behind one small interface.

Layout under the root (``BD_DATA_STORE``, default ``instance/datasets``; never under the
disposable ``cache/``)::

    <dataset_id>/record.json          who, when, file names and SHA-256, counts, period
    <dataset_id>/report.csv           the validation report
    <dataset_id>/devices.csv          each device reference of the file and how it was matched
    <dataset_id>/chargepoints.parquet the device table the dataset was matched against (plus any
                                      devices it added), so that it never changes afterwards
    <dataset_id>/sessions/            sessions (session schema, UTC) and manifest.json, with the
                                      session index (the simulation's rollups) built beside them
    _state/device_ids.json            device references matched before -> device_id
    _state/profiles/<name>.json       saved column mappings
    _state/audit.jsonl                import and delete events, appended

A dataset is written into a temporary folder under the root and renamed into place only when
complete, so a failed or cancelled import leaves nothing; datasets are never rewritten; delete
is explicit and logged. Every method a page or job needs is on ``DatasetStore``, so that another
backend can replace the folder without the callers changing; a sign-in layer can guard each
call by role.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dashboard.core.config import ROOT
from dashboard.data.usage import file_lock

log = logging.getLogger(__name__)

DEFAULT_ROOT = ROOT / "instance" / "datasets"
STATE = "_state"
DATASET_ID = re.compile(r"^[a-z0-9][a-z0-9-]{7,63}$")
PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


class UnknownDataset(KeyError):
    """No dataset has this id (or the id is not one the store could have made)."""

    def __str__(self) -> str:
        return f"no imported dataset {self.args[0]!r}"


def root_from_env(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("BD_DATA_STORE") or DEFAULT_ROOT)


class DatasetStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else root_from_env()

    # Reading -------------------------------------------------------------------------------------
    def _folder(self, dataset_id: str) -> Path:
        if not isinstance(dataset_id, str) or not DATASET_ID.match(dataset_id):
            raise UnknownDataset(dataset_id)
        folder = self.root / dataset_id
        if not (folder / "record.json").is_file():
            raise UnknownDataset(dataset_id)
        return folder

    def exists(self, dataset_id: str) -> bool:
        try:
            self._folder(dataset_id)
            return True
        except UnknownDataset:
            return False

    def record(self, dataset_id: str) -> dict:
        return json.loads((self._folder(dataset_id) / "record.json").read_text(encoding="utf-8"))

    def datasets(self) -> list[dict]:
        """Every dataset's record, newest import first."""
        if not self.root.is_dir():
            return []
        out = []
        for folder in self.root.iterdir():
            if DATASET_ID.match(folder.name) and (folder / "record.json").is_file():
                try:
                    out.append(json.loads((folder / "record.json").read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    log.warning("unreadable dataset record in %s", folder)
        return sorted(out, key=lambda r: r.get("imported_at", ""), reverse=True)

    def sessions_path(self, dataset_id: str) -> Path:
        return self._folder(dataset_id) / "sessions"

    def chargepoints_path(self, dataset_id: str) -> Path:
        return self._folder(dataset_id) / "chargepoints.parquet"

    def report_csv(self, dataset_id: str) -> bytes:
        return (self._folder(dataset_id) / "report.csv").read_bytes()

    def known_ids(self) -> dict[str, str]:
        path = self.root / STATE / "device_ids.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def added_devices(self) -> pd.DataFrame | None:
        """Devices earlier imports added (so later imports match them by id or position)."""
        frames = []
        for record in self.datasets():
            path = self.root / record["dataset_id"] / "added_devices.parquet"
            if path.exists():
                frames.append(pd.read_parquet(path))
        return pd.concat(frames, ignore_index=True).drop_duplicates("device_id") if frames else None

    # Profiles ------------------------------------------------------------------------------------
    def profile(self, name: str) -> dict | None:
        if not PROFILE_NAME.match(name or ""):
            raise ValueError(f"a profile name is letters, digits, spaces, '.', '_' or '-': {name!r}")
        path = self.root / STATE / "profiles" / f"{name}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))["mapping"]
        except (OSError, ValueError, KeyError):
            return None

    def save_profile(self, name: str, mapping: dict[str, str]) -> None:
        if not PROFILE_NAME.match(name or ""):
            raise ValueError(f"a profile name is letters, digits, spaces, '.', '_' or '-': {name!r}")
        folder = self.root / STATE / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / f"{name}.json", {"name": name, "mapping": mapping})

    def profiles(self) -> list[str]:
        folder = self.root / STATE / "profiles"
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    # Writing -------------------------------------------------------------------------------------
    def new_dataset_id(self, digest: str, when: dt.datetime) -> str:
        return f"{when:%Y%m%d-%H%M%S}-{digest[:8]}"

    def create(self, dataset_id: str, *, sessions: pa.Table, record: dict, report_csv: bytes,
               devices_csv: bytes, chargepoints: pd.DataFrame, added: pd.DataFrame,
               learned: dict[str, str], build_index) -> Path:
        """Write a dataset atomically. ``build_index(sessions_dir, chargepoints_path)`` builds the
        rollups inside the temporary folder, so that a dataset is usable as soon as it exists."""
        if not DATASET_ID.match(dataset_id):
            raise ValueError(f"not a dataset id: {dataset_id!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / STATE).mkdir(exist_ok=True)
        target = self.root / dataset_id
        if target.exists():
            raise FileExistsError(f"dataset {dataset_id} exists already")
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dataset_id}-", dir=self.root))
        try:
            folder = tmp / "sessions"
            folder.mkdir()
            pq.write_table(sessions, folder / "sessions.parquet", compression="zstd",
                           row_group_size=1 << 20)
            _write_json(folder / "manifest.json", {
                "simulated": False, "rows": sessions.num_rows, "start": record["period"][0],
                "end_exclusive": _day_after(record["period"][1]),
                "fingerprint": record["sha256"][0] if len(record["sha256"]) == 1
                else "+".join(record["sha256"]), "dataset_id": dataset_id,
            })
            cp = tmp / "chargepoints.parquet"
            chargepoints.to_parquet(cp, index=False)
            if len(added):
                added.to_parquet(tmp / "added_devices.parquet", index=False)
            build_index(folder, cp)
            (tmp / "report.csv").write_bytes(report_csv)
            (tmp / "devices.csv").write_bytes(devices_csv)
            _write_json(tmp / "record.json", record)  # last: a folder without it is not a dataset
            tmp.chmod(0o755)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if learned:
            with file_lock(self.root / STATE / "device_ids.lock"):
                known = self.known_ids()
                known.update(learned)
                _write_json(self.root / STATE / "device_ids.json", known)
        self._audit("import", dataset_id, record.get("imported_by", ""))
        log.info("imported dataset %s: %s sessions from %s", dataset_id,
                 record.get("sessions_kept"), ", ".join(record.get("files", [])))
        return target

    def delete(self, dataset_id: str, who: str) -> None:
        """Delete one dataset (explicit, logged). Its folder is renamed away first, so a reader
        never sees half a dataset."""
        folder = self._folder(dataset_id)
        gone = self.root / f".deleted-{dataset_id}-{os.getpid()}"
        os.rename(folder, gone)
        shutil.rmtree(gone, ignore_errors=True)
        self._audit("delete", dataset_id, who)
        log.warning("deleted dataset %s (by %s)", dataset_id, who or "unknown")

    def _audit(self, event: str, dataset_id: str, who: str) -> None:
        (self.root / STATE).mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                           "event": event, "dataset_id": dataset_id, "who": who})
        with open(self.root / STATE / "audit.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _day_after(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)
