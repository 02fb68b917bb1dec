"""The offline advisory database: OSV's PyPI export in one indexed SQLite file.

Built from an `all.zip`-style archive or a directory of OSV JSON/YAML files into a
temporary file that replaces the old database only when complete, so a failed or
hostile import leaves the previous one intact. Archive members are read, never
extracted: no path from an archive ever reaches the filesystem.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from vulnsweep.errors import InputError, VulnsweepError
from vulnsweep.model import version_key

log = logging.getLogger(__name__)

DB_NAME = "advisories.sqlite3"
SCHEMA_VERSION = 5
MAX_MEMBER_BYTES = 16 * 1024 * 1024  # one advisory; real ones are a few KB
MAX_TOTAL_BYTES = 4 * 1024 * 1024 * 1024
MAX_RATIO = 200  # compressed JSON is ~10x; far beyond that is a bomb

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    id TEXT PRIMARY KEY, modified TEXT NOT NULL, withdrawn INTEGER NOT NULL,
    body BLOB NOT NULL,  -- the record as published
    slim BLOB NOT NULL   -- without `versions` lists and references: what audits read
) WITHOUT ROWID;
-- The match index, for records that are not withdrawn: per (package, advisory) the
-- ECOSYSTEM ranges compiled to sort keys, and every listed version by version_key().
CREATE TABLE affected (
    name TEXT NOT NULL, id TEXT NOT NULL,
    ranges BLOB NOT NULL,  -- JSON [compiled range, ...] over all of the record's entries
    PRIMARY KEY (name, id)
) WITHOUT ROWID;
CREATE TABLE affected_versions (
    name TEXT NOT NULL, version TEXT NOT NULL, id TEXT NOT NULL,
    PRIMARY KEY (name, version, id)
) WITHOUT ROWID;
CREATE INDEX affected_versions_by_id ON affected_versions (id);
-- Per (package, advisory): why the entries deciding whether a version is affected
-- cannot all be read. name '' is an entry that names no package. A pin of such a
-- package that the readable part does not match is not audited, never "clean".
CREATE TABLE unreadable (
    name TEXT NOT NULL, id TEXT NOT NULL, why TEXT NOT NULL,
    PRIMARY KEY (name, id)
) WITHOUT ROWID;
"""


class DatabaseError(VulnsweepError):
    """The offline database is missing, unreadable or could not be built."""


@dataclass(frozen=True)
class DbInfo:
    path: Path
    source: str
    records: int
    packages: int
    updated: float | None  # the newest record's `modified` (unix time)


def db_path(cache_dir: Path) -> Path:
    return cache_dir / DB_NAME


# -- reading inputs -----------------------------------------------------------------


def records_from_archive(path: Path) -> Iterator[dict[str, Any]]:
    """Every OSV record in a zip, with the archive treated as hostile."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(str(path), f"not a readable zip archive: {exc}") from None
    with archive:
        members = archive.infolist()
        total = 0
        for member in members:
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
                raise InputError(
                    str(path),
                    f"refused: archive entry {member.filename!r} points outside the archive",
                )
            total += member.file_size
            if member.file_size > MAX_MEMBER_BYTES or (
                member.compress_size
                and member.file_size / member.compress_size > MAX_RATIO
                and member.file_size > 1024 * 1024
            ):
                raise InputError(
                    str(path),
                    f"refused: archive entry {member.filename!r} "
                    "expands too far (a compression bomb?)",
                )
        if total > MAX_TOTAL_BYTES:
            raise InputError(str(path), "refused: archive expands beyond 4 GiB")
        for member in members:
            if member.is_dir() or not member.filename.endswith((".json", ".yaml", ".yml")):
                continue
            try:
                with archive.open(member) as handle:
                    data = handle.read(MAX_MEMBER_BYTES + 1)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
                raise InputError(
                    str(path), f"corrupt archive entry {member.filename!r}: {exc}"
                ) from None
            if len(data) > MAX_MEMBER_BYTES:
                raise InputError(
                    str(path),
                    f"refused: archive entry {member.filename!r} is larger than it claims",
                )
            yield _parse_record(f"{path}:{member.filename}", member.filename, data)


def records_from_directory(root: Path) -> Iterator[dict[str, Any]]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".json", ".yaml", ".yml")):
                path = Path(directory) / name
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise InputError(str(path), f"cannot read: {exc.strerror}") from None
                yield _parse_record(str(path), name, data)


def _parse_record(where: str, name: str, data: bytes) -> dict[str, Any]:
    try:
        if name.endswith(".json"):
            record = json.loads(data)
        else:
            import yaml

            record = yaml.safe_load(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(where, f"invalid advisory: {exc}") from None
    except Exception as exc:  # yaml.YAMLError and friends
        raise InputError(where, f"invalid advisory: {type(exc).__name__}") from None
    if not isinstance(record, dict):
        raise InputError(where, "not an OSV record (not an object)")
    if not isinstance(record.get("id"), str) or not record["id"].strip():
        # The export files each record under its id: read leniently, keep it.
        stem = PurePosixPath(name).stem
        from vulnsweep.advisories.records import ADVISORY_ID

        if not ADVISORY_ID.fullmatch(stem):
            raise InputError(where, "not an OSV record (no `id`)")
        log.warning("%s: `id` %.60r is not an id; read as %s", where, record.get("id"), stem)
        record["id"] = stem
    return record


# -- building -----------------------------------------------------------------------


def build(target: Path, records: Iterable[dict[str, Any]], *, source: str) -> DbInfo:
    """Write a fresh database next to `target`, then rename it into place."""
    from vulnsweep.cache.replace import replaced

    with replaced(target, prefix=".advisories-") as temp:
        conn = sqlite3.connect(temp)
        try:
            conn.executescript(_SCHEMA)
            count = upsert(conn, records)
            _set_meta(conn, source=source, updated=str(time.time()), schema=str(SCHEMA_VERSION))
            conn.commit()
        finally:
            conn.close()
    log.info("built %s: %d records", target, count)
    _say_unreadable(target)
    return info(target)


def _say_unreadable(path: Path) -> None:
    """One line for the advisories whose deciding fields cannot all be read: pins of
    those packages that the readable parts do not match are reported not audited."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT DISTINCT name, id FROM unreadable ORDER BY id").fetchall()
    finally:
        conn.close()
    if rows:
        named = ", ".join(f"{rid} ({name or 'no package'})" for name, rid in rows[:5])
        log.warning(
            "%d advisories cannot be fully matched (%s%s): pins they might affect will "
            "be reported as not audited; -v names each field",
            len(rows),
            named,
            ", ..." if len(rows) > 5 else "",
        )


