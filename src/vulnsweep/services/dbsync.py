"""`vulnsweep db sync`: keep the offline database current with OSV's PyPI export.

First sync: stream `all.zip` to a temporary file (never into memory) and build the
database from it. Later syncs: read `modified_id.csv` (newest first), stop at the
first record already known, fetch only those `<ID>.json` files, and apply them in
one transaction. The download goes through the same retrying HTTP client as audits.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vulnsweep.cache import advisorydb
from vulnsweep.errors import ServiceError
from vulnsweep.net.http import HttpClient, RetryPolicy, Timeouts
from vulnsweep.url import Url, as_url

log = logging.getLogger(__name__)

DEFAULT_DB_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI"
SERVICE = "OSV export"


async def sync(
    path: Path,
    base_url: str | Url = DEFAULT_DB_URL,
    *,
    concurrency: int = 32,
    retry: RetryPolicy | None = None,
) -> tuple[str, int]:
    """('full' | 'incremental', records written)."""
    base = as_url(base_url).rstrip("/")
    async with HttpClient(
        SERVICE, timeouts=Timeouts(read=120.0), concurrency=concurrency, retry=retry
    ) as http:
        if not path.exists():
            return "full", await _full(http, path, base)
        return "incremental", await _incremental(http, path, base, concurrency)


async def _full(http: HttpClient, path: Path, base_url: Url) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".all-", suffix=".zip", dir=path.parent)
    os.close(fd)
    temp = Path(temp_name)
    try:
        await http.download(base_url.join("/all.zip"), temp)
        import anyio

        info = await anyio.to_thread.run_sync(_build_from_zip, path, temp, base_url)
    finally:
        temp.unlink(missing_ok=True)
    return info.records


def _build_from_zip(path: Path, archive: Path, base_url: Url) -> advisorydb.DbInfo:
    info = advisorydb.build(path, advisorydb.records_from_archive(archive), source=str(base_url))
    conn = sqlite3.connect(path)
    try:
        newest = conn.execute("SELECT max(modified) FROM records").fetchone()[0] or ""
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('newest', ?)", (newest,))
        conn.commit()
    finally:
        conn.close()
    return info


async def _incremental(http: HttpClient, path: Path, base_url: Url, concurrency: int) -> int:
    import anyio

    conn = advisorydb.connect(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'newest'").fetchone()
    finally:
        conn.close()
    newest = row[0] if row else ""
    listing = base_url.join("/modified_id.csv")
    text = await http.get_text(listing)
    changed: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        stamp, _, ident = line.partition(",")
        if not ident:
            raise ServiceError(SERVICE, listing, f"malformed line {line[:80]!r}")
        if newest and stamp.strip() <= newest:
            break  # newest first: everything below is already known
        changed.append((stamp.strip(), ident.strip().rsplit("/", 1)[-1]))
    if not changed:
        _touch(path, newest)
        return 0
    records: list[dict[str, Any]] = []
    limit = anyio.Semaphore(concurrency)

    async def fetch(record_id: str) -> None:
        url = base_url.join(f"/{quote(record_id, safe='')}.json")
        async with limit:
            record = await http.get_json(url, lambda data: _filed_record(data, record_id))
        assert record is not None  # not missing_ok: a 404 is an error
        records.append(record)

    async with anyio.create_task_group() as tg:
        for _, record_id in changed:
            tg.start_soon(fetch, record_id)
    await anyio.to_thread.run_sync(_apply, path, records, max(s for s, _ in changed))
    return len(records)


def _apply(path: Path, records: list[dict[str, Any]], newest: str) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            advisorydb.upsert(conn, records)
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("newest", newest), ("updated", str(time.time()))],
            )
    finally:
        conn.close()


def _touch(path: Path, newest: str) -> None:
    _apply(path, [], newest)


def _filed_record(data: Any, record_id: str) -> dict[str, Any]:
    """The export's `<ID>.json` as a record: one whose own id cannot be read is still
    the record filed under that id (read leniently); one naming another id is not."""
    if isinstance(data, dict) and not isinstance(data.get("id"), str):
        data = {**data, "id": record_id}
    if not isinstance(data, dict) or data["id"].strip() != record_id:
        raise ValueError("response is not the advisory it names")
    return data
