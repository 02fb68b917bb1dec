"""What the run-history tests share: an OSV server of their own, since they publish and
revise advisories between runs."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from tests.servers.osv import OsvDatabase, OsvServer


@pytest.fixture
def osv(osv_db: OsvDatabase) -> Iterator[OsvServer]:
    """A server of its own: these tests publish and revise advisories."""
    db = copy.copy(osv_db)
    db.records, db.bodies = dict(osv_db.records), dict(osv_db.bodies)
    db.by_package = {k: list(v) for k, v in osv_db.by_package.items()}
    db._memo = {}
    with OsvServer(db) as server:
        yield server


def query(store: str, sql: str) -> list[tuple[object, ...]]:
    """Run SQL directly on a test's run history, whichever store it is (to age it, or
    to look inside): the test's own access, not the product's code."""
    if store.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store, autocommit=True) as db:
            cursor = db.execute(sql)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []
    import sqlite3

    with sqlite3.connect(store) as db:
        return list(db.execute(sql).fetchall())
