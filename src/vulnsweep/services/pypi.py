"""PyPI's JSON API as a vulnerability service: one GET per pin, many in flight.

`GET {pypi}/pypi/{name}/{version}/json` carries a `vulnerabilities` list (PyPI's own
copy of the OSV data). Responses are cached with their ETag and max-age: fresh ones
are reused without a request, stale ones revalidated with If-None-Match. A 404 means
the release is not on PyPI: a skipped dependency, not a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from vulnsweep.cache import Cache, HttpEntry, decoded, source_key
from vulnsweep.errors import ServiceError, UsageError
from vulnsweep.model import Dependency, Vulnerability
from vulnsweep.net.http import HttpClient, RetryPolicy, Timeouts

if TYPE_CHECKING:
    from vulnsweep.net.session import Network
from vulnsweep.advisories.records import merge
from vulnsweep.services import Key, OnAnswer, Progress, ServiceAnswer
from vulnsweep.services.osv import query_version
from vulnsweep.url import Url, as_url

log = logging.getLogger(__name__)

DEFAULT_URL = "https://pypi.org"
DEFAULT_MAX_AGE = 900.0  # when PyPI says nothing; its JSON pages change rarely


def as_osv_records(package: str, vulnerabilities: Any) -> list[dict[str, Any]]:
    """PyPI's entries in OSV's shape, so alias merging and fixes are shared code."""
    if not isinstance(vulnerabilities, list):
        raise ValueError("`vulnerabilities` is not a list")
    records = []
    for vuln in vulnerabilities:
        if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str):
            raise ValueError("a vulnerability without an id")
        fixed = vuln.get("fixed_in") or []
        if not isinstance(fixed, list):
            log.warning(
                "advisory %.200s: `fixed_in` %.60r is not a list; dropped", vuln["id"], fixed
            )
            fixed = []
        records.append(
            {
                "id": vuln["id"],
                "aliases": vuln.get("aliases") or [],  # checked by advisories.malformed
                "summary": vuln.get("summary"),
                "details": vuln.get("details"),
                "withdrawn": vuln.get("withdrawn"),
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": package},
                        # One range per fix: one unreadable value costs only itself.
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": f}]}
                            for f in fixed
                            if isinstance(f, str)
                        ],
                    }
                ],
            }
        )
    return records


class PypiService:
    name = "PyPI"
    answers_locally = False

    def __init__(
        self,
        base_url: str | Url = DEFAULT_URL,
        cache: Cache | None = None,
        *,
        concurrency: int = 64,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
        network: Network | None = None,
    ) -> None:
        self.network = network
        base = as_url(base_url).rstrip("/")
        self.deadline = deadline
        if base.scheme not in ("http", "https") or not base.has_host:
            raise UsageError(f"--pypi-url must be an http(s) URL, got {str(base)[:200]!r}")
        self.base_url = base
        self.cache = cache or Cache(None)
        self.source = source_key(f"pypi:{base}")
        self.concurrency = concurrency
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._stale: dict[str, HttpEntry] = {}
        self._new: list[tuple[str, HttpEntry]] = []

    def url(self, dep: Dependency) -> Url:
        return self.base_url.join(self.key(dep))

    @staticmethod
    def key(dep: Dependency) -> str:
        """The cache key: the path below the base URL (its partition), no credential."""
        name = quote(dep.canonical_name, safe="")
        return f"/pypi/{name}/{quote(query_version(dep), safe='')}/json"

    def answer_from_cache(
        self, dependencies: Sequence[Dependency]
    ) -> tuple[dict[Key, list[Vulnerability]], list[Dependency]]:
        stored = self.cache.get_http(self.source, [self.key(d) for d in dependencies])
        now = time.time()
        answers: dict[Key, list[Vulnerability]] = {}
        misses = []
        for dep in dependencies:
            entry = stored.get(self.key(dep))
            body = decoded(entry.body) if entry is not None else None
            if entry is not None and entry.expires > now and isinstance(body, list):
                answers[dep.key] = merge(
                    as_osv_records(dep.canonical_name, body), dep.canonical_name
                )
                continue
            if entry is not None and isinstance(body, list):  # a damaged row is no copy
                self._stale[self.key(dep)] = entry
            misses.append(dep)
        return answers, misses

    async def query(
        self,
        dependencies: Sequence[Dependency],
        progress: Progress,
        on_answer: OnAnswer | None = None,
    ) -> ServiceAnswer:
        import anyio

        answer = ServiceAnswer()
        limit = anyio.Semaphore(self.concurrency)
        progress.add_queries(len(dependencies))

        async def one(http: HttpClient, dep: Dependency) -> None:
            url, key = self.url(dep), self.key(dep)
            stale = self._stale.get(key)
            try:
                async with limit:
                    result = await http.get_revalidated(
                        url, stale.etag if stale else None, validate=lambda d: _vulnerabilities(d)
                    )
            except ServiceError as exc:
                answer.errors.append(exc)
                answer.failures[dep.key] = f"PyPI lookup failed: {exc.message}"
                return
            finally:
                progress.queries_done(1)
            expires = time.time() + (
                result.max_age if result.max_age is not None else DEFAULT_MAX_AGE
            )
            if result.status == 404:
                answer.skipped[dep.key] = f"{dep.canonical_name} {dep.version} not found on PyPI"
                return
            if result.status == 304 and stale is not None:
                body = stale.body
            else:
                body = memoryview(orjson.dumps(result.data)).tobytes()  # orjson over-allocates
            self._new.append((key, HttpEntry(result.etag, expires, body)))
            vulns = merge(
                as_osv_records(dep.canonical_name, orjson.loads(body)), dep.canonical_name
            )
            answer.vulnerabilities[dep.key] = vulns
            if on_answer is not None:
                on_answer(dep.key, vulns)

        async with (
            HttpClient(
                self.name,
                timeouts=self.timeouts,
                concurrency=self.concurrency,
                retry=self.retry,
                network=self.network,
            ) as http,
            anyio.create_task_group() as tg,
        ):
            for dep in dependencies:
                tg.start_soon(one, http, dep)
        return answer

    def persist(self) -> None:
        self.cache.put_http(self.source, self._new)
        self._new.clear()


def _vulnerabilities(data: Any) -> Any:
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    vulns = data.get("vulnerabilities", [])
    as_osv_records("x", vulns)  # validates the shape
    return vulns
