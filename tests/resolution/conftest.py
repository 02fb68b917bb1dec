from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.index import IndexServer


@pytest.fixture(scope="session")
def _index_session() -> Iterator[IndexServer]:
    with IndexServer() as server:
        yield server


@pytest.fixture
def index_server(_index_session: IndexServer) -> Iterator[IndexServer]:
    """The local index over the captured PyPI data, counters and faults reset."""
    _index_session.reset()
    yield _index_session
    _index_session.reset()
