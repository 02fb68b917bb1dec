"""Maintenance subcommands: `vulnsweep cache info|clear` and `vulnsweep db sync|import|info`."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from vulnsweep.cache import cache_dir
from vulnsweep.errors import EXIT_OK, UsageError
from vulnsweep.logs import configure_logging
from vulnsweep.options import build_cache_parser, build_db_parser
from vulnsweep.redact import redact_text


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
        from vulnsweep.net.session import run_once
        from vulnsweep.options import check_url
        from vulnsweep.services.dbsync import DEFAULT_DB_URL, sync

        given = args.db_url or os.environ.get("VULNSWEEP_DB_URL") or DEFAULT_DB_URL
        url = check_url("--db-url", given)
        kind, count = run_once(lambda: sync(path, url))
        print(f"{kind} sync: {count} advisories written to {path}")
        return EXIT_OK
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
    args = parser.parse_args(argv)
    configure_logging(0)
    if not Path(args.state).is_file():
        raise UsageError(f"--state {args.state}: no such file")
    with StateStore(args.state) as store:
        runs = store.runs()
    if args.limit is not None:
        runs = runs[-args.limit :] if args.limit > 0 else []
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
        )
        for r in runs
    ]
    headers = ["Run", "Finished", "Kind", "Inputs", "Deps", "Findings", "New", "Unchanged"]
    headers += ["Fixed", "Failing projects", "Exit"]
    print("\n".join(table(headers, rows)) if rows else "no runs recorded")
    return EXIT_OK
