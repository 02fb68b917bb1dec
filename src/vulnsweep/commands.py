"""Maintenance subcommands: `vulnsweep cache info|clear`, `vulnsweep db sync|import|info`,
`vulnsweep history` and `vulnsweep state check|vacuum`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vulnsweep.cache import cache_dir
from vulnsweep.errors import EXIT_OK, UsageError
from vulnsweep.logs import configure_logging
from vulnsweep.options import build_cache_parser, build_db_parser
from vulnsweep.redact import redact_text
from vulnsweep.url import Url


def cache_command(argv: Sequence[str]) -> int:
    from vulnsweep.cache import Cache

    args = build_cache_parser().parse_args(argv)
    configure_logging(0)
    import sqlite3

    cache = Cache(cache_dir(args.cache_dir))
    try:
        if args.action == "clear":
            cache.clear()
        else:
            info = cache.info()
    except sqlite3.Error:
        pass  # recorded in cache.failure
    finally:
        cache.close()
    if cache.failure is not None:
        # A cache that cannot be read or written is no "cleared" and no "0 entries".
        raise UsageError(f"cache {args.action}: {cache.failure}")
    if args.action == "clear":
        print(f"cleared {cache.path}")
        return EXIT_OK
    print(f"path:    {info.path}")
    print(f"queries: {info.queries}")
    print(f"records: {info.records}")
    print(f"size:    {info.size_bytes} bytes")
    return EXIT_OK


def db_command(argv: Sequence[str]) -> int:
    from vulnsweep.cache import advisorydb

    args = build_db_parser().parse_args(argv)
    configure_logging(0)
    path = advisorydb.db_path(cache_dir(args.cache_dir))
    if args.action == "import":
        source = Path(args.source)
        if source.is_dir():
            records = advisorydb.records_from_directory(source)
        elif source.is_file():
            records = advisorydb.records_from_archive(source)
        else:
            raise UsageError(f"{source}: no such file or directory")
        info = advisorydb.build(path, records, source=str(source.resolve()))
        print(f"imported {info.records} advisories for {info.packages} packages into {path}")
        return EXIT_OK
    if args.action == "sync":
        return _sync(args, path)
    info = advisorydb.info(path)
    updated = (
        "never"
        if info.updated is None
        else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(info.updated))
    )
    print(f"path:     {info.path}")
    print(f"source:   {redact_text(info.source)}")
    print(f"records:  {info.records}")
    print(f"packages: {info.packages}")
    print(f"updated:  {updated}")
    return EXIT_OK


def _sync(args: argparse.Namespace, path: Path) -> int:
    """The advisory database, then KEV and EPSS: each part on its own, so one source
    that cannot be reached does not stop the others; exit 3 if any failed."""
    from vulnsweep.errors import EXIT_SERVICE, ServiceError
    from vulnsweep.net.session import run_once
    from vulnsweep.options import check_url
    from vulnsweep.redact import shown
    from vulnsweep.services.dbsync import DEFAULT_DB_URL, sync
    from vulnsweep.triage.data import db_path
    from vulnsweep.triage.sync import EPSS_URL, KEV_URL, sync_triage

    def url(option: str, given: str | None, env: str, default: str) -> Url:
        return check_url(option, given or os.environ.get(env) or default)

    failed = False
    if args.only in (None, "advisories"):
        db_url = url("--db-url", args.db_url, "VULNSWEEP_DB_URL", DEFAULT_DB_URL)
        try:
            kind, count = run_once(lambda: sync(path, db_url))
            print(f"{kind} sync: {count} advisories written to {path}")
        except ServiceError as exc:
            print(f"vulnsweep: error: advisories: {shown(str(exc))}", file=sys.stderr)
            failed = True
    if args.only in (None, "exploitation"):
        kev = url("--kev-url", args.kev_url, "VULNSWEEP_KEV_URL", KEV_URL)
        epss = url("--epss-url", args.epss_url, "VULNSWEEP_EPSS_URL", EPSS_URL)
        target = db_path(path.parent)
        outcomes = run_once(lambda: sync_triage(target, kev, epss))
        for name, outcome in outcomes.items():
            label = "KEV" if name == "kev" else "EPSS"
            stream = sys.stderr if outcome.startswith("failed") else sys.stdout
            print(f"{label}: {outcome}", file=stream)
            failed = failed or outcome.startswith("failed")
    return EXIT_SERVICE if failed else EXIT_OK


def history_command(argv: Sequence[str]) -> int:
    """`vulnsweep history --state PATH [--format json]`: the runs of a scheduled job."""
    import argparse

    import orjson

    from vulnsweep.history.store import StateStore

    parser = argparse.ArgumentParser(
        prog="vulnsweep history", description="List the runs recorded in a --state file."
    )
    parser.add_argument("--state", required=True, metavar="PATH")
    parser.add_argument("-f", "--format", choices=("columns", "json"), default="columns")
    parser.add_argument("-n", "--limit", type=int, default=None, help="only the last N runs")
    parser.add_argument(
        "--by",
        choices=("project", "owner"),
        help="a fleet summary instead of the runs: each project (or owner) as the latest "
        "run of every input set saw it, with findings new since the run before",
    )
    args = parser.parse_args(argv)
    configure_logging(0)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    if args.by is not None:
        with StateStore(args.state, create=False) as store:
            projects = store.fleet()
        return _fleet_summary(projects, args.by, args.format)
    with StateStore(args.state, create=False) as store:
        runs = store.runs()
    if args.limit is not None:
        runs = runs[-args.limit :]
    if args.format == "json":
        print(orjson.dumps([r.as_json() for r in runs], option=orjson.OPT_INDENT_2).decode())
        return EXIT_OK
    from vulnsweep.output.columns import table

    def count(value: int | None) -> str:
        return "-" if value is None else str(value)

    rows = [
        (
            str(r.id),
            r.finished,
            r.kind,
            r.inputs_key,
            str(r.dependencies),
            str(r.findings),
            count(r.new),
            count(r.unchanged),
            count(r.fixed),
            count(r.failing_projects),
            str(r.exit_code),
            "yes" if r.complete else "no: not the baseline for what it missed",
        )
        for r in runs
    ]
    headers = ["Run", "Finished", "Kind", "Inputs", "Deps", "Findings", "New", "Unchanged"]
    headers += ["Fixed", "Failing projects", "Exit", "Complete"]
    print("\n".join(table(headers, rows)) if rows else "no runs recorded")
    return EXIT_OK


def _fleet_summary(projects: list[dict[str, Any]], by: str, fmt: str) -> int:
    import orjson

    from vulnsweep.output.columns import table

    if by == "owner":
        owners: dict[str, dict[str, Any]] = {}
        for project in projects:
            for owner in project["owners"] or ["(no owner)"]:
                entry = owners.setdefault(
                    owner, {"owner": owner, "projects": 0, "findings": 0, "failing": 0, "new": 0}
                )
                entry["projects"] += 1
                entry["findings"] += project["findings"]
                entry["failing"] += int(project["fails"])
                entry["new"] += project["new"]
        rows = [owners[k] for k in sorted(owners)]
        if fmt == "json":
            print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
            return EXIT_OK
        headers = ["Owner", "Projects", "Findings", "Failing projects", "New"]
        cells: list[tuple[str, ...]] = [
            (r["owner"], str(r["projects"]), str(r["findings"]), str(r["failing"]), str(r["new"]))
            for r in rows
        ]
    else:
        if fmt == "json":
            print(orjson.dumps(projects, option=orjson.OPT_INDENT_2).decode())
            return EXIT_OK
        headers = ["Project", "Owners", "Deps", "Findings", "Fails", "New", "As of"]
        cells = [
            (
                p["project"], ", ".join(p["owners"]), str(p["dependencies"]), str(p["findings"]),
                "yes" if p["fails"] else "no", str(p["new"]), p["finished"],
            )
            for p in projects
        ]  # fmt: skip
    print(
        "\n".join(table(headers, cells))
        if cells
        else "no projects recorded (a -R run records them)"
    )
    return EXIT_OK


def state_command(argv: Sequence[str]) -> int:
    """`vulnsweep state check|vacuum --state PATH`: look after a run history file."""
    import argparse

    from vulnsweep.history.store import StateStore

    parser = argparse.ArgumentParser(
        prog="vulnsweep state",
        description="Check a --state run history for damage, or give back the space "
        "that retention (--keep-runs, --keep-days) freed.",
    )
    parser.add_argument("action", choices=("check", "vacuum"))
    parser.add_argument("--state", required=True, metavar="PATH")
    args = parser.parse_args(argv)
    configure_logging(0)
    with StateStore(args.state, create=False) as store:  # opening checks every page
        runs = store.runs()
        if args.action == "vacuum":
            before, after = store.vacuum()
            print(f"{store.label}: {len(runs)} runs, {before:,} -> {after:,} bytes")
            return EXIT_OK
        label = store.label
    complete = sum(r.complete for r in runs)
    print(f"{label}: intact, {len(runs)} runs ({len(runs) - complete} incomplete)")
    return EXIT_OK