def upsert(conn: sqlite3.Connection, records: Iterable[dict[str, Any]]) -> int:
    """Insert or replace records (and their package index) in batches."""
    count = 0
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= 500:
            count += _write_batch(conn, batch)
            batch = []
    if batch:
        count += _write_batch(conn, batch)
    return count


def _write_batch(conn: sqlite3.Connection, batch: list[dict[str, Any]]) -> int:
    import orjson

    from vulnsweep.advisories import records as records_module
    from vulnsweep.advisories.matching import compile_ranges
    from vulnsweep.advisories.records import read_advisory

    token = records_module.quiet.set(True)
    try:
        advisories = [read_advisory(r, expected_id=str(r.get("id"))) for r in batch]
    finally:
        records_module.quiet.reset(token)
    read = [(r, a) for r, a in zip(batch, advisories) if a is not None]
    ids = [(a.id,) for _, a in read]
    for table in ("affected", "affected_versions", "unreadable"):
        conn.executemany(f"DELETE FROM {table} WHERE id = ?", ids)
    conn.executemany(
        "INSERT OR REPLACE INTO records (id, modified, withdrawn, body, slim) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (
                a.id,
                a.modified or "",
                1 if a.withdrawn else 0,
                orjson.dumps(r),
                orjson.dumps(_slim(r)),
            )
            for r, a in read
        ],
    )
    ranges: dict[tuple[str, str], list[Any]] = {}
    versions: set[tuple[str, str, str]] = set()
    unreadable: list[tuple[str, str, str]] = []
    for _, advisory in read:
        if advisory.withdrawn:
            continue  # never matched: kept in `records` only, for `db info` and syncs
        # Normalised and compiled here, once: an audit looks versions up in an index
        # and compares sort keys instead of parsing anything.
        for name, entries in advisory.packages.items():
            found = ranges.setdefault((name, advisory.id), [])
            for entry in entries:
                found.extend(r.as_json() for r in compile_ranges(entry))
                versions.update((name, version_key(v), advisory.id) for v in entry.versions)
        unreadable.extend(
            (name or "", advisory.id, why) for name, why in advisory.unreadable.items()
        )
    conn.executemany(
        "INSERT OR REPLACE INTO affected (name, id, ranges) VALUES (?, ?, ?)",
        [(name, rid, orjson.dumps(found)) for (name, rid), found in sorted(ranges.items())],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO affected_versions (name, version, id) VALUES (?, ?, ?)",
        sorted(versions),
    )
    conn.executemany(
        "INSERT OR REPLACE INTO unreadable (name, id, why) VALUES (?, ?, ?)", unreadable
    )
    return len(read)


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What an audit needs of a record: the long `versions` lists were already folded
    into the `affected` index, and references are not reported."""
    slim = {k: v for k, v in record.items() if k not in ("references", "credits")}
    affected = record.get("affected")
    if isinstance(affected, list):
        slim["affected"] = [
            {k: v for k, v in e.items() if k != "versions"} if isinstance(e, dict) else e
            for e in affected
        ]
    return slim


def _set_meta(conn: sqlite3.Connection, **values: str) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(values.items())
    )


# -- reading ------------------------------------------------------------------------


def connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise DatabaseError(
            f"no offline advisory database at {path}: run `vulnsweep db sync` "
            "(or `vulnsweep db import PATH`) first"
        )
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"offline advisory database {path} is unreadable ({exc}): "
            "rebuild it with `vulnsweep db sync` or `db import`"
        ) from None
    if version is None or version[0] != str(SCHEMA_VERSION):
        conn.close()
        raise DatabaseError(
            f"offline advisory database {path} has an old layout: rebuild it "
            "with `vulnsweep db sync` or `db import`"
        )
    return conn


def info(path: Path) -> DbInfo:
    conn = connect(path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        packages = conn.execute("SELECT count(DISTINCT name) FROM affected").fetchone()[0]
        updated = newest_record(conn)
    finally:
        conn.close()
    return DbInfo(path, meta.get("source", "?"), records, packages, updated)


def newest_record(conn: sqlite3.Connection) -> float | None:
    """How fresh the data is: the newest record's `modified` (unix time). The import
    time would make a 2024 export imported today look current."""
    import datetime as dt

    row = conn.execute("SELECT max(modified) FROM records").fetchone()
    if not row or not row[0]:
        return None
    try:
        stamp = dt.datetime.fromisoformat(str(row[0]).replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()
