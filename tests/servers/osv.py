"""A local OSV-compatible server over the real PyPA export, for tests and benchmarks.

Speaks OSV's wire format (/v1/query, /v1/querybatch with per-query pagination,
/v1/vulns/{id}), plus a minimal PEP 691 `/simple/<name>/` page so uv's project status
checks stay on loopback. Faults (latency, 5xx, 429 with Retry-After, hangs, bad JSON)
are injected per request from a seeded RNG, so a scenario is reproducible.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from packaging.utils import canonicalize_name as canonical_name
from packaging.version import InvalidVersion, Version

from tests.servers.background import BackgroundServer

REPO = Path(__file__).resolve().parents[2]
DATA_ZIP = REPO / "tests" / "data" / "osv-pypi-2024-10.zip"  # vendored: see its README


@dataclass
class Faults:
    latency: float = 0.0  # seconds added to every request
    error_rate: float = 0.0  # fraction of requests answered with a 5xx
    error_status: int = 503
    rate_limit_rate: float = 0.0  # fraction answered 429
    retry_after: str | None = "0"
    hang_rate: float = 0.0  # fraction that never answer
    bad_json_rate: float = 0.0  # fraction answered with truncated JSON
    wrong_count_rate: float = 0.0  # querybatch answers with one result missing
    reset_rate: float = 0.0  # fraction whose connection drops halfway through the body
    fail_paths: set[str] = field(default_factory=set)  # always 500 for these paths
    missing_ids: set[str] = field(default_factory=set)  # /v1/vulns 404 although matched
    slow_ids: dict[str, float] = field(default_factory=dict)  # extra delay for these records
    query_drops: set[str] = field(default_factory=set)  # /v1/query leaves these records out
    repeat_token: bool = False  # a page token that never ends
    # A real rate limit: more requests than this in flight at once are answered 429.
    max_in_flight: int | None = None
    seed: int = 0
    # Transient means transient: after this many faults the same request is served
    # clean, so it always succeeds within the client's retry budget. None: no limit.
    max_faults_per_request: int | None = 2


class OsvDatabase:
    """The export in memory, indexed by canonical package name.

    It answers with its own, deliberately plain reading of the OSV schema (packaging's
    Version comparisons event by event), not with the product's precompiled matcher:
    tests that compare the services with this server would otherwise compare the
    matcher with itself, and a matcher bug could never fail them.
    """

    def __init__(self, records: Iterator[dict[str, Any]]) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.bodies: dict[str, bytes] = {}  # pre-serialised: the server stays cheap
        # Records served in place of the ones the answers were computed from: a server
        # that matches on good data and sends damaged bodies (tests of the reader).
        self.served: dict[str, Any] = {}
        self.by_package: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {}
        self._memo: dict[tuple[str, str], list[str]] = {}
        for record in records:
            self._index(record)

    def _index(self, record: dict[str, Any]) -> None:
        self.records[record["id"]] = record
        self.bodies[record["id"]] = orjson.dumps(record)
        if record.get("withdrawn"):
            return
        mine: dict[str, list[dict[str, Any]]] = {}
        for affected in record.get("affected") or ():
            package = affected.get("package") or {}
            if package.get("ecosystem") == "PyPI":
                name = canonical_name(str(package.get("name", "")))
                mine.setdefault(name, []).append(affected)
        for name, entries in mine.items():
            self.by_package.setdefault(name, []).append((record["id"], entries))

    def put(self, record: dict[str, Any]) -> None:
        """Publish a new advisory, or a new revision of one (a later `modified`)."""
        for name, listed in self.by_package.items():
            self.by_package[name] = [item for item in listed if item[0] != record["id"]]
        self._index(record)
        self._memo.clear()

    @classmethod
    def from_zip(cls, path: Path = DATA_ZIP) -> OsvDatabase:
        def read() -> Iterator[dict[str, Any]]:
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name.endswith(".json"):
                        yield json.loads(archive.read(name))

        return cls(read())

    def match(self, name: str, version: str) -> list[str]:
        key = (canonical_name(name), version)
        hit = self._memo.get(key)
        if hit is None:
            hit = sorted(
                record_id
                for record_id, entries in self.by_package.get(key[0], ())
                if any(_affects(entry, version) for entry in entries)
            )
            self._memo[key] = hit
        return hit


def _fixed_in(record: dict[str, Any], name: str) -> list[str]:
    """PyPI's `fixed_in`: every `fixed` event of the package's ECOSYSTEM ranges that is a
    version, in the record's order, each once."""
    out: list[str] = []
    for affected in record.get("affected") or ():
        package = affected.get("package") or {}
        if package.get("ecosystem") != "PyPI" or canonical_name(package.get("name", "")) != name:
            continue
        for range_ in affected.get("ranges") or ():
            if range_.get("type") != "ECOSYSTEM":
                continue
            for event in range_.get("events") or ():
                fixed = event.get("fixed")
                if isinstance(fixed, str) and _version(fixed) is not None and fixed not in out:
                    out.append(fixed)
    return out


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _affects(affected: dict[str, Any], version: str) -> bool:
    """The OSV schema's evaluation, written out plainly: an exact `versions` entry, or
    an ECOSYSTEM range whose sorted events leave the version between an `introduced`
    and the next `fixed` / after-`last_affected` / `limit`."""
    wanted = _version(version)
    for listed in affected.get("versions") or ():
        other = _version(str(listed))
        if (wanted is not None and other is not None and wanted == other) or listed == version:
            return True
    if wanted is None:
        return False  # only an exact listing can name a version PEP 440 cannot order
    for range_ in affected.get("ranges") or ():
        if range_.get("type") != "ECOSYSTEM":
            continue
        events = []
        for event in range_.get("events") or ():
            for kind in ("introduced", "fixed", "last_affected", "limit"):
                if kind in event:
                    at = Version("0") if event[kind] == "0" else _version(str(event[kind]))
                    if at is not None:  # an event that is no version is skipped
                        events.append((at, kind))
        limits = [at for at, kind in events if kind == "limit"]
        if limits and not any(wanted < at for at in limits):
            continue
        affected_now = False
        for at, kind in sorted(events, key=lambda e: (e[0], e[1] != "introduced")):
            if kind == "introduced" and wanted >= at:
                affected_now = True
            elif (kind == "fixed" and wanted >= at) or (kind == "last_affected" and wanted > at):
                affected_now = False
        if affected_now:
            return True
    return False


