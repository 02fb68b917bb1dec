"""The on-disk cache (SQLite, WAL): short-lived query answers and long-lived records.

Query answers, per (source, name, version), expire after a TTL. Advisory records are
keyed by (source, id) and carry their `modified` stamp: a record whose stamp matches
what a query just returned is never fetched again. A cache that cannot be opened or
turns out corrupt is moved aside (or bypassed) with a warning; it never fails an audit.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
DEFAULT_TTL = 3600.0
_CHUNK = 400  # pairs per IN (...) query; well under SQLite's variable limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    source TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
    result BLOB NOT NULL, fetched_at REAL NOT NULL,
    PRIMARY KEY (source, name, version)
) WITHOUT ROWID;
-- Bodies (index pages of many MB, metadata files, advisory records) live in rowid
-- tables, the key in a separate index: in a WITHOUT ROWID table each row is its own
-- key, and page splits copied big bodies' overflow chains into the tree (a cold
-- warehouse resolution made 186,000 page reads for a 53 MB cache; 23,000 now).
CREATE TABLE IF NOT EXISTS http (
    source TEXT NOT NULL, url TEXT NOT NULL, etag TEXT, expires REAL NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (source, url)
);
CREATE TABLE IF NOT EXISTS records (
    source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL, body BLOB NOT NULL,
    UNIQUE (source, id)
);
"""

QueryKey = tuple[str, str]
VulnRef = tuple[str, str]  # (id, modified)


