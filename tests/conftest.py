from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import aioresponses.core
import pytest

from tests.servers.osv import DATA_ZIP, OsvDatabase, OsvServer


class _CompatClientResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's required `stream_writer` argument
    (pnuckowski/aioresponses#289); supply the one attribute a finished request needs.
    Test-only: the product keeps the aiohttp with the 3.14 security fixes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
            kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(*args, **kwargs)


aioresponses.core.ClientResponse = _CompatClientResponse  # type: ignore[misc]


@pytest.fixture(scope="session")
def osv_db() -> OsvDatabase:
    if not DATA_ZIP.exists():
        pytest.fail(f"vendored advisory export missing: {DATA_ZIP}")
    return OsvDatabase.from_zip()


@pytest.fixture(scope="session")
def _osv_server_session(osv_db: OsvDatabase) -> Iterator[OsvServer]:
    with OsvServer(osv_db) as server:
        yield server


@pytest.fixture
def osv_server(_osv_server_session: OsvServer) -> Iterator[OsvServer]:
    """The shared local OSV server, with faults and counters reset for each test."""
    _osv_server_session.reset(page_size=0)
    yield _osv_server_session
    _osv_server_session.reset(page_size=0)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL server for the store tests. Skipped only outside CI, with the
    reason; in CI (.ci/run sets VULNSWEEP_REQUIRE_POSTGRES) a missing one fails."""
    import os

    from tests.servers.postgres import PostgresServer

    server = PostgresServer()
    try:
        import psycopg  # noqa: F401

        server.start()
    except Exception as exc:
        if os.environ.get("VULNSWEEP_REQUIRE_POSTGRES") or os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL server here ({exc})")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def state_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's run history lives: an SQLite file, or a fresh PostgreSQL database
    (every state test runs against both, with the same assertions)."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    server = request.getfixturevalue("postgres")
    return str(server.database())
