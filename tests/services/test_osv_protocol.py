"""OSV wire-protocol cases, one at a time, with aioresponses standing in for the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from aioresponses import CallbackResult, aioresponses

from vulnsweep.cache import Cache
from vulnsweep.errors import UsageError
from vulnsweep.model import Dependency
from vulnsweep.net.http import RetryPolicy
from vulnsweep.services import NullProgress, ServiceAnswer
from vulnsweep.services.osv import OsvService, normalize_base_url

BASE = "https://osv.example"
BATCH = f"{BASE}/v1/querybatch"
FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, max_retry_after=0.05)


def vuln(rid: str, fixed: str = "2.0", **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "modified": "2024-01-01T00:00:00Z",
        "aliases": [],
        "details": rid,
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "foo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
        **extra,
    }


def ref(rid: str) -> dict[str, str]:
    return {"id": rid, "modified": "2024-01-01T00:00:00Z"}


DEPS = [Dependency("foo", "1.0"), Dependency("bar", "2.0")]


async def run(service: OsvService, deps: list[Dependency] = DEPS) -> ServiceAnswer:
    return await service.query(deps, NullProgress())


def service(tmp_path: Path | None = None, **kwargs: Any) -> OsvService:
    cache = Cache(tmp_path / "cache") if tmp_path else None
    return OsvService(BASE, cache, retry=FAST, **kwargs)


def test_base_url_accepts_pip_audit_form() -> None:
    assert normalize_base_url("https://api.osv.dev/v1/query").reveal() == "https://api.osv.dev"
    assert normalize_base_url("http://127.0.0.1:8080/").reveal() == "http://127.0.0.1:8080"
    assert (
        normalize_base_url("https://mirror.example/osv/v1").reveal() == "https://mirror.example/osv"
    )
    with pytest.raises(UsageError):
        normalize_base_url("ftp://x")


async def test_batch_then_each_record_once() -> None:
    with aioresponses() as mock:
        mock.post(
            BATCH,
            payload={
                "results": [
                    {"vulns": [ref("PYSEC-1"), ref("PYSEC-2")]},
                    {"vulns": [ref("PYSEC-1")]},
                ]
            },
        )
        mock.get(f"{BASE}/v1/vulns/PYSEC-1", payload=vuln("PYSEC-1", "1.5"))
        mock.get(f"{BASE}/v1/vulns/PYSEC-2", payload=vuln("PYSEC-2", "3.0"))
        answer = await run(service(hydrate="ids"))
        calls = {str(k[1]): len(v) for k, v in mock.requests.items()}
    assert calls == {BATCH: 1, f"{BASE}/v1/vulns/PYSEC-1": 1, f"{BASE}/v1/vulns/PYSEC-2": 1}
    assert answer.failures == {}
    foo = answer.vulnerabilities[("foo", "1")]
    assert [(v.id, v.fix_versions) for v in foo] == [("PYSEC-1", ("1.5",)), ("PYSEC-2", ("3.0",))]
    # bar's record names only foo as affected: no fix versions for bar.
    assert [(v.id, v.fix_versions) for v in answer.vulnerabilities[("bar", "2")]] == [
        ("PYSEC-1", ())
    ]


async def test_request_body_is_the_osv_wire_format() -> None:
    seen: list[Any] = []

    def capture(url: Any, **kwargs: Any) -> CallbackResult:
        seen.append(orjson.loads(kwargs["data"]))
        return CallbackResult(payload={"results": [{}, {}]})

    with aioresponses() as mock:
        mock.post(BATCH, callback=capture)
        await run(service(), [Dependency("Foo_Bar", "1.0-RC1"), Dependency("baz", "2")])
    assert seen == [
        {
            "queries": [
                {"package": {"name": "foo-bar", "ecosystem": "PyPI"}, "version": "1.0rc1"},
                {"package": {"name": "baz", "ecosystem": "PyPI"}, "version": "2"},
            ]
        }
    ]


async def test_pagination_resends_only_queries_with_tokens() -> None:
    bodies: list[Any] = []
    pages = iter(
        [
            {"results": [{"next_page_token": "t1"}, {}]},  # a page may hold only a token
            {"results": [{"vulns": [ref("PYSEC-1")], "next_page_token": "t2"}]},
            {"results": [{"vulns": [ref("PYSEC-2")]}]},
        ]
    )

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        bodies.append(orjson.loads(kwargs["data"]))
        return CallbackResult(payload=next(pages))

    with aioresponses() as mock:
        mock.post(BATCH, callback=answer, repeat=True)
        mock.get(f"{BASE}/v1/vulns/PYSEC-1", payload=vuln("PYSEC-1"))
        mock.get(f"{BASE}/v1/vulns/PYSEC-2", payload=vuln("PYSEC-2"))
        result = await run(service())
    assert [len(b["queries"]) for b in bodies] == [2, 1, 1]
    assert [b["queries"][0].get("page_token") for b in bodies] == [None, "t1", "t2"]
    assert [v.id for v in result.vulnerabilities[("foo", "1")]] == ["PYSEC-1", "PYSEC-2"]
    assert result.vulnerabilities[("bar", "2")] == []


async def test_repeating_page_token_fails_that_query_only() -> None:
    with aioresponses() as mock:
        mock.post(BATCH, payload={"results": [{"next_page_token": "same"}, {}]})
        mock.post(BATCH, payload={"results": [{"next_page_token": "same"}]})
        result = await run(service())
    assert result.vulnerabilities == {("bar", "2"): []}
    assert "pagination token repeated" in result.failures[("foo", "1")]


async def test_429_honours_retry_after_then_succeeds() -> None:
    with aioresponses() as mock:
        mock.post(BATCH, status=429, headers={"Retry-After": "0"})
        mock.post(BATCH, status=503)
        mock.post(BATCH, payload={"results": [{}, {}]})
        result = await run(service())
    assert result.failures == {}
    assert result.vulnerabilities == {("foo", "1"): [], ("bar", "2"): []}


async def test_5xx_until_attempts_run_out_is_a_named_failure() -> None:
    with aioresponses() as mock:
        mock.post(BATCH, status=502, repeat=True)
        result = await run(service())
    assert set(result.failures) == {("foo", "1"), ("bar", "2")}
    (error,) = result.errors
    assert error.service == "OSV"
    assert error.url.reveal() == BATCH
    assert error.message == "HTTP 502 (gave up after 4 attempts)"


async def test_other_4xx_fails_at_once_with_the_server_message() -> None:
    with aioresponses() as mock:
        mock.post(BATCH, status=400, payload={"code": 3, "message": "Too many queries."})
        result = await run(service())
        assert sum(len(v) for v in mock.requests.values()) == 1
    assert result.errors[0].message == "HTTP 400: Too many queries."


async def test_wrong_result_count_and_bad_json_are_retried() -> None:
    with aioresponses() as mock:
        mock.post(BATCH, payload={"results": [{}]})
        mock.post(BATCH, body=b'{"results": [', content_type="application/json")
        mock.post(BATCH, payload={"results": [{}, {}]})
        result = await run(service())
    assert result.failures == {}


async def test_missing_record_fails_only_its_dependencies(tmp_path: Path) -> None:
    svc = service(tmp_path)
    with aioresponses() as mock:
        mock.post(
            BATCH, payload={"results": [{"vulns": [ref("PYSEC-404")]}, {"vulns": [ref("PYSEC-1")]}]}
        )
        mock.get(f"{BASE}/v1/vulns/PYSEC-404", status=404, payload={"message": "Bug not found."})
        mock.get(f"{BASE}/v1/vulns/PYSEC-1", payload=vuln("PYSEC-1"))
        result = await run(svc)
    assert list(result.vulnerabilities) == [("bar", "2")]
    assert "PYSEC-404 not found (HTTP 404)" in result.failures[("foo", "1")]
    svc.persist()
    # Only the complete answer was cached.
    assert set(svc.cache.get_queries(svc.source, [("foo", "1"), ("bar", "2")])) == {("bar", "2")}


async def test_record_with_the_wrong_id_is_rejected() -> None:
    with aioresponses() as mock:
        mock.post(BATCH, payload={"results": [{"vulns": [ref("PYSEC-1")]}, {}]})
        mock.get(f"{BASE}/v1/vulns/PYSEC-1", payload=vuln("PYSEC-666"), repeat=True)
        result = await run(service())
    assert "is not the record PYSEC-1" in result.failures[("foo", "1")]


async def test_large_input_is_split_into_batches_of_at_most_1000() -> None:
    sizes: list[int] = []

    def answer(url: Any, **kwargs: Any) -> CallbackResult:
        count = len(orjson.loads(kwargs["data"])["queries"])
        sizes.append(count)
        return CallbackResult(payload={"results": [{}] * count})

    deps = [Dependency(f"pkg{i}", "1.0") for i in range(2500)]
    with aioresponses() as mock:
        mock.post(BATCH, callback=answer, repeat=True)
        result = await run(service(), deps)
    assert sum(sizes) == 2500 and max(sizes) <= 1000 and len(sizes) == 8
    assert len(result.vulnerabilities) == 2500


async def test_warm_cache_answers_without_network(tmp_path: Path) -> None:
    first = service(tmp_path)
    with aioresponses() as mock:
        mock.post(BATCH, payload={"results": [{"vulns": [ref("PYSEC-1")]}, {}]})
        mock.get(f"{BASE}/v1/vulns/PYSEC-1", payload=vuln("PYSEC-1"))
        cold = await run(first)
    first.persist()
    second = service(tmp_path)
    answers, misses = second.answer_from_cache(DEPS)
    assert misses == []
    assert answers == cold.vulnerabilities


async def test_changed_modified_refetches_only_that_record(tmp_path: Path) -> None:
    first = service(tmp_path)
    with aioresponses() as mock:
        mock.post(
            BATCH, payload={"results": [{"vulns": [ref("PYSEC-1")]}, {"vulns": [ref("PYSEC-2")]}]}
        )
        mock.get(f"{BASE}/v1/vulns/PYSEC-1", payload=vuln("PYSEC-1"))
        mock.get(f"{BASE}/v1/vulns/PYSEC-2", payload=vuln("PYSEC-2"))
        await run(first)
    first.persist()
    second = OsvService(BASE, Cache(tmp_path / "cache", ttl=0), retry=FAST)  # queries stale
    newer = {"id": "PYSEC-2", "modified": "2024-06-01T00:00:00Z"}
    with aioresponses() as mock:
        mock.post(BATCH, payload={"results": [{"vulns": [ref("PYSEC-1")]}, {"vulns": [newer]}]})
        mock.get(
            f"{BASE}/v1/vulns/PYSEC-2",
            payload=vuln("PYSEC-2", "9.9", modified="2024-06-01T00:00:00Z"),
        )
        result = await run(second)
        fetched = [str(k[1]) for k in mock.requests if re.search("vulns", str(k[1]))]
    assert fetched == [f"{BASE}/v1/vulns/PYSEC-2"]
    assert result.vulnerabilities[("bar", "2")][0].modified == "2024-06-01T00:00:00Z"
    assert result.vulnerabilities[("foo", "1")][0].id == "PYSEC-1"
