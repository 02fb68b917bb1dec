"""Coalesced cache reads: a run that ends (or is cancelled) while a read is in its
worker thread leaves nothing behind for asyncio to report at exit."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import pytest

from vulnsweep.cache import HttpEntry
from vulnsweep.index.client import PackageIndex


class SlowCache:
    """Answers after a pause, long enough for the run to be cancelled meanwhile."""

    def __init__(self) -> None:
        self.reads: list[list[str]] = []

    def get_http(self, source: str, keys: list[str]) -> dict[str, HttpEntry]:
        self.reads.append(keys)
        time.sleep(0.2)
        return {}


def _index(cache: SlowCache) -> PackageIndex:
    index = PackageIndex.__new__(PackageIndex)
    index.cache = cache  # type: ignore[assignment]
    index._reads = {}
    index._threads = None
    return index


def test_reads_asked_together_share_one_query() -> None:
    cache = SlowCache()
    index = _index(cache)

    async def main() -> list[Any]:
        return await asyncio.gather(*(index._stored_entry("pages", k) for k in "abc"))

    assert asyncio.run(main()) == [None, None, None]
    assert cache.reads == [["a", "b", "c"]]


def test_cancelled_read_is_not_reported_as_never_retrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    index = _index(SlowCache())
    shared: list[asyncio.Future[Any]] = []

    async def main() -> None:
        waiters = [asyncio.ensure_future(index._stored_entry("pages", k)) for k in "abc"]
        await asyncio.sleep(0)  # the three are waiting; their reader starts next
        shared.extend(index._reads["pages"].values())
        await asyncio.sleep(0.05)  # the read is now in its worker thread
        # The run ends: its tasks are cancelled, the awaiters first, then the reader.
        for waiter in waiters:
            waiter.cancel()
        await asyncio.sleep(0)
        (reader,) = asyncio.all_tasks() - {asyncio.current_task(), *waiters}
        reader.cancel()
        await asyncio.gather(reader, *waiters, return_exceptions=True)

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        asyncio.run(main())
        assert shared and all(f.done() for f in shared)
        # asyncio logs "never retrieved" for exactly these when they are collected
        assert [f for f in shared if f._log_traceback] == []  # type: ignore[attr-defined]
        shared.clear()
        gc.collect()
    assert [r.getMessage() for r in caplog.records] == []
