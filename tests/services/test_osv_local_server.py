"""The OSV client against the local OSV server over the real PyPA export."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.servers.osv import Faults, OsvServer
from vulnsweep.cache import Cache
from vulnsweep.model import Dependency
from vulnsweep.net.http import RetryPolicy
from vulnsweep.services import NullProgress, ServiceAnswer
from vulnsweep.services.osv import OsvService

FAST = RetryPolicy(attempts=6, base_delay=0.001, max_delay=0.01, max_retry_after=0.05)

# Verified against pip-audit 2.10 on the same server: identical ids and fix versions.
EXPECTED = {
    ("flask", "1.0"): [("PYSEC-2023-62", ("2.2.5", "2.3.2"))],
    ("jinja2", "2.10.1"): [("PYSEC-2021-66", ("2.11.3",))],
    ("werkzeug", "0.15.3"): [
        ("PYSEC-2022-203", ("2.1.1",)),
        ("PYSEC-2023-221", ("2.3.8", "3.0.1")),
        ("PYSEC-2023-57", ("2.2.3",)),
        ("PYSEC-2023-58", ("2.2.3",)),
    ],
    ("urllib3", "1.24.1"): [
        ("PYSEC-2019-132", ("1.24.3",)),
        ("PYSEC-2019-133", ("1.24.2",)),
        ("PYSEC-2020-148", ("1.25.9",)),
        ("PYSEC-2021-108", ("1.26.5",)),
        ("PYSEC-2023-192", ("1.26.17", "2.0.6")),
        ("PYSEC-2023-207", ("1.24.2",)),
        ("PYSEC-2023-212", ("1.26.18", "2.0.7")),
    ],
    ("click", "7.1.2"): [],
    ("six", "1.15.0"): [],
}
DEPS = [Dependency(name, version) for name, version in EXPECTED]


def findings(answer: ServiceAnswer) -> dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]]:
    return {
        (dep.canonical_name, dep.version): [
            (v.id, v.fix_versions) for v in answer.vulnerabilities[dep.key]
        ]
        for dep in DEPS
        if dep.key in answer.vulnerabilities
    }


def query(server: OsvServer, cache: Cache | None = None, **kwargs: object) -> ServiceAnswer:
    service = OsvService(server.url, cache, retry=FAST, **kwargs)  # type: ignore[arg-type]

    async def go() -> ServiceAnswer:
        return await service.query(DEPS, NullProgress())

    answer = anyio.run(go)
    service.persist()
    return answer


def test_real_advisories_exactly(osv_server: OsvServer) -> None:
    answer = query(osv_server, hydrate="ids")
    assert answer.failures == {}
    assert findings(answer) == EXPECTED
    unique_ids = {i for vs in EXPECTED.values() for i, _ in vs}
    assert osv_server.hits == {"querybatch": 1, "vulns": len(unique_ids)}


def test_by_default_a_pin_whose_records_are_all_new_gets_them_in_one_query(
    osv_server: OsvServer,
) -> None:
    answer = query(osv_server)
    assert answer.failures == {}
    assert findings(answer) == EXPECTED
    # werkzeug's 4 and urllib3's 7 records by /v1/query; flask's and jinja2's one each
    # by id: 13 records, each transferred once, in 4 requests instead of 13.
    assert osv_server.hits == {"querybatch": 1, "query": 2, "vulns": 2}


def test_by_default_a_record_shared_with_another_pin_is_not_fetched_twice(
    osv_server: OsvServer,
) -> None:
    # urllib3 1.24.2 shares some of 1.24.1's advisories: the pin with more records
    # claims its whole set by /v1/query; the other's remaining records come by id.
    older, newer = Dependency("urllib3", "1.24.1"), Dependency("urllib3", "1.24.2")
    service = OsvService(osv_server.url, retry=FAST)
    answer = anyio.run(service.query, [older, newer], NullProgress())
    older_ids = {v.id for v in answer.vulnerabilities[older.key]}
    newer_ids = {v.id for v in answer.vulnerabilities[newer.key]}
    assert older_ids & newer_ids and newer_ids - older_ids == set()
    assert osv_server.hits == {"querybatch": 1, "query": 1}
    osv_server.reset()
    # Two pins sharing two records, each with one of its own: the first claims its
    # whole set by /v1/query; of the second's, only the record left comes by id.
    first, second = Dependency("django", "1.10.7"), Dependency("django", "1.10a1")
    answer = anyio.run(service.query, [first, second], NullProgress())
    assert [sorted(v.id for v in answer.vulnerabilities[d.key]) for d in (first, second)] == [
        ["PYSEC-2017-44", "PYSEC-2019-16", "PYSEC-2021-98"],
        ["PYSEC-2016-2", "PYSEC-2019-16", "PYSEC-2021-98"],
    ]
    assert osv_server.hits == {"querybatch": 1, "query": 1, "vulns": 1}


def test_pagination_gives_the_same_answer(osv_server: OsvServer) -> None:
    osv_server.reset(page_size=2)
    answer = query(osv_server)
    assert findings(answer) == EXPECTED
    # urllib3's 7 advisories at 2 a page: 4 pages.
    assert osv_server.hits["querybatch"] == 4


def test_transient_faults_give_the_clean_answer(osv_server: OsvServer) -> None:
    for seed in range(3):
        osv_server.reset(
            Faults(
                error_rate=0.2,
                rate_limit_rate=0.1,
                bad_json_rate=0.1,
                wrong_count_rate=0.2,
                seed=seed,
            )
        )
        answer = query(osv_server)
        assert answer.failures == {}, seed
        assert findings(answer) == EXPECTED, seed


def test_hang_past_timeout_is_retried(osv_server: OsvServer) -> None:
    from vulnsweep.net.http import Timeouts

    osv_server.reset(Faults(hang_rate=0.3, seed=1))
    answer = query(osv_server, timeouts=Timeouts(connect=1, read=0.3), batch_read_timeout=0.3)
    assert findings(answer) == EXPECTED


def test_permanent_failure_keeps_what_was_audited(osv_server: OsvServer) -> None:
    osv_server.reset(Faults(missing_ids={"PYSEC-2021-66"}))
    answer = query(osv_server)
    assert list(answer.failures) == [("jinja2", "2.10.1")]
    expected = dict(EXPECTED)
    del expected[("jinja2", "2.10.1")]
    assert findings(answer) == expected


def test_warm_run_makes_no_request(osv_server: OsvServer, tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    query(osv_server, cache)
    osv_server.reset()
    service = OsvService(osv_server.url, Cache(tmp_path / "c"))
    answers, misses = service.answer_from_cache(DEPS)
    assert misses == []
    assert {
        (d.canonical_name, d.version): [(v.id, v.fix_versions) for v in answers[d.key]]
        for d in DEPS
    } == EXPECTED
    assert sum(osv_server.hits.values()) == 0


# -- --hydrate packages: one /v1/query per pin with two or more new advisories -------


def test_hydrating_by_package_gives_the_same_answer_in_fewer_requests(
    osv_server: OsvServer,
) -> None:
    answer = query(osv_server, hydrate="packages")
    assert answer.failures == {}
    assert findings(answer) == EXPECTED
    # werkzeug (4) and urllib3 (7) come by /v1/query, flask's and jinja2's one by id
    assert osv_server.hits == {"querybatch": 1, "query": 2, "vulns": 2}


def test_hydrating_by_package_follows_query_pagination(osv_server: OsvServer) -> None:
    osv_server.reset(page_size=2)
    answer = query(osv_server, hydrate="packages")
    assert findings(answer) == EXPECTED
    # urllib3's 7 records at 2 a page: 4 pages; werkzeug's 4: 2 pages
    assert osv_server.hits["query"] == 6 and osv_server.hits["vulns"] == 2


def test_records_a_query_leaves_out_are_fetched_by_id(osv_server: OsvServer) -> None:
    osv_server.reset(Faults(query_drops={"PYSEC-2023-212", "PYSEC-2022-203"}))
    answer = query(osv_server, hydrate="packages")
    assert answer.failures == {}
    assert findings(answer) == EXPECTED
    assert osv_server.hits == {"querybatch": 1, "query": 2, "vulns": 4}


def test_a_failing_query_falls_back_to_ids(osv_server: OsvServer) -> None:
    osv_server.reset(Faults(fail_paths={"/v1/query"}))
    answer = query(osv_server, hydrate="packages")
    assert answer.failures == {}
    assert findings(answer) == EXPECTED
    assert osv_server.hits["vulns"] == 2 + 4 + 7


def test_records_written_while_others_are_in_flight_all_reach_the_cache(
    osv_server: OsvServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vulnsweep.services.osv as osv

    monkeypatch.setattr(osv, "RECORD_FLUSH", 2)  # flushes during the run, then the rest
    writes: list[int] = []
    put_records = Cache.put_records

    def counted(self: Cache, source: str, records: list[tuple[str, str, bytes]]) -> None:
        writes.append(len(records))
        put_records(self, source, records)

    monkeypatch.setattr(Cache, "put_records", counted)
    osv_server.reset(Faults(slow_ids={"PYSEC-2021-66": 0.3}))  # jinja2's arrives last
    query(osv_server, Cache(tmp_path / "c"), hydrate="ids")
    unique_ids = {i for vs in EXPECTED.values() for i, _ in vs}
    assert sum(writes) == len(unique_ids)
    assert len([w for w in writes if w]) >= 2  # written while jinja2's was in flight
    osv_server.reset()
    answers, misses = OsvService(osv_server.url, Cache(tmp_path / "c")).answer_from_cache(DEPS)
    assert misses == [] and sum(osv_server.hits.values()) == 0
    assert len(answers) == len(DEPS)
