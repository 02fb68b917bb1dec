"""OSV client: every uncached pin goes into /v1/querybatch (<=1000 queries a request,
several requests in flight, per-query pagination), then each unique advisory is fetched
once from /v1/vulns/{id}, unless the cache holds it with the same `modified` stamp.

By default (`hydrate="auto"`) a pin whose two or more advisories are all still to
fetch gets them from one /v1/query instead: the same records, each once, in fewer
requests. `"packages"` also claims pins sharing a record (more bytes, fewer round
trips); `"ids"` always fetches by id."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import quote, urlsplit

import orjson

from vulnsweep.advisories.records import OsvRecord, merge
from vulnsweep.cache import Cache, VulnRef, decoded, source_key
from vulnsweep.errors import ServiceError, UsageError
from vulnsweep.model import Dependency, Vulnerability, parse_version
from vulnsweep.net.http import RetryPolicy, Timeouts
from vulnsweep.services import Key, OnAnswer, Progress, ServiceAnswer
from vulnsweep.url import Url, as_url

if TYPE_CHECKING:
    import anyio.abc

    from vulnsweep.net.http import HttpClient
    from vulnsweep.net.session import Network

log = logging.getLogger(__name__)

DEFAULT_URL = "https://api.osv.dev"
MAX_QUERIES_PER_BATCH = 1000  # OSV answers 400 above this
# Pagination runs until the server stops giving tokens (a pin can have hundreds of
# advisories across pages); a token that repeats, or this many pages in a row that
# bring no advisory not already seen, means the server is looping: that query fails.
MAX_STALE_PAGES = 10
BATCH_READ_TIMEOUT = 60.0  # OSV itself may take up to a minute on a large batch
HYDRATE_MODES = ("auto", "ids", "packages")
PINS_PER_CONNECTION = 4  # preconnected while querybatch runs, up to --concurrency
# Records are written to the cache in a worker thread while the rest are still in
# flight, this many at a time: the network waits, SQLite writes, and the end of the
# run only writes the remainder.
RECORD_FLUSH = 200


# -- wire types (https://google.github.io/osv.dev/api/) ---------------------------


class OsvPackage(TypedDict):
    name: str
    ecosystem: str


class OsvQuery(TypedDict, total=False):
    package: OsvPackage
    version: str
    page_token: str


class OsvBatchRequest(TypedDict):
    queries: list[OsvQuery]


class OsvVulnRef(TypedDict):
    id: str
    modified: str


class OsvBatchResult(TypedDict, total=False):
    vulns: list[OsvVulnRef]
    next_page_token: str


class OsvBatchResponse(TypedDict):
    results: list[OsvBatchResult]


class OsvQueryResponse(TypedDict, total=False):
    vulns: list[dict[str, Any]]  # full records
    next_page_token: str


def normalize_base_url(url: str | Url) -> Url:
    """Accept pip-audit's `https://api.osv.dev/v1/query` as well as a bare base URL."""
    given = as_url(url)
    raw = given.reveal().strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not given.has_host:
        raise UsageError(f"--osv-url must be an http(s) URL, got {str(given)[:200]!r}")
    path = parts.path.rstrip("/")
    for suffix in ("/v1/querybatch", "/v1/query", "/v1"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return Url(f"{parts.scheme}://{parts.netloc}{path}")


def query_version(dependency: Dependency) -> str:
    """The PEP 440 normal form when there is one (`1.0-RC1` -> `1.0rc1`), else as written."""
    return _normal_form(dependency.version)


@functools.cache
def _normal_form(text: str) -> str:
    parsed = parse_version(text)
    return text if parsed is None else str(parsed)


class _BadResponse(ValueError):
    pass


class OsvService:
    name = "OSV"
    answers_locally = False

    def __init__(
        self,
        base_url: str | Url = DEFAULT_URL,
        cache: Cache | None = None,
        *,
        concurrency: int = 64,
        batch_concurrency: int = 8,
        timeouts: Timeouts | None = None,
        batch_read_timeout: float = BATCH_READ_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_batch: int = MAX_QUERIES_PER_BATCH,
        deadline: float | None = None,
        hydrate: str = "auto",
        network: Network | None = None,
    ) -> None:
        self.network = network
        self.base_url = normalize_base_url(base_url)
        self.deadline = deadline
        self.cache = cache or Cache(None)
        self.source = source_key(self.base_url)
        self.concurrency = concurrency
        self.batch_concurrency = batch_concurrency
        self.timeouts = timeouts or Timeouts()
        self.batch_read_timeout = batch_read_timeout
        self.retry = retry or RetryPolicy()
        self.max_batch = max(1, min(max_batch, MAX_QUERIES_PER_BATCH))
        if hydrate not in HYDRATE_MODES:
            raise UsageError(
                f"--hydrate must be one of {', '.join(HYDRATE_MODES)}, got {hydrate!r}"
            )
        self.hydrate = hydrate
        self._records: dict[str, OsvRecord] = {}
        self._new_queries: list[tuple[Key, list[VulnRef]]] = []
        self._new_records: list[tuple[str, str, bytes]] = []
        self._known: dict[str, tuple[str, bytes]] = {}  # id -> (modified, body)

    def preload(self, records: Iterable[tuple[str, str, bytes]]) -> None:
        """Records a `--state` history already holds: one whose `modified` stamp still
        matches what querybatch says is not fetched again, cache or no cache."""
        for record_id, modified, body in records:
            self._known[record_id] = (modified, body)

    def records_read(self) -> Iterator[tuple[str, str, bytes]]:
        """(id, modified, body) of every record this run read (an alias group's members
        too), for the run history."""
        for record_id, record in self._records.items():
            yield record_id, str(record.get("modified", "")), orjson.dumps(record)

    # -- cache stage (synchronous, no HTTP imports) -----------------------------

    def answer_from_cache(
        self, dependencies: Sequence[Dependency]
    ) -> tuple[dict[Key, list[Vulnerability]], list[Dependency]]:
        keys = [d.key for d in dependencies]
        cached = self.cache.get_queries(self.source, keys)
        if not cached:
            return {}, list(dependencies)
        wanted = sorted({i for refs in cached.values() for i, _ in refs})
        stored = self.cache.get_records(self.source, wanted)
        answers: dict[Key, list[Vulnerability]] = {}
        misses: list[Dependency] = []
        for dep in dependencies:
            refs = cached.get(dep.key)
            if refs is None or any(stored.get(i, ("",))[0] != m for i, m in refs):
                misses.append(dep)
                continue
            records = [self._record_from_cache(i, stored[i][1]) for i, _ in refs]
            if any(r is None for r in records):
                misses.append(dep)
                continue
            answers[dep.key] = merge(records, dep.canonical_name)
        return answers, misses

    def _record_from_cache(self, record_id: str, body: bytes) -> OsvRecord | None:
        """None for a damaged row: the pin is asked again, and the record refetched."""
        record = self._records.get(record_id)
        if record is None:
            found = decoded(body)
            if not isinstance(found, dict):
                return None
            record = self._records[record_id] = found
        return record

    # -- network stage ----------------------------------------------------------

    async def query(
        self,
        dependencies: Sequence[Dependency],
        progress: Progress,
        on_answer: OnAnswer | None = None,
    ) -> ServiceAnswer:
        import anyio

        from vulnsweep.net.http import HttpClient

        progress.add_queries(len(dependencies))
        async with HttpClient(
            self.name,
            timeouts=self.timeouts,
            concurrency=self.concurrency,
            retry=self.retry,
            network=self.network,
        ) as http:
            query = _Query(self, http, progress, on_answer, dependencies)
            with anyio.move_on_after(self.deadline) as scope:
                async with anyio.create_task_group() as tg:
                    query._tg = tg
                    chunks = self._chunks(dependencies)
                    for chunk in chunks:
                        tg.start_soon(query._run_batch, chunk)
                    # While querybatch is answered, open the connections the records
                    # will be fetched over: about one for every few pins asked about.
                    wanted = min(self.concurrency, len(dependencies) // PINS_PER_CONNECTION)
                    if wanted > len(chunks):
                        tg.start_soon(http.preconnect, self.base_url, wanted, query.answered.wait)
            if scope.cancelled_caught:
                query._answer.errors.append(
                    ServiceError(
                        self.name, self.base_url, f"--deadline of {self.deadline:g}s exceeded"
                    )
                )
        return query._settle(dependencies)

    def _chunks(self, dependencies: Sequence[Dependency]) -> list[Sequence[Dependency]]:
        """Split so every batch slot is busy: round trips, not batch size, bound the run."""
        if not dependencies:
            return []
        count = max(
            math.ceil(len(dependencies) / self.max_batch),
            min(self.batch_concurrency, math.ceil(len(dependencies) / 100)),
        )
        size = math.ceil(len(dependencies) / count)
        return [dependencies[i : i + size] for i in range(0, len(dependencies), size)]

    def persist(self) -> None:
        self.cache.put_records(self.source, self._new_records)
        self.cache.put_queries(self.source, self._new_queries)
        self._new_records.clear()
        self._new_queries.clear()


class _Query:
    """One `query()` call's state: answers being assembled, records awaited, limits.
    The service keeps only what outlives a query (records read, answers to cache)."""

    def __init__(
        self,
        service: OsvService,
        http: HttpClient,
        progress: Progress,
        on_answer: OnAnswer | None,
        dependencies: Sequence[Dependency],
    ) -> None:
        import anyio

        self.service = service
        self._http = http
        self._progress = progress
        self._on_answer = on_answer
        self._answer = ServiceAnswer()
        self._names = {d.key: d.canonical_name for d in dependencies}
        self._waiting: dict[str, list[Key]] = {}  # record id -> answers waiting for it
        self._outstanding: dict[Key, int] = {}  # answer -> records still to arrive
        self._refs: dict[Key, list[VulnRef]] = {}
        self._record_errors: dict[str, str] = {}
        self._scheduled: set[str] = set(service._records)
        self._batch_limit = anyio.Semaphore(service.batch_concurrency)
        self._record_limit = anyio.Semaphore(service.concurrency)
        self._tg: anyio.abc.TaskGroup | None = None
        self._flushing = False
        self.answered = anyio.Event()  # a querybatch has been answered (or has failed)

    async def _run_batch(self, chunk: Sequence[Dependency]) -> None:
        url = self.service.base_url.join("/v1/querybatch")
        # Only the answers that list something are kept, and a batch's queries are
        # built once it has a slot: 200,000 pins must not mean 200,000 dicts at once.
        refs: dict[int, list[VulnRef]] = {}
        tokens: dict[int, str] = {}
        seen_tokens: set[tuple[int, str]] = set()
        stale: dict[int, int] = {}
        pending = list(range(len(chunk)))
        while pending:
            try:
                async with self._batch_limit:
                    request: OsvBatchRequest = {
                        "queries": [_query(chunk[i], tokens.get(i)) for i in pending]
                    }
                    results = await self._http.post_json(
                        url,
                        request,
                        functools.partial(_batch_results, expected=len(pending)),
                        read_timeout=self.service.batch_read_timeout,
                    )
                    del request
            except ServiceError as error:
                self._fail_queries([chunk[i] for i in pending], error)
                break
            finally:
                self.answered.set()  # preconnecting stops: the records' turn has come
            next_pending: list[int] = []
            for index, result in zip(pending, results):
                known = {i for i, _ in refs.get(index, ())}
                new = [(v["id"], v["modified"]) for v in result.get("vulns") or ()]
                if new:
                    refs.setdefault(index, []).extend(r for r in new if r[0] not in known)
                token = result.get("next_page_token")
                if not token:
                    continue
                stale[index] = 0 if any(r[0] not in known for r in new) else stale.get(index, 0) + 1
                looping = (
                    "pagination token repeated"
                    if (index, token) in seen_tokens
                    else f"{MAX_STALE_PAGES} pages in a row brought nothing new"
                    if stale[index] >= MAX_STALE_PAGES
                    else None
                )
                if looping is not None:
                    message = f"{looping}; giving up on {chunk[index].canonical_name}"
                    self._fail_queries(
                        [chunk[index]], ServiceError(self.service.name, url, message)
                    )
                    continue
                seen_tokens.add((index, token))
                tokens[index] = token
                next_pending.append(index)
            self._progress.queries_done(len(pending) - len(next_pending))
            pending = next_pending
        failed = self._answer.failures
        fresh: list[str] = []
        for position, dep in enumerate(chunk):
            dep_refs = refs.get(position, _NO_REFS)
            if dep.key in failed:
                continue
            self._refs[dep.key] = dep_refs
            self.service._new_queries.append((dep.key, dep_refs))
            for record_id, _modified in dep_refs:
                if record_id not in self._scheduled:
                    self._scheduled.add(record_id)
                    fresh.append(record_id)
            missing = {i for i, _ in dep_refs if i not in self.service._records}
            if not missing:
                self._complete(dep.key)
                continue
            self._outstanding[dep.key] = len(missing)
            for record_id in missing:
                self._waiting.setdefault(record_id, []).append(dep.key)
        if fresh:
            await self._schedule_records(fresh, dict(r for rs in refs.values() for r in rs), chunk)

    def _fail_queries(self, deps: Sequence[Dependency], error: ServiceError) -> None:
        self._answer.errors.append(error)
        for dep in deps:
            self._answer.failures[dep.key] = f"OSV query failed: {error.message}"
        self._progress.queries_done(len(deps))

    async def _schedule_records(
        self,
        ids: list[str],
        modified: dict[str, str],
        chunk: Sequence[Dependency],
    ) -> None:
        import anyio

        stored = await anyio.to_thread.run_sync(
            self.service.cache.get_records, self.service.source, ids
        )
        to_fetch = []
        for record_id in ids:
            hit = stored.get(record_id)
            known = self.service._known.get(record_id)
            if known is not None and known[0] == modified[record_id]:
                hit = known
            record = decoded(hit[1]) if hit is not None and hit[0] == modified[record_id] else None
            if isinstance(record, dict):
                self.service._records[record_id] = record
                self._arrived(record_id)
            else:
                to_fetch.append(record_id)
        self._progress.add_records(len(to_fetch))
        if self.service.hydrate != "ids":
            to_fetch = self._by_package(chunk, to_fetch, whole=self.service.hydrate == "auto")
        for record_id in to_fetch:
            self._task_group.start_soon(self._fetch_record, record_id)

    def _by_package(
        self, chunk: Sequence[Dependency], to_fetch: list[str], whole: bool
    ) -> list[str]:
        """Claim for one /v1/query each the pins that need two or more of these records
        (most first); returns the records still to fetch one by one. With `whole`, only
        a pin all of whose records are still to fetch (by nobody else) is claimed: its
        answer then holds exactly those records, so no byte arrives twice."""
        left = set(to_fetch)
        for dep in sorted(chunk, key=lambda d: -len(self._refs.get(d.key, ()))):
            refs = self._refs.get(dep.key, ())
            claimed = [i for i, _ in refs if i in left]
            if len(claimed) >= 2 and (not whole or len(claimed) == len(refs)):
                left.difference_update(claimed)
                self._task_group.start_soon(self._fetch_package, dep, claimed)
        return [i for i in to_fetch if i in left]

    async def _fetch_package(self, dep: Dependency, claimed: list[str]) -> None:
        """Every record of one pin from /v1/query (paginated); any claimed record the
        answer lacks is fetched by id after all."""
        url = self.service.base_url.join("/v1/query")
        query: OsvQuery = {
            "package": {"name": dep.canonical_name, "ecosystem": "PyPI"},
            "version": query_version(dep),
        }
        found: dict[str, dict[str, Any]] = {}
        seen_tokens: set[str] = set()
        stale = 0
        try:
            while stale < MAX_STALE_PAGES:
                async with self._record_limit:
                    page = await self._http.post_json(url, query, _query_response)
                before = len(found)
                for record in page.get("vulns") or ():
                    found[record["id"]] = record
                stale = 0 if len(found) > before else stale + 1
                token = page.get("next_page_token")
                if not token or token in seen_tokens:
                    break  # what is missing is fetched by id below
                seen_tokens.add(token)
                query = {**query, "page_token": token}
        except ServiceError as exc:
            log.debug("%s: /v1/query failed (%s); fetching its records by id", dep, exc.message)
            found = {}
        for record_id in claimed:
            full = found.get(record_id)
            if full is None:
                self._task_group.start_soon(self._fetch_record, record_id)
                continue
            self._progress.record_done()
            self._store(record_id, full)

    def _store(self, record_id: str, record: dict[str, Any]) -> None:
        self.service._records[record_id] = record
        self._arrived(record_id)
        self.service._new_records.append(
            (record_id, str(record.get("modified", "")), orjson.dumps(record))
        )
        if len(self.service._new_records) >= RECORD_FLUSH and not self._flushing:
            self._flushing = True
            self._task_group.start_soon(self._flush_records)

    async def _flush_records(self) -> None:
        import anyio

        service = self.service
        try:
            while len(service._new_records) >= RECORD_FLUSH:
                rows, service._new_records = service._new_records, []
                await anyio.to_thread.run_sync(service.cache.put_records, service.source, rows)
        finally:
            self._flushing = False

    async def _fetch_record(self, record_id: str) -> None:
        url = self.service.base_url.join(f"/v1/vulns/{quote(record_id, safe='')}")
        try:
            async with self._record_limit:
                record = await self._http.get_json(
                    url, functools.partial(_check_record, record_id=record_id), missing_ok=True
                )
            if record is None:
                raise ServiceError(
                    self.service.name,
                    url,
                    f"advisory {record_id} not found (HTTP 404) although querybatch returned it",
                )
        except ServiceError as exc:
            self._answer.errors.append(exc)
            self._record_errors[record_id] = exc.message
            return
        finally:
            self._progress.record_done()
        self._store(record_id, record)

    def _arrived(self, record_id: str) -> None:
        for key in self._waiting.pop(record_id, ()):
            self._outstanding[key] -= 1
            if self._outstanding[key] == 0:
                del self._outstanding[key]
                self._complete(key)

    def _complete(self, key: Key) -> None:
        """Every record of this answer is here: settle it now, and stream it."""
        vulns = merge([self.service._records[i] for i, _ in self._refs[key]], self._names[key])
        self._answer.vulnerabilities[key] = vulns
        if self._on_answer is not None:
            self._on_answer(key, vulns)

    def _settle(self, dependencies: Sequence[Dependency]) -> ServiceAnswer:
        answer = self._answer
        for dep in dependencies:
            refs = self._refs.get(dep.key)
            if refs is None:
                answer.failures.setdefault(
                    dep.key, "OSV query did not complete before the deadline"
                )
                continue
            missing = [i for i, _ in refs if i not in self.service._records]
            if missing:
                reasons = "; ".join(
                    self._record_errors.get(i, f"{i} not fetched before the deadline")
                    for i in missing[:3]
                )
                answer.failures[dep.key] = f"OSV advisory fetch failed: {reasons}"
                continue
            if dep.key not in answer.vulnerabilities:
                self._complete(dep.key)
        # Only cache answers whose every record arrived: a half-known answer must be
        # asked again next time.
        self.service._new_queries = [
            (k, r) for k, r in self.service._new_queries if k in answer.vulnerabilities
        ]
        return answer

    @property
    def _task_group(self) -> anyio.abc.TaskGroup:
        assert self._tg is not None, "query records are scheduled inside the task group"
        return self._tg


_NO_REFS: list[VulnRef] = []  # shared by every pin with no advisory; never mutated


def _query(dependency: Dependency, page_token: str | None) -> OsvQuery:
    query: OsvQuery = {
        "package": {"name": dependency.canonical_name, "ecosystem": "PyPI"},
        "version": query_version(dependency),
    }
    if page_token:
        query["page_token"] = page_token
    return query


def _batch_results(response: Any, expected: int) -> list[OsvBatchResult]:
    if not isinstance(response, dict) or not isinstance(response.get("results"), list):
        raise _BadResponse("querybatch response has no `results` list")
    batch: OsvBatchResponse = response  # type: ignore[assignment]
    results = batch["results"]
    if len(results) != expected:
        raise _BadResponse(f"querybatch returned {len(results)} results for {expected} queries")
    for result in results:
        if not isinstance(result, dict):
            raise _BadResponse("querybatch result is not an object")
        for vuln in result.get("vulns") or ():
            if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str):
                raise _BadResponse("querybatch result has a vuln without an id")
            vuln.setdefault("modified", "")
    return results


def _query_response(data: Any) -> OsvQueryResponse:
    if not isinstance(data, dict):
        raise _BadResponse("query response is not an object")
    vulns = data.get("vulns") or []
    if not isinstance(vulns, list) or not all(
        isinstance(v, dict) and isinstance(v.get("id"), str) for v in vulns
    ):
        raise _BadResponse("query response has a vuln without an id")
    return data  # type: ignore[return-value]


def _check_record(data: Any, record_id: str) -> dict[str, Any]:
    """The record asked for. One whose `id` cannot be read is still that record (it
    was fetched by id); one naming another id is not."""
    if isinstance(data, dict) and not isinstance(data.get("id"), str):
        log.warning(
            "advisory %s: `id` %.60r is not an id; read as %s", record_id, data.get("id"), record_id
        )
        data = {**data, "id": record_id}
    if not isinstance(data, dict) or data.get("id", "").strip() != record_id:
        raise _BadResponse(f"response is not the record {record_id}")
    return data
