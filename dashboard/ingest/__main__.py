"""Command line: import operator session files into the dataset store.

    python -m dashboard.ingest FILE... [--dry-run] [--period YYYY-MM..YYYY-MM] [--profile NAME]
                               [--map FIELD=COLUMN ...] [--unmatched add|leave] [--json]

Exit status: 0 when a dataset was stored (or would be, on a dry run), 1 when nothing could be
imported, 2 for a usage error. With ``--json`` the last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path

from dashboard.core.config import Config
from dashboard.ingest import readers
from dashboard.ingest.datastore import DatasetStore, UnknownDataset
from dashboard.ingest.importer import Options, parse_period, run_import

log = logging.getLogger("dashboard.ingest")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit status 2 with the usage, as argparse does, but testable
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m dashboard.ingest",
                description="Import operator charging-session files as a usage dataset.")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="CSV, XLSX, JSON, NDJSON or ZIP files (one import)")
    p.add_argument("--dry-run", action="store_true", help="check and report; store nothing")
    p.add_argument("--period", help="declared reporting period, YYYY-MM..YYYY-MM; sessions "
                   "starting outside it are excluded")
    p.add_argument("--profile", help="column mapping profile to use (saved with --map)")
    p.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                   help="map a field to a column of an unrecognised table (repeat); with "
                   "--profile the mapping is saved under that name")
    p.add_argument("--unmatched", choices=("add", "leave"), default="leave",
                   help="devices matching no known device: add them (inside London) or leave "
                   "their sessions out (default)")
    p.add_argument("--operator", help="operator name for the dataset's label")
    p.add_argument("--json", action="store_true", help="print the result as JSON (last line)")
    p.add_argument("--list", action="store_true", help="list the stored datasets")
    p.add_argument("--delete", metavar="DATASET_ID", help="delete one stored dataset")
    return p


def _mapping(args, store: DatasetStore) -> dict | None:
    if args.map:
        mapping = {}
        for item in args.map:
            fld, sep, col = item.partition("=")
            if not sep or fld.strip() not in readers.FIELDS:
                raise ValueError(f"--map takes FIELD=COLUMN with FIELD one of "
                                 f"{', '.join(readers.FIELDS)}; not {item!r}")
            mapping[fld.strip()] = col
        if args.profile:
            store.save_profile(args.profile, mapping)
        return mapping
    if args.profile:
        mapping = store.profile(args.profile)
        if mapping is None:
            known = ", ".join(store.profiles()) or "none saved yet"
            raise ValueError(f"no profile {args.profile!r} (profiles: {known})")
        return mapping
    return None


def _print_human(result: dict) -> None:
    out = sys.stdout
    print(f"Recognised: {result['format']}", file=out)
    print(f"Rows read {result['rows_read']:,}; sessions kept {result['sessions_kept']:,} "
          f"({result['kwh_kept']:,.1f} kWh); excluded {result['rows_excluded']:,}; "
          f"flagged {result['rows_flagged']:,}", file=out)
    for kind in ("errors", "warnings"):
        for rule, n in result[kind].items():
            print(f"  {kind[:-1]}: {rule}: {n:,}", file=out)
    print(f"Devices: {result['devices_matched']} matched, {result['devices_added']} added, "
          f"{result['devices_unmatched']} unmatched, {result['devices_ambiguous']} ambiguous, "
          f"{result['devices_outside_london']} outside London", file=out)
    for u in result["unmatched"][:10]:
        where = f" at {u['lat']}, {u['lon']}" if u["lat"] is not None else ""
        print(f"  {u['status']}: {u['ref']}{where} ({u['sessions']} sessions)", file=out)
    for note in result.get("notes", []):
        print(f"Note: {note}", file=out)
    if result.get("period"):
        print(f"Period: {result['period'][0]} to {result['period'][1]}", file=out)
    if result.get("dataset_id"):
        print(f"Stored as dataset {result['dataset_id']}: {result['label']}", file=out)
        print(f"Open it at /ev?usage={result['dataset_id']}", file=out)
    elif result.get("dry_run") and result["sessions_kept"]:
        print("Dry run: nothing stored.", file=out)
    if result.get("message"):
        print(result["message"], file=out)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    store = DatasetStore()
    config = Config.from_env()

    def fail(message: str, code: int, **extra) -> int:
        if args.json:
            print(json.dumps({"error": message, **extra}))
        else:
            print(message, file=sys.stderr)
        return code

    if args.list:
        records = store.datasets()
        if args.json:
            print(json.dumps(records))
        for r in records if not args.json else []:
            print(f"{r['dataset_id']}  {r['operator']}  {r['period'][0]}..{r['period'][1]}  "
                  f"{r['sessions_kept']:,} sessions  {', '.join(r['files'])}")
        return 0
    if args.delete:
        try:
            store.delete(args.delete, getpass.getuser())
        except UnknownDataset as exc:
            return fail(str(exc), 2)
        return fail(f"deleted {args.delete}", 0) if not args.json else (
            print(json.dumps({"deleted": args.delete})) or 0)
    if not args.files:
        return fail("give at least one FILE to import (or --list / --delete)", 2)
    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        return fail(f"no such file: {', '.join(missing)}", 2)
    try:
        period = parse_period(args.period) if args.period else None
        mapping = _mapping(args, store)
    except ValueError as exc:
        return fail(str(exc), 2)
    options = Options(period=period, mapping=mapping, unmatched=args.unmatched,
                      dry_run=args.dry_run, operator=args.operator,
                      imported_by=getpass.getuser())
    try:
        result = run_import([Path(f) for f in args.files], store, config.data_dir, options)
    except readers.NeedsMapping as exc:
        hint = " ".join(f"--map {k}={json.dumps(v)}" for k, v in exc.suggestion.items())
        return fail(f"{exc}\nTo import it, confirm or correct the mapping and name a profile "
                    f"for next time: --profile NAME {hint}", 1, columns=exc.columns,
                    suggested_mapping=exc.suggestion)
    except readers.IngestError as exc:
        return fail(str(exc), 1)
    result.pop("report_csv", None)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        _print_human(result)
    return 0 if result["sessions_kept"] else 1


if __name__ == "__main__":
    sys.exit(main())
