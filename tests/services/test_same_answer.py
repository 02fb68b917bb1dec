"""Same answer from every source: offline database, live OSV protocol, PyPI JSON API."""

from __future__ import annotations

import random
from pathlib import Path

import anyio
import pytest

from tests.servers.osv import DATA_ZIP, OsvDatabase, OsvServer
from vulnsweep.cache import Cache, advisorydb
from vulnsweep.model import Dependency, Vulnerability, canonical_name
from vulnsweep.net.http import RetryPolicy
from vulnsweep.services import Key, NullProgress, VulnerabilityService
from vulnsweep.services.offline import OfflineService
from vulnsweep.services.osv import OsvService
from vulnsweep.services.pypi import PypiService

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


def corpus(db: OsvDatabase, size: int = 1200, seed: int = 3) -> list[Dependency]:
    """Pins drawn from the export: affected versions, fix versions and unlisted ones."""
    rng = random.Random(seed)
    pins: dict[tuple[str, str], Dependency] = {}
    names = sorted(db.by_package)
    while len(pins) < size:
        name = rng.choice(names)
        record_id, _ = rng.choice(db.by_package[name])
        record = db.records[record_id]
        versions = [
            v
            for a in record["affected"]
            if canonical_name(a["package"]["name"]) == name
            for v in a.get("versions", [])
        ]
        fixes = [
            e["fixed"]
            for a in record["affected"]
            for r in a.get("ranges", [])
            for e in r["events"]
            if "fixed" in e and r["type"] == "ECOSYSTEM"
        ]
        pool = versions + fixes + ["0.0.1", "9999.0"]
        version = rng.choice(pool)
        pins[(name, version)] = Dependency(name, version)
    return list(pins.values())


# The real export's two ECOSYSTEM events that are no PEP 440 version (binderhub's
# `0.2.0-n653`, steam's `2019-09-12`): a local matcher cannot place those ranges, so it
# names such pins as not audited (unless another part matches) instead of guessing.
UNPLACEABLE = {"binderhub": "PYSEC-2021-371", "steam": "PYSEC-2019-125"}


def answers(
    service: VulnerabilityService, deps: list[Dependency], undecided: dict[Key, str] | None = None
) -> dict[Key, list[tuple[str, tuple[str, ...], tuple[str, ...]]]]:
    found, misses = service.answer_from_cache(deps)
    if misses:
        result = anyio.run(lambda: service.query(misses, NullProgress()))
        if undecided is not None:
            undecided.update(result.failures)
        else:
            assert result.failures == {}
        assert result.skipped == {}
        found.update(result.vulnerabilities)

    def shape(vulns: list[Vulnerability]) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
        return sorted((v.id, v.aliases, v.fix_versions) for v in vulns)

    return {key: shape(vulns) for key, vulns in found.items()}


@pytest.fixture(scope="module")
def offline_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("offline") / advisorydb.DB_NAME
    advisorydb.build(path, advisorydb.records_from_archive(DATA_ZIP), source="test")
    return path


def test_offline_osv_and_pypi_agree_on_real_data(
    osv_db: OsvDatabase, osv_server: OsvServer, offline_db: Path, tmp_path: Path
) -> None:
    deps = corpus(osv_db)
    undecided: dict[Key, str] = {}
    offline = answers(OfflineService(offline_db), deps, undecided)
    assert undecided  # the corpus draws such pins
    for (name, _), reason in undecided.items():
        assert reason.startswith(f"advisory {UNPLACEABLE[name]} cannot be matched: ")
    online = answers(OsvService(osv_server.url, retry=FAST), deps)
    by_package = answers(OsvService(osv_server.url, retry=FAST, hydrate="packages"), deps)
    pypi = answers(PypiService(osv_server.url, retry=FAST), deps)
    assert len(offline) + len(set(undecided) - set(offline)) == len(deps) >= 1000
    vulnerable = sum(1 for v in offline.values() if v)
    assert vulnerable > 300  # the corpus really exercises matching
    decided = {key for key in offline if key not in undecided}
    for server in (online, by_package, pypi):
        assert {k: offline[k] for k in decided} == {k: server[k] for k in decided}
        # Where the offline answer is partial, what it did find the server found too.
        for key in set(undecided) & set(offline):
            assert set(offline[key]) <= set(server[key])


