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
