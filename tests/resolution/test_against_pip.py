"""The resolver picks exactly what pip 26.3 picked for the same input on the same
index (recorded by tests/servers/record_pip.py into tests/data/resolution/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.servers.index import IndexServer
from vulnsweep.cache import Cache
from vulnsweep.errors import InputError
from vulnsweep.model import ResolutionRequest
from vulnsweep.resolution.resolve import Resolved, ResolverSettings, resolve_all
from vulnsweep.sources import deduplicate
from vulnsweep.sources.requirements.source import RequirementsSource
from vulnsweep.target import TargetEnvironment, target_environment

CASES = Path(__file__).resolve().parents[1] / "data" / "resolution"
# pip recorded on CPython 3.11 / linux; the resolver is told the same target.
TARGET = TargetEnvironment(target_environment("3.11.7", "linux"), "linux")


def resolve_file(path: Path, server: IndexServer, cache_dir: Path | None = None) -> Resolved:
    requests: list[ResolutionRequest] = []
    deduplicate(RequirementsSource([str(path)], resolve=True).collect(), requests)
    assert len(requests) == 1
    cache = Cache(cache_dir)
    try:
        return resolve_all(
            requests, ResolverSettings(cache=cache, index_url=server.url, target=TARGET)
        )
    finally:
        cache.close()


def pins(resolved: Resolved) -> dict[str, str]:
    return {d.name: d.version for d in resolved.dependencies}


@pytest.mark.parametrize(
    "case",
    ["web", "yanked", "pre", "pre-specifier", "backtrack", "constrained", "libs"],
)
def test_same_set_as_pip(case: str, index_server: IndexServer) -> None:
    recorded = json.loads((CASES / f"{case}.pip.json").read_text())
    assert recorded["python"].startswith("3.11")
    assert pins(resolve_file(CASES / f"{case}.in", index_server)) == recorded["install"]


def test_conflict_is_explained_like_pip(index_server: IndexServer) -> None:
    recorded = json.loads((CASES / "conflict.pip.json").read_text())
    assert "ResolutionImpossible" in recorded["error"][-1]
    with pytest.raises(InputError) as caught:
        resolve_file(CASES / "conflict.in", index_server)
    message = str(caught.value)
    assert message.startswith(f"{CASES / 'conflict.in'}: conflicting requirements for werkzeug: ")
    assert f"{CASES / 'conflict.in'}:3 requires werkzeug<2" in message
    assert "flask 3.1.3 requires werkzeug>=3.1.0" in message.lower()