class OsvServer(BackgroundServer):
    """Run with `with OsvServer(db) as server:` (a thread) or `await server.start()`."""

    def __init__(
        self,
        db: OsvDatabase,
        *,
        page_size: int = 0,
        faults: Faults | None = None,
        ssl_context: Any = None,
    ):
        super().__init__()
        self.db = db
        self.page_size = page_size  # 0: never paginate
        self.pypi_max_age = 0  # seconds of freshness the PyPI routes announce
        self.simple_pages: dict[str, dict[str, Any]] = {}  # PEP 691 pages to serve as-is
        self.export_zip: Path | None = DATA_ZIP
        self.faults = faults or Faults()
        self.hits: Counter[str] = Counter()
        self.in_flight = self.peak_in_flight = 0
        # Each connection's protocol object (held, so no id is reused): over TLS, one
        # handshake each. Benchmarks report it for every tool.
        self.connections: set[object] = set()
        self._faulted: Counter[tuple[str, str, int]] = Counter()
        self.ssl_context = ssl_context
        self._rng = random.Random(self.faults.seed)

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def reset(self, faults: Faults | None = None, page_size: int | None = None) -> None:
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        if page_size is not None:
            self.page_size = page_size
        self.hits.clear()
        self.connections.clear()
        self._faulted.clear()
        self.in_flight = self.peak_in_flight = 0

    # -- app --------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._inject], client_max_size=64 * 1024**2)
        app.router.add_post("/v1/querybatch", self._querybatch)
        app.router.add_post("/v1/query", self._query)
        app.router.add_get("/v1/vulns/{id}", self._vuln)
        app.router.add_get("/simple/{name}/", self._simple)
        app.router.add_get("/pypi/{name}/{version}/json", self._pypi)
        app.router.add_get("/export/PyPI/all.zip", self._export_zip)
        app.router.add_get("/export/PyPI/modified_id.csv", self._export_csv)
        app.router.add_get("/export/PyPI/{id}.json", self._export_record)
        return app

    @web.middleware
    async def _inject(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.connections.add(request.protocol)
        f = self.faults
        if f.max_in_flight is None:
            return await self._faulty(request, handler)
        self.in_flight += 1
        try:
            if self.in_flight > f.max_in_flight:
                self.hits["429"] += 1
                self.hits[_kind(request.path)] += 1
                headers = {"Retry-After": f.retry_after} if f.retry_after is not None else {}
                return web.json_response(
                    {"code": 8, "message": "rate limited"}, status=429, headers=headers
                )
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return await self._faulty(request, handler)
        finally:
            self.in_flight -= 1

    async def _faulty(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        kind = _kind(path)
        self.hits[kind] += 1
        f = self.faults
        if f.latency:
            await asyncio.sleep(f.latency)
        if path in f.fail_paths or kind in f.fail_paths:
            return web.json_response({"code": 13, "message": "injected failure"}, status=500)
        identity = (request.method, request.path_qs, hash(await request.read()))
        if (
            f.max_faults_per_request is not None
            and self._faulted[identity] >= f.max_faults_per_request
        ):
            return await handler(request)
        roll = self._rng.random()
        faulty = roll < (
            f.hang_rate + f.error_rate + f.rate_limit_rate + f.reset_rate + f.bad_json_rate
        )
        wrong_count = kind == "querybatch" and self._rng.random() < f.wrong_count_rate
        if faulty or wrong_count:
            self._faulted[identity] += 1
        if roll < f.hang_rate:
            assert self._closing is not None
            await self._closing.wait()  # "forever": until the server shuts down
        roll -= f.hang_rate
        if roll < f.error_rate:
            return web.json_response({"code": 14, "message": "injected"}, status=f.error_status)
        roll -= f.error_rate
        if roll < f.rate_limit_rate:
            headers = {"Retry-After": f.retry_after} if f.retry_after is not None else {}
            return web.json_response(
                {"code": 8, "message": "slow down"}, status=429, headers=headers
            )
        roll -= f.rate_limit_rate
        response = await handler(request)
        if wrong_count and not faulty and isinstance(response, web.Response) and response.body:
            data = orjson.loads(bytes(response.body))  # type: ignore[arg-type]
            if data.get("results"):
                data["results"].pop()  # one result short of the queries sent
            return _json(data)
        if roll < f.reset_rate and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            stream = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            stream.content_length = len(body)
            await stream.prepare(request)
            await stream.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.close()  # the client sees a reset mid-body
            return stream
        roll -= f.reset_rate
        if roll < f.bad_json_rate and isinstance(response, web.Response) and response.body:
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        return response

    async def _querybatch(self, request: web.Request) -> web.Response:
        body = await request.json()
        queries = body.get("queries") or []
        if len(queries) > 1000:
            return web.json_response({"code": 3, "message": "Too many queries."}, status=400)
        results = []
        for query in queries:
            package = query.get("package") or {}
            if package.get("ecosystem") != "PyPI":
                results.append({})
                continue
            ids = self.db.match(package.get("name", ""), query.get("version", ""))
            refs = [{"id": i, "modified": self.db.records[i]["modified"]} for i in ids]
            offset = _decode_token(query.get("page_token"))
            result: dict[str, Any] = {}
            if self.page_size:
                page = refs[offset : offset + self.page_size]
                if offset + self.page_size < len(refs) or self.faults.repeat_token:
                    result["next_page_token"] = _encode_token(
                        offset + (0 if self.faults.repeat_token else self.page_size)
                    )
            else:
                page = refs
            if page:
                result["vulns"] = page
            results.append(result)
        return _json({"results": results})

    async def _query(self, request: web.Request) -> web.Response:
        """pip-audit's endpoint: full records for one package version."""
        body = await request.json()
        package = body.get("package") or {}
        ids = self.db.match(package.get("name", ""), body.get("version", ""))
        ids = [i for i in ids if i not in self.faults.query_drops]
        delay = max((self.faults.slow_ids.get(i, 0.0) for i in ids), default=0.0)
        if delay:  # a slow record is as slow inside an answer as on its own
            await asyncio.sleep(delay)
        answer: dict[str, Any] = {}
        if self.page_size:  # paginated like querybatch: a token for the rest
            start = _decode_token(body.get("page_token"))
            if start + self.page_size < len(ids):
                answer["next_page_token"] = _encode_token(start + self.page_size)
            ids = ids[start : start + self.page_size]
        if ids:
            answer["vulns"] = [self.db.served.get(i, self.db.records[i]) for i in ids]
        return _json(answer)

    async def _vuln(self, request: web.Request) -> web.Response:
        record_id = request.match_info["id"]
        if record_id in self.faults.slow_ids:
            await asyncio.sleep(self.faults.slow_ids[record_id])
        record = self.db.records.get(record_id)
        if record is None or record_id in self.faults.missing_ids:
            return web.json_response({"code": 5, "message": "Bug not found."}, status=404)
        if record_id in self.db.served:
            return web.json_response(self.db.served[record_id])
        return web.Response(body=self.db.bodies[record_id], content_type="application/json")

    async def _pypi(self, request: web.Request) -> web.Response:
        """PyPI's JSON API shape: `vulnerabilities` with `fixed_in` for this package
        (worked out here from the record, not with the product's code)."""
        name = canonical_name(request.match_info["name"])
        version = request.match_info["version"]
        if name.startswith("nonexistent"):
            return web.json_response({"message": "Not Found"}, status=404)
        vulns = []
        for record_id in self.db.match(name, version):
            record = self.db.records[record_id]
            shown = self.db.served.get(record_id, record)
            vulns.append(
                {
                    "id": record["id"],
                    "aliases": shown.get("aliases", []),
                    "details": shown.get("details"),
                    "summary": shown.get("summary"),
                    "fixed_in": _fixed_in(record, name),
                    "withdrawn": None,
                    "link": f"https://osv.dev/vulnerability/{record['id']}",
                    "source": "osv",
                }
            )
        body = orjson.dumps(
            {"info": {"name": name, "version": version}, "urls": [], "vulnerabilities": vulns}
        )
        etag = f'"{hash(body) & 0xFFFFFFFF:08x}"'
        headers = {"ETag": etag, "Cache-Control": f"max-age={self.pypi_max_age}"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

    async def _export_zip(self, request: web.Request) -> web.StreamResponse:
        if self.export_zip is None:
            return web.Response(status=404)
        return web.Response(body=self.export_zip.read_bytes(), content_type="application/zip")

    async def _export_csv(self, request: web.Request) -> web.Response:
        rows = sorted(((r["modified"], i) for i, r in self.db.records.items()), reverse=True)
        return web.Response(text="".join(f"{m},{i}\n" for m, i in rows), content_type="text/csv")

    async def _export_record(self, request: web.Request) -> web.Response:
        record_id = request.match_info["id"]
        if record_id not in self.db.records:
            return web.Response(status=404)
        self.hits["export-record"] += 1
        return web.Response(
            body=orjson.dumps(self.db.records[record_id]), content_type="application/json"
        )

    async def _simple(self, request: web.Request) -> web.Response:
        name = canonical_name(request.match_info["name"])
        if name in self.simple_pages:
            return web.json_response(
                self.simple_pages[name], content_type="application/vnd.pypi.simple.v1+json"
            )
        page = {"meta": {"api-version": "1.1"}, "name": name, "files": [], "versions": []}
        return web.json_response(page, content_type="application/vnd.pypi.simple.v1+json")


def _kind(path: str) -> str:
    """Which endpoint a request is for: the key of the hit counters."""
    if path.endswith("querybatch"):
        return "querybatch"
    if "/vulns/" in path:
        return "vulns"
    if path.endswith("/v1/query"):
        return "query"
    if path.startswith("/pypi/"):
        return "pypi"
    if path.startswith("/export/"):
        return "export"
    return "simple"


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    return int(base64.urlsafe_b64decode(token.encode()).decode().split(":")[1])
