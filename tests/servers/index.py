"""A local package index over real PyPI data captured in tests/data/index/.

Speaks PEP 691 JSON (and PEP 503 HTML to clients that do not ask for JSON), serves
PEP 658 core metadata with its hash on the page, and PyPI's JSON API
(`/pypi/<name>/<version>/json`). With `IndexFaults(files=True)` it also serves release
files: wheels built here with `zipfile` around the captured METADATA, and sdists
around a PKG-INFO, with or without Range support. Latency, 503s, HTTP Basic auth, a
missing JSON API and unadvertised metadata are injectable; every request is counted,
so tests can assert what was fetched.
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
from packaging.utils import canonicalize_name as canonical_name

from tests.servers.background import BackgroundServer

INDEX_DATA = Path(__file__).resolve().parents[1] / "data" / "index"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class Project:
    name: str
    files: list[dict[str, Any]]
    metadata: dict[str, str]  # filename -> core metadata text
    sdist_members: dict[str, dict[str, str]] = field(default_factory=dict)  # filename -> more

    @classmethod
    def load(cls, path: Path) -> Project:
        import gzip

        raw = path.read_bytes()
        data = json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)
        return cls(data["name"], data["files"], data["metadata"])


@dataclass
class IndexFaults:
    latency: float = 0.0
    fail_first: int = 0  # answer this many requests with 503 before serving normally
    no_metadata: set[str] = field(default_factory=set)  # projects without PEP 658 files
    html_only: bool = False  # behave like an index without PEP 691
    advertise_metadata: bool = True  # False: no PEP 658 keys and no .metadata files at all
    json_api: bool = True  # False: /pypi/... answers 404, as on many mirrors
    files: bool = False  # serve release files (built here; page hashes are theirs)
    ranges: bool = True  # honour Range requests on files
    wheel_padding: int = 0  # stored bytes after METADATA (so it is not in the tail)
    wheel_members: int = 0  # extra members (a central directory beyond the first read)
    truncate: set[str] = field(default_factory=set)  # files served cut in half
    wrong_hash: set[str] = field(default_factory=set)  # files whose page hash is wrong


def build_wheel(filename: str, metadata: str, padding: int = 0, members: int = 0) -> bytes:
    """A real zip in a wheel's layout, deterministic so its hash is stable."""
    import io
    import random
    import zipfile

    from packaging.utils import parse_wheel_filename

    name, version, _, _ = parse_wheel_filename(filename)
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    buffer = io.BytesIO()
    stamp = (2024, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w") as archive:
        package = name.replace("-", "_")
        archive.writestr(zipfile.ZipInfo(f"{package}/__init__.py", stamp), "VALUE = 1\n")
        for i in range(members):
            archive.writestr(zipfile.ZipInfo(f"{package}/generated/module_{i:05d}.py", stamp), "")
        info = zipfile.ZipInfo(f"{dist_info}/METADATA", stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, metadata)
        if padding:
            blob = random.Random(filename).randbytes(padding)
            archive.writestr(zipfile.ZipInfo(f"{package}/data.bin", stamp), blob)
        archive.writestr(zipfile.ZipInfo(f"{dist_info}/WHEEL", stamp), "Wheel-Version: 1.0\n")
        archive.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", stamp), "")
    return buffer.getvalue()


def build_sdist(filename: str, pkg_info: str, extra: dict[str, str] | None = None) -> bytes:
    """A .tar.gz or .zip sdist holding `<name>-<version>/PKG-INFO`, a setup.py that must
    never run, and `extra` members (paths below the top directory: an egg-info's
    requires.txt, a pyproject.toml)."""
    import io
    import tarfile
    import zipfile

    top = filename.removesuffix(".tar.gz").removesuffix(".zip")
    members = {f"{top}/PKG-INFO": pkg_info, f"{top}/setup.py": "raise SystemExit('ran')\n"}
    members |= {f"{top}/{path}": text for path, text in (extra or {}).items()}
    buffer = io.BytesIO()
    if filename.endswith(".zip"):
        with zipfile.ZipFile(buffer, "w") as archive:
            for path, text in members.items():
                archive.writestr(zipfile.ZipInfo(path, (2024, 1, 1, 0, 0, 0)), text)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path, text in members.items():
                data = text.encode()
                info = tarfile.TarInfo(path)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class IndexServer(BackgroundServer):
    def __init__(
        self,
        directory: Path = INDEX_DATA,
        *,
        extra: dict[str, Project] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        found = sorted([*directory.glob("*.json"), *directory.glob("*.json.gz")])
        self.projects = {p.name.split(".json")[0]: Project.load(p) for p in found}
        self.projects.update(extra or {})
        self.auth = auth
        self.faults = IndexFaults()
        self.hits: Counter[str] = Counter()
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._built: dict[tuple[str, int, int], bytes] = {}
        self._active = 0  # requests being answered

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple"

    def reset(self, faults: IndexFaults | None = None) -> None:
        """New faults and fresh counters, once the previous run's stragglers (prefetches
        its client cancelled after sending them) have been answered."""
        import time

        deadline = time.monotonic() + 2.0
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self._active:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 0.05:
                break
            time.sleep(0.01)
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
            self._active += 1
        try:
            return await self._answer(request, handler)
        finally:
            with self._lock:
                self._active -= 1

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        with self._lock:
            self.paths.append(request.path)
            kind = "metadata" if request.path.endswith(".metadata") else request.path.split("/")[1]
            self.hits[kind] += 1
            if "Range" in request.headers:
                self.hits["range"] += 1
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

    def release_file(self, filename: str) -> bytes | None:
        """The bytes served for a release file (built once per shape)."""
        key = (filename, self.faults.wheel_padding, self.faults.wheel_members)
        if key not in self._built:
            text = next(
                (p.metadata[filename] for p in self.projects.values() if filename in p.metadata),
                None,
            )
            if text is None:
                return None
            if filename.endswith(".whl"):
                self._built[key] = build_wheel(filename, text, *key[1:])
            else:
                extra = next(
                    (p.sdist_members.get(filename) for p in self.projects.values()
                     if filename in p.metadata),
                    None,
                )  # fmt: skip
                self._built[key] = build_sdist(filename, text, extra)
        return self._built[key]

    def _entries(self, project: Project) -> list[dict[str, Any]]:
        out = []
        for f in project.files:
            hashes = f["hashes"]
            built = self.release_file(f["filename"]) if self.faults.files else None
            if built is not None:
                hashes = {"sha256": hashlib.sha256(built).hexdigest()}
            if f["filename"] in self.faults.wrong_hash:
                hashes = {"sha256": "0" * 64}
            entry = {
                "filename": f["filename"],
                "url": f"/files/{f['filename']}",
                "hashes": hashes,
                "requires-python": f.get("requires-python"),
                "yanked": f.get("yanked", False),
            }
            if f.get("upload-time"):  # PEP 700, as PyPI serves it
                entry["upload-time"] = f["upload-time"]
            if built is not None:
                entry["size"] = len(built)
            text = project.metadata.get(f["filename"])
            if not self.faults.advertise_metadata or not f["filename"].endswith(".whl"):
                text = None
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
            return self._release(request, filename)
        if not self.faults.advertise_metadata:
            return web.Response(status=404, text="no metadata")
        wheel = filename[: -len(".metadata")]
        for project in self.projects.values():
            text = project.metadata.get(wheel)
            if text is not None and project.name not in self.faults.no_metadata:
                return web.Response(body=text.encode(), content_type="application/octet-stream")
        return web.Response(status=404, text="no metadata")

    def _release(self, request: web.Request, filename: str) -> web.Response:
        body = self.release_file(filename) if self.faults.files else None
        if body is None:
            return web.Response(status=404, text="distribution files are not served")
        if filename in self.faults.truncate:
            body = body[: len(body) // 2]
        wanted = request.headers.get("Range", "")
        ranges = {"Accept-Ranges": "bytes"} if self.faults.ranges else {}
        if not self.faults.ranges or not wanted.startswith("bytes="):
            return web.Response(body=body, content_type="application/octet-stream", headers=ranges)
        first, _, last = wanted[len("bytes=") :].partition("-")
        size = len(body)
        if not first:
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), min(size - 1, int(last)) if last else size - 1
        if start >= size:
            return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
        with self._lock:
            self.hits["range_bytes"] += end - start + 1
        return web.Response(
            status=206,
            body=body[start : end + 1],
            content_type="application/octet-stream",
            headers={"Content-Range": f"bytes {start}-{end}/{size}", **ranges},
        )

    async def _json_api(self, request: web.Request) -> web.Response:
        from packaging.version import Version

        if not self.faults.json_api:
            return web.Response(status=404, text="not found")
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
