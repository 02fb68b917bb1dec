"""A local package index over real PyPI data captured in tests/data/index/.

Speaks PEP 691 JSON (and PEP 503 HTML to clients that do not ask for JSON), serves
PEP 658 core metadata with its hash on the page, and PyPI's JSON API
(`/pypi/<name>/<version>/json`). Latency, 503s and HTTP Basic auth are injectable;
every request is counted, so tests can assert what was fetched.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.servers.background import BackgroundServer
from vulnsweep.model import canonical_name

INDEX_DATA = Path(__file__).resolve().parents[1] / "data" / "index"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class Project:
    name: str
    files: list[dict[str, Any]]
    metadata: dict[str, str]  # filename -> core metadata text

    @classmethod
    def load(cls, path: Path) -> Project:
        data = json.loads(path.read_text())
        return cls(data["name"], data["files"], data["metadata"])


@dataclass
class IndexFaults:
    latency: float = 0.0
    fail_first: int = 0  # answer this many requests with 503 before serving normally
    no_metadata: set[str] = field(default_factory=set)  # projects without PEP 658 files
    html_only: bool = False  # behave like an index without PEP 691


class IndexServer(BackgroundServer):
    def __init__(
        self,
        directory: Path = INDEX_DATA,
        *,
        extra: dict[str, Project] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.projects = {p.stem: Project.load(p) for p in sorted(directory.glob("*.json"))}
        self.projects.update(extra or {})
        self.auth = auth
        self.faults = IndexFaults()
        self.hits: Counter[str] = Counter()
        self.paths: list[str] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple"

    def reset(self, faults: IndexFaults | None = None) -> None:
        with self._lock:
            self.faults = faults or IndexFaults()
            self.hits.clear()
            self.paths.clear()

    # -- app ----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/simple/", self._root)
        app.router.add_get("/simple/{name}/", self._page)
        app.router.add_get("/files/{filename}", self._file)
        app.router.add_get("/pypi/{name}/{version}/json", self._json_api)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self._lock:
            self.paths.append(request.path)
            kind = "metadata" if request.path.endswith(".metadata") else request.path.split("/")[1]
            self.hits[kind] += 1
            failing = self.faults.fail_first > 0
            if failing:
                self.faults.fail_first -= 1
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        if self.auth is not None:
            expected = "Basic " + base64.b64encode(":".join(self.auth).encode()).decode()
            if request.headers.get("Authorization") != expected:
                return web.Response(status=401, text="authentication required")
        if failing:
            return web.Response(status=503, text="try again")
        return await handler(request)

    async def _root(self, request: web.Request) -> web.Response:
        projects = [{"name": name} for name in self.projects]
        return web.json_response(
            {"meta": {"api-version": "1.1"}, "projects": projects}, content_type=JSON_TYPE
        )

    def _entries(self, project: Project) -> list[dict[str, Any]]:
        out = []
        for f in project.files:
            entry = {
                "filename": f["filename"],
                "url": f"/files/{f['filename']}",
                "hashes": f["hashes"],
                "requires-python": f.get("requires-python"),
                "yanked": f.get("yanked", False),
            }
            text = project.metadata.get(f["filename"])
            if text is not None and project.name not in self.faults.no_metadata:
                digest = {"sha256": hashlib.sha256(text.encode()).hexdigest()}
                entry["core-metadata"] = digest
                entry["data-dist-info-metadata"] = digest
            out.append(entry)
        return out

    async def _page(self, request: web.Request) -> web.Response:
        name = canonical_name(request.match_info["name"])
        project = self.projects.get(name)
        if project is None:
            return web.Response(status=404, text="not found")
        entries = self._entries(project)
        wants_json = JSON_TYPE in request.headers.get("Accept", "")
        if wants_json and not self.faults.html_only:
            versions = sorted({_version_of(e["filename"]) for e in entries})
            page = {
                "meta": {"api-version": "1.1"},
                "name": name,
                "files": entries,
                "versions": versions,
            }
            body = orjson.dumps(page)
            content_type = JSON_TYPE
        else:
            body = _html_page(name, entries).encode()
            content_type = "text/html"
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "max-age=600, public"}
        if request.headers.get("If-None-Match") == etag:
            with self._lock:
                self.hits["not_modified"] += 1
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=content_type, headers=headers)

    async def _file(self, request: web.Request) -> web.Response:
        filename = request.match_info["filename"]
        if not filename.endswith(".metadata"):
            return web.Response(status=404, text="distribution files are not served")
        wheel = filename[: -len(".metadata")]
        for project in self.projects.values():
            text = project.metadata.get(wheel)
            if text is not None and project.name not in self.faults.no_metadata:
                return web.Response(body=text.encode(), content_type="application/octet-stream")
        return web.Response(status=404, text="no metadata")

    async def _json_api(self, request: web.Request) -> web.Response:
        from packaging.version import Version

        name = canonical_name(request.match_info["name"])
        project = self.projects.get(name)
        if project is None:
            return web.Response(status=404, text="not found")
        wanted = Version(request.match_info["version"])
        for f in project.files:
            if Version(_version_of(f["filename"])) == wanted:
                text = project.metadata.get(f["filename"])
                if text is None:
                    return web.json_response({"info": {"requires_dist": None}})
                from email.parser import HeaderParser

                headers = HeaderParser().parsestr(text, headersonly=True)
                return web.json_response(
                    {
                        "info": {
                            "name": name,
                            "version": str(wanted),
                            "requires_dist": headers.get_all("Requires-Dist"),
                            "requires_python": headers.get("Requires-Python"),
                        }
                    }
                )
        return web.Response(status=404, text="no such release")


def _version_of(filename: str) -> str:
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(filename)[1])


def _html_page(name: str, entries: list[dict[str, Any]]) -> str:
    links = []
    for e in entries:
        attrs = [f'href="{html.escape(e["url"])}#sha256={e["hashes"]["sha256"]}"']
        if e.get("requires-python"):
            attrs.append(f'data-requires-python="{html.escape(e["requires-python"])}"')
        if e.get("yanked"):
            reason = e["yanked"] if isinstance(e["yanked"], str) else ""
            attrs.append(f'data-yanked="{html.escape(reason)}"')
        if "core-metadata" in e:
            attrs.append(f'data-core-metadata="sha256={e["core-metadata"]["sha256"]}"')
        links.append(f"<a {' '.join(attrs)}>{html.escape(e['filename'])}</a><br/>")
    return f"<!DOCTYPE html><html><body><h1>Links for {name}</h1>{''.join(links)}</body></html>"