def default_cache_dir() -> Path:
    env = os.environ.get("VULNSWEEP_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("vulnsweep", appauthor=False))


def cache_dir(arg: str | None) -> Path:
    """`--cache-dir` when given, else the default."""
    return Path(arg) if arg else default_cache_dir()


def source_key(url: object) -> str:
    """Cache partition per service URL: a hash of its printed (redacted) form, so
    nothing derived from a credential lands on disk."""
    from vulnsweep.redact import redact_url

    return hashlib.sha256(redact_url(str(url)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class HttpEntry:
    etag: str | None
    expires: float  # unix time; past it, revalidate with the ETag
    body: bytes


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    queries: int
    records: int
    size_bytes: int


class Cache:
    """Thread-safe: the network stage calls it from worker threads, never the event loop."""

    def __init__(self, directory: Path | None, *, ttl: float = DEFAULT_TTL) -> None:
        self.directory = directory
        self.path = directory / "cache.sqlite3" if directory is not None else None
        self.ttl = ttl
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._disabled = directory is None
        self._opened = False
        self.failure: str | None = None  # why the cache is not in use, when it failed

    # -- lifecycle ------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        if self._disabled:
            return None
        if not self._opened:
            self._opened = True
            self._conn = self._open()
            if self._conn is None:
                self._disabled = True
        return self._conn

    def _open(self) -> sqlite3.Connection | None:
        assert self.directory is not None and self.path is not None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cache disabled: cannot create %s (%s)", self.directory, exc.strerror)
            self.failure = f"cannot create {self.directory} ({exc.strerror})"
            return None
        for attempt in range(2):
            try:
                return self._connect()
            except sqlite3.DatabaseError as exc:
                if attempt == 0 and _is_corruption(exc):
                    self._move_aside(str(exc))
                    continue
                log.warning("cache disabled for this run: %s (%s)", self.path, exc)
                self.failure = f"{self.path}: {exc}"
                return None
        return None

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        conn = sqlite3.connect(
            self.path, timeout=30.0, check_same_thread=False, isolation_level=None
        )
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None:
                raise sqlite3.DatabaseError("cannot enable WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                conn.executescript(
                    "BEGIN IMMEDIATE; DROP TABLE IF EXISTS queries; DROP TABLE IF EXISTS records;"
                    "DROP TABLE IF EXISTS http;"
                    f"{_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                )
            # Touch both tables so a corrupt file shows itself now, not mid-run.
            conn.execute("SELECT count(*) FROM (SELECT 1 FROM queries LIMIT 1)").fetchone()
            conn.execute("SELECT count(*) FROM (SELECT 1 FROM records LIMIT 1)").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _move_aside(self, reason: str) -> None:
        assert self.path is not None
        target = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        log.warning(
            "cache file %s is unreadable (%s); moved to %s and rebuilt",
            self.path,
            reason,
            target.name,
        )
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(f"{self.path}{suffix}")
            if candidate.exists():
                try:
                    os.replace(candidate, Path(f"{target}{suffix}"))
                except OSError:
                    candidate.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _fail(self, action: str, exc: sqlite3.Error) -> None:
        """A cache error mid-run: warn once and carry on without the cache; a file that
        turns out corrupt is moved aside, so the next run starts a fresh one."""
        log.warning("cache %s failed (%s); continuing without the cache", action, exc)
        self._disabled = True
        self.failure = f"{action} failed ({exc})"
        if isinstance(exc, sqlite3.DatabaseError) and _is_corruption(exc):
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            self._move_aside(str(exc))

    # -- queries --------------------------------------------------------------

    def get_queries(self, source: str, keys: Sequence[QueryKey]) -> dict[QueryKey, list[VulnRef]]:
        found: dict[QueryKey, list[VulnRef]] = {}
        with self._lock:
            conn = self._connection()
            if conn is None or not keys:
                return found
            horizon = time.time() - self.ttl
            try:
                # A join against the wanted keys uses the primary key; chunks of
                # `(name, version) IN (VALUES ...)` scanned the table once per chunk
                # (11 s for 200,000 pins, against 0.4 s this way).
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS wanted (name TEXT NOT NULL, version TEXT "
                    "NOT NULL)"
                )
                conn.execute("BEGIN")  # one transaction for the inserts, not one each
                conn.execute("DELETE FROM wanted")
                conn.executemany("INSERT INTO wanted VALUES (?, ?)", keys)
                rows = conn.execute(
                    "SELECT q.name, q.version, q.result, q.fetched_at FROM wanted AS w "
                    "JOIN queries AS q ON q.source = ? AND q.name = w.name "
                    "AND q.version = w.version",
                    (source,),
                )
                for name, version, result, fetched_at in rows:
                    if fetched_at >= horizon:
                        refs = decoded(result)
                        if isinstance(refs, list):  # a damaged row is a miss
                            found[(name, version)] = [tuple(r) for r in refs]
                conn.execute("DELETE FROM wanted")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                self._fail("read", exc)
                return {}
        return found

    def put_queries(self, source: str, answers: Iterable[tuple[QueryKey, list[VulnRef]]]) -> None:
        now = time.time()
        # A generator, not a list: orjson over-allocates each small result (~4 KB for
        # b"[]"), so 200,000 answers held at once cost 800 MB; one at a time, nothing.
        rows = (
            (source, n, v, orjson.dumps(refs) if refs else b"[]", now) for (n, v), refs in answers
        )
        self._write(
            "INSERT OR REPLACE INTO queries (source, name, version, result, fetched_at) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    # -- records --------------------------------------------------------------

    def get_records(self, source: str, ids: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        rows = self._select_in("SELECT id, modified, body FROM records", "id", source, ids)
        return {record_id: (modified, body) for record_id, modified, body in rows}

    def _select_in(
        self, select: str, column: str, source: str, keys: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """Rows of one source whose `column` is among `keys`, in chunks; [] when the cache
        is unavailable or fails (which also disables it for the rest of the run)."""
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            conn = self._connection()
            if conn is None or not keys:
                return rows
            try:
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    marks = ",".join("?" for _ in chunk)
                    rows += conn.execute(
                        f"{select} WHERE source = ? AND {column} IN ({marks})", [source, *chunk]
                    ).fetchall()
            except sqlite3.Error as exc:
                self._fail("read", exc)
                return []
        return rows

    def put_records(self, source: str, records: Iterable[tuple[str, str, bytes]]) -> None:
        rows = [(source, i, m, b) for i, m, b in records]
        self._write(
            "INSERT OR REPLACE INTO records (source, id, modified, body) VALUES (?, ?, ?, ?)", rows
        )

    def _write(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        """One transaction; `rows` is consumed lazily, so it may be a generator."""
        import itertools

        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, itertools.chain((first,), iterator))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                self._fail("write", exc)

    # -- HTTP responses (ETag / max-age) ---------------------------------------

    def get_http(self, source: str, urls: Sequence[str]) -> dict[str, HttpEntry]:
        rows = self._select_in("SELECT url, etag, expires, body FROM http", "url", source, urls)
        return {url: HttpEntry(etag, expires, body) for url, etag, expires, body in rows}

    def put_http(self, source: str, entries: Iterable[tuple[str, HttpEntry]]) -> None:
        rows = [(source, url, e.etag, e.expires, e.body) for url, e in entries]
        self._write(
            "INSERT OR REPLACE INTO http (source, url, etag, expires, body) VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    # -- maintenance ----------------------------------------------------------

    def info(self) -> CacheInfo:
        assert self.path is not None
        queries = records = 0
        with self._lock:
            conn = self._connection()
            if conn is not None:
                try:
                    queries = conn.execute("SELECT count(*) FROM queries").fetchone()[0]
                    records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
                except sqlite3.Error as exc:
                    self._fail("read", exc)
        size = sum(
            Path(f"{self.path}{s}").stat().st_size
            for s in ("", "-wal", "-shm")
            if Path(f"{self.path}{s}").exists()
        )
        return CacheInfo(self.path, queries, records, size)

    def clear(self) -> None:
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM queries")
                conn.execute("DELETE FROM records")
                conn.execute("DELETE FROM http")
                conn.execute("COMMIT")
                conn.execute("VACUUM")
            except sqlite3.Error as exc:
                self._fail("clear", exc)
                raise


def decoded(body: bytes) -> Any:
    """A stored JSON body, or None when the row is damaged (then it is a cache miss and
    the answer is fetched again)."""
    try:
        return orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError):
        return None


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("not a database", "malformed", "corrupt", "file is encrypted"))
