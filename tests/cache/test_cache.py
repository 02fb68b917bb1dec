from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

import pytest

from vulnsweep.cache import Cache, source_key


def test_round_trip_and_ttl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(tmp_path, ttl=60)
    cache.put_queries("s", [(("foo", "1"), [("PYSEC-1", "m1")]), (("bar", "2"), [])])
    assert cache.get_queries("s", [("foo", "1"), ("bar", "2"), ("baz", "3")]) == {
        ("foo", "1"): [("PYSEC-1", "m1")],
        ("bar", "2"): [],
    }
    assert cache.get_queries("other-source", [("foo", "1")]) == {}
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert cache.get_queries("s", [("foo", "1")]) == {}


def test_records_keyed_by_id_with_modified(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put_records("s", [("PYSEC-1", "m1", b'{"id":"PYSEC-1"}')])
    cache.put_records("s", [("PYSEC-1", "m2", b'{"id":"PYSEC-1","v":2}')])
    assert cache.get_records("s", ["PYSEC-1", "PYSEC-2"]) == {
        "PYSEC-1": ("m2", b'{"id":"PYSEC-1","v":2}')
    }


def test_many_keys_are_chunked(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    keys = [(f"pkg{i}", "1") for i in range(2500)]
    cache.put_queries("s", [(k, []) for k in keys])
    assert len(cache.get_queries("s", keys)) == 2500


def test_shared_between_processes_uses_wal(tmp_path: Path) -> None:
    Cache(tmp_path).put_queries("s", [(("foo", "1"), [])])
    conn = sqlite3.connect(tmp_path / "cache.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_corrupt_file_is_moved_aside_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "cache.sqlite3").write_bytes(b"this is not sqlite" * 100)
    cache = Cache(tmp_path)
    with caplog.at_level(logging.WARNING):
        cache.put_queries("s", [(("foo", "1"), [])])
    assert cache.get_queries("s", [("foo", "1")]) == {("foo", "1"): []}
    assert "moved to cache.sqlite3.corrupt-" in caplog.text
    assert len(list(tmp_path.glob("cache.sqlite3.corrupt-*"))) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_directory_disables_cache(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        cache = Cache(tmp_path / "sub")
        cache.put_queries("s", [(("foo", "1"), [])])
        assert cache.get_queries("s", [("foo", "1")]) == {}
    finally:
        tmp_path.chmod(0o700)


def test_cache_path_that_is_a_file_disables_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = Cache(blocker)
    with caplog.at_level(logging.WARNING):
        assert cache.get_queries("s", [("foo", "1")]) == {}
    assert "cache disabled" in caplog.text


def test_disabled_cache_is_a_no_op() -> None:
    cache = Cache(None)
    cache.put_queries("s", [(("foo", "1"), [])])
    assert cache.get_queries("s", [("foo", "1")]) == {}


def test_info_and_clear(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.put_queries("s", [(("foo", "1"), []), (("bar", "1"), [])])
    cache.put_records("s", [("PYSEC-1", "m", b"{}")])
    info = cache.info()
    assert (info.path, info.queries, info.records) == (tmp_path / "cache.sqlite3", 2, 1)
    assert info.size_bytes > 0
    cache.clear()
    info = cache.info()
    assert (info.queries, info.records) == (0, 0)


def test_source_key_hides_credentials() -> None:
    key = source_key("https://user:hunter2@osv.example")
    assert "hunter2" not in key and len(key) == 16


def test_full_disk_mid_run_warns_and_keeps_going(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = Cache(tmp_path)
    cache.put_queries("s", [(("foo", "1"), [])])

    class FullDisk:
        """A connection whose writes fail the way SQLite reports a full disk."""

        def __init__(self, real: sqlite3.Connection) -> None:
            self.real = real

        def execute(self, sql: str, *args: object) -> object:
            if sql.startswith("BEGIN"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.real.execute(sql, *args)

        def close(self) -> None:
            self.real.close()

    assert cache._conn is not None
    cache._conn = FullDisk(cache._conn)  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING):
        cache.put_queries("s", [(("bar", "2"), [])])  # must not raise
    assert "cache write failed (database or disk is full); continuing without the cache" in (
        caplog.text
    )
    assert cache.get_queries("s", [("foo", "1")]) == {}  # disabled for the rest of the run
    cache.close()
    assert Cache(tmp_path).get_queries("s", [("foo", "1"), ("bar", "2")]) == {("foo", "1"): []}


def test_read_only_database_file_only_disables_writes(tmp_path: Path) -> None:
    Cache(tmp_path).put_queries("s", [(("foo", "1"), [])])
    (tmp_path / "cache.sqlite3-wal").unlink(missing_ok=True)
    conn = sqlite3.connect(f"file:{tmp_path / 'cache.sqlite3'}?mode=ro", uri=True)
    cache = Cache(tmp_path)
    cache._opened, cache._conn = True, conn
    cache.put_queries("s", [(("bar", "2"), [])])  # readonly database: warned, not raised
    assert cache._disabled