def test_offline_spot_checks(offline_db: Path) -> None:
    deps = [
        Dependency("Jinja2", "2.4.1"),
        Dependency("jinja2", "2.7.2"),
        Dependency("werkzeug", "0.15.3"),
        Dependency("not-a-package", "1.0"),
    ]
    found, misses = OfflineService(offline_db).answer_from_cache(deps)
    assert misses == []
    assert [v.id for v in found[deps[0].key]] == [
        "PYSEC-2014-8",
        "PYSEC-2014-82",
        "PYSEC-2019-217",
        "PYSEC-2019-220",
        "PYSEC-2021-66",
    ]
    # 2.7.2 is PYSEC-2014-8's fix, so that one no longer applies.
    assert [v.id for v in found[deps[1].key]] == [
        "PYSEC-2014-82",
        "PYSEC-2019-217",
        "PYSEC-2019-220",
        "PYSEC-2021-66",
    ]
    assert found[deps[3].key] == []


def test_pypi_404_is_a_skip_and_responses_are_revalidated(
    osv_server: OsvServer, tmp_path: Path
) -> None:
    deps = [Dependency("jinja2", "2.10.1"), Dependency("nonexistent-pkg", "1.0")]
    cache = Cache(tmp_path / "c")
    service = PypiService(osv_server.url, cache, retry=FAST)
    _, misses = service.answer_from_cache(deps)
    result = anyio.run(lambda: service.query(misses, NullProgress()))
    service.persist()
    assert [v.id for v in result.vulnerabilities[deps[0].key]] == ["PYSEC-2021-66"]
    assert result.skipped == {deps[1].key: "nonexistent-pkg 1.0 not found on PyPI"}
    # max-age=0: the next run revalidates with the ETag and gets 304, reusing the body.
    osv_server.hits.clear()
    again = PypiService(osv_server.url, Cache(tmp_path / "c"), retry=FAST)
    cached, misses = again.answer_from_cache(deps[:1])
    assert cached == {} and misses == deps[:1]
    result = anyio.run(lambda: again.query(misses, NullProgress()))
    assert [v.id for v in result.vulnerabilities[deps[0].key]] == ["PYSEC-2021-66"]
    assert osv_server.hits["pypi"] == 1
    # A fresh max-age means no request at all.
    osv_server.pypi_max_age = 3600
    try:
        third = PypiService(osv_server.url, Cache(tmp_path / "c2"), retry=FAST)
        _, misses = third.answer_from_cache(deps[:1])
        anyio.run(lambda: third.query(misses, NullProgress()))
        third.persist()
        cached, misses = PypiService(osv_server.url, Cache(tmp_path / "c2")).answer_from_cache(
            deps[:1]
        )
        assert misses == [] and [v.id for v in cached[deps[0].key]] == ["PYSEC-2021-66"]
    finally:
        osv_server.pypi_max_age = 0


def test_old_database_warns(
    offline_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import shutil
    import sqlite3
    import time

    old = tmp_path / advisorydb.DB_NAME
    shutil.copy(offline_db, old)
    conn = sqlite3.connect(old)
    with conn:
        # Age is the data's: the newest record's `modified`, not when it was imported.
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 10 * 86400))
        conn.execute("UPDATE records SET modified = ?", (stamp,))
    conn.close()
    with caplog.at_level(logging.WARNING):
        OfflineService(old, max_age_days=7).answer_from_cache([Dependency("six", "1.16.0")])
    assert "the offline advisory database is 10.0 days old (over --max-db-age 7)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        OfflineService(old, max_age_days=30).answer_from_cache([Dependency("six", "1.16.0")])
    assert caplog.text == ""
