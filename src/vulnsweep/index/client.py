"""Package index client: PEP 691 JSON pages (PEP 503 HTML as a fallback) and PEP 658
core metadata, with the PyPI JSON API's `requires_dist` where the index offers it.
Pages are revalidated by ETag/Cache-Control; metadata is immutable and cached by hash.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import io
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import orjson

from vulnsweep.cache import Cache, HttpEntry, source_key
from vulnsweep.errors import ServiceError
from vulnsweep.model import canonical_name
from vulnsweep.url import Url

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.version import Version

    from vulnsweep.net.http import HttpClient
    from vulnsweep.target import TargetEnvironment

log = logging.getLogger(__name__)

ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)
IN_MEMORY_FILE = 64 * 1024**2  # a release file read into memory (sdists, Range ignored)
WHOLE_FILE_MAX = 1024**3  # the largest wheel downloaded whole when ranges fail
PAGE_MAX_AGE = 600.0  # when the index says nothing (PyPI says 600 s)
COMPACT_PAGE = "vulnsweep/compact-page-1"  # how the cache marks a page kept parsed
FOREVER = float(2**40)
T = TypeVar("T")


@dataclass(frozen=True)
class Distribution:
    """One file of one release on an index."""

    project: str  # canonical name
    filename: str
    url: str
    version: Version
    wheel_tags: frozenset[Tag] | None  # None for an sdist
    requires_python: str | None
    yanked: str | None  # None when not yanked, else the reason ("" when none given)
    metadata_sha256: str | None  # PEP 658/714; "" when offered without a hash
    index: str
    sha256: str | None = None  # the file's own hash, from the page


@dataclass(frozen=True)
class Metadata:
    requires_dist: tuple[str, ...]
    requires_python: str | None
    source: str  # where it came from, for reasons and logs
    provides_extra: frozenset[str] | None = None  # None: the source does not say
    unknown: str | None = None  # set when no source had it: what was tried, and why not

    @classmethod
    def missing(cls, reason: str) -> Metadata:
        return cls((), None, "nowhere", None, reason)


def _started(coroutine: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """A shared fetch. Its failure is re-raised to every awaiter; one that only a
    cancelled prefetch wanted is read here, so it is not reported as never retrieved."""
    future = asyncio.ensure_future(coroutine)
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


def _static_fallback(
    dist: Distribution, headers: Any, files: Any, tried: list[str]
) -> bytes | None:
    """Core metadata made from the sdist's egg-info requires.txt, else from its
    pyproject.toml [project]; None (with the reason in `tried`) when neither says."""
    from vulnsweep.index.archives import requires_txt_to_requires_dist

    requires: list[str] | None = None
    source = ""
    if files.requires is not None:
        requires = requires_txt_to_requires_dist(files.requires.decode("utf-8", "replace"))
        source = "egg-info requires.txt"
    elif files.pyproject is not None:
        requires = _pyproject_requires(files.pyproject, tried)
        source = "pyproject.toml [project]"
    else:
        tried.append("it has no egg-info requires.txt and no pyproject.toml [project]")
    if requires is None:
        return None
    lines = ["Metadata-Version: 2.2", f"Name: {dist.project}", f"Version: {dist.version}"]
    if headers.get("Requires-Python"):
        lines.append(f"Requires-Python: {headers.get('Requires-Python')}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    log.debug("%s: dependencies from the sdist's %s", dist.filename, source)
    return ("\n".join(lines) + "\n").encode()


def _pyproject_requires(data: bytes, tried: list[str]) -> list[str] | None:
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        project = tomllib.loads(data.decode("utf-8", "replace")).get("project")
    except tomllib.TOMLDecodeError:
        tried.append("its pyproject.toml is not valid TOML")
        return None
    if not isinstance(project, dict):
        tried.append("its pyproject.toml has no [project] table")
        return None
    dynamic = set(project.get("dynamic") or ())
    if "dependencies" in dynamic:
        tried.append("its pyproject.toml marks dependencies as dynamic")
        return None
    requires = [str(r) for r in project.get("dependencies") or ()]
    if "optional-dependencies" not in dynamic:
        for extra, items in (project.get("optional-dependencies") or {}).items():
            requires += [f'{item} ; extra == "{extra}"' for item in items]
    return requires


def strip_credentials(url: str) -> str:
    """The cache key of a URL: never store a password on disk. A URL with no `@` has
    no userinfo: that test alone spares the 100,000 file URLs of a big resolution a
    urlsplit each (0.34 s on warehouse)."""
    if "@" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class LazyHttp:
    """The HTTP client, opened on the first request: a run the cache answers entirely
    never imports aiohttp or opens a socket."""

    def __init__(self, factory: Callable[[], HttpClient]) -> None:
        self._factory = factory
        self._client: HttpClient | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> HttpClient:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    client = self._factory()
                    await client.__aenter__()
                    self._client = client
        return self._client

    @property
    def requests_sent(self) -> int:
        return self._client.requests_sent if self._client is not None else 0

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None


class PackageIndex:
    """Every page and metadata file is requested at most once per run, however many
    resolver branches or prefetches ask for it at the same time."""

    max_bytes = 128 * 1024**2  # the largest page PyPI serves is a few tens of MB

    def __init__(
        self,
        http: LazyHttp,
        cache: Cache,
        index_urls: Sequence[str],
        target: TargetEnvironment,
    ) -> None:
        self.http = http
        self.target = target
        self._releases: dict[str, list[tuple[Version, list[Distribution]]]] = {}
        self.cache = cache
        self.index_urls = [u.rstrip("/") for u in dict.fromkeys(index_urls)]
        self._pages: dict[str, asyncio.Future[list[Distribution]]] = {}
        self._metadata: dict[Distribution, asyncio.Future[Metadata]] = {}
        self._ready: dict[Distribution, Metadata] = {}
        self._stored: dict[Distribution, bytes] = {}  # cached metadata, not parsed yet
        self._reads: dict[str, dict[str, asyncio.Future[HttpEntry | None]]] = {}
        # project -> (cache source, key, expiry) of each page read: a resolution made from
        # pages that are all still in the cache unchanged can be reused as it is.
        self.page_stamps: dict[str, list[tuple[str, str, float]]] = {}
        self._new: dict[str, list[tuple[str, HttpEntry]]] = {}

    # -- public -------------------------------------------------------------------

    async def project(self, name: str) -> list[Distribution]:
        """All files of a project across every index (pip merges them the same way)."""
        key = canonical_name(name)
        future = self._pages.get(key)
        if future is None:
            future = self._pages[key] = _started(self._project(key))
        return await asyncio.shield(future)

    async def releases(self, name: str) -> list[tuple[Version, list[Distribution]]]:
        """Releases installable on the target, newest first, their files best first."""
        dists = await self.project(name)
        key = canonical_name(name)
        found = self._releases.get(key)
        if found is None:
            found = self._releases[key] = installable_releases(dists, self.target)
            await self._preload([pick_file(files) for _, files in found])
        return found

    async def _preload(self, dists: list[Distribution]) -> None:
        """Every cached metadata file of a project's releases in one cache read, so a
        warm resolution that walks back through hundreds of releases reads them
        without a round trip (and a thread hop) each."""
        wanted: dict[str, dict[str, Distribution]] = {}
        for dist in dists:
            if dist in self._ready or dist in self._metadata:
                continue
            source = source_key("index:" + strip_credentials(dist.index))
            for cache_key in _metadata_keys(dist):
                wanted.setdefault(source, {})[cache_key] = dist
        now = time.time()
        for source, keys in wanted.items():

            def read(
                source: str = source, keys: dict[str, Distribution] = keys
            ) -> dict[str, HttpEntry]:
                return self.cache.get_http(source, list(keys))

            stored = await self._io(read)
            for cache_key, entry in stored.items():
                dist = keys[cache_key]
                if entry.expires > now and dist not in self._stored:
                    self._stored[dist] = entry.body

    def _from_store(self, dist: Distribution) -> Metadata | None:
        body = self._stored.get(dist)
        if body is None:
            return None
        data, kind = _unpack(body)
        if kind == "unknown":
            return Metadata.missing(data.decode())
        # Extracted entries name their source; a PEP 658 file keeps its content type.
        source = kind if kind in ("wheel METADATA", "sdist PKG-INFO") else "core metadata"
        return parse_core_metadata(data.decode("utf-8", "replace"), source)

    async def metadata(self, dist: Distribution) -> Metadata:
        """The release's dependencies from static metadata; `unknown` says why when no
        source has them (an sdist with dynamic metadata, an unreadable wheel)."""
        future = self._metadata.get(dist)
        if future is None:
            future = self._metadata[dist] = _started(self._metadata_for(dist))
            future.add_done_callback(lambda f: self._remember_ready(dist, f))
        return await asyncio.shield(future)

    def ready_releases(self, name: str) -> list[tuple[Version, list[Distribution]]] | None:
        """A project's releases once the event loop has them (see ready_metadata)."""
        return self._releases.get(canonical_name(name))

    def ready_metadata(self, dist: Distribution) -> Metadata | None:
        """Metadata already fetched, prefetched or preloaded from the cache, readable
        from the resolver's own thread without a round trip through the event loop;
        None if not here yet."""
        found = self._ready.get(dist)
        if found is None:
            found = self._from_store(dist)
            if found is not None:
                self._ready[dist] = found
        return found

    def _remember_ready(self, dist: Distribution, future: asyncio.Future[Metadata]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._ready[dist] = future.result()  # a plain dict write: safe across threads

    async def cancel_pending(self) -> None:
        """Stop fetches nobody waits for any more (prefetches the resolver outran)."""
        futures: list[asyncio.Future[Any]] = [*self._pages.values(), *self._metadata.values()]
        pending = [f for f in futures if not f.done()]
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.wait(pending)

    def remember(self, source: str, key: str, entry: HttpEntry) -> None:
        """Written with everything else this run learnt, when it is persisted."""
        self._new.setdefault(source, []).append((key, entry))

    def persist(self) -> None:
        for source, entries in self._new.items():
            self.cache.put_http(source, entries)
        self._new.clear()

    # -- pages --------------------------------------------------------------------

    async def _project(self, name: str) -> list[Distribution]:
        pages = await asyncio.gather(*(self._page(index, name) for index in self.index_urls))
        return [dist for page in pages for dist in page]

    async def _page(self, index: str, name: str) -> list[Distribution]:
        """A project page, kept in the cache already parsed (the few fields resolution
        reads, one compact row per file): re-parsing raw pages made a warm resolution
        of 170 packages spend seconds in URL joins and file-name parsing."""
        url = f"{index}/{quote(name, safe='')}/"
        source = source_key("index:" + strip_credentials(index))
        key = strip_credentials(url)
        stored = await self._stored_entry(source, key)
        kept = _unpack(stored.body) if stored is not None else None
        compact = kept[0] if kept is not None and kept[1] == COMPACT_PAGE else None
        if stored is not None and compact is not None and stored.expires > time.time():
            self.page_stamps.setdefault(name, []).append((source, key, stored.expires))
            return from_compact(name, compact, index)
        http = await self.http.client()
        etag = stored.etag if compact is not None and stored is not None else None
        result = await http.get_document(url, etag, max_bytes=self.max_bytes)
        if result.status == 404:
            # Kept too, as a project with no files: a warm run asks nothing, even for
            # a project the index does not have (a prefetch of a dependency's dependency).
            gone = HttpEntry(None, time.time() + PAGE_MAX_AGE, _pack(b"[]", COMPACT_PAGE))
            self._keep_page(name, source, key, gone)
            return []
        if result.status == 304 and compact is not None:
            dists = from_compact(name, compact, index)
        else:
            dists = parse_page(name, result.data, result.content_type, url, index)
            compact = to_compact(dists)
        max_age = result.max_age if result.max_age is not None else PAGE_MAX_AGE
        entry = HttpEntry(result.etag, time.time() + max_age, _pack(compact, COMPACT_PAGE))
        self._keep_page(name, source, key, entry)
        return dists

    def _keep_page(self, name: str, source: str, key: str, entry: HttpEntry) -> None:
        self.remember(source, key, entry)
        self.page_stamps.setdefault(name, []).append((source, key, entry.expires))

    async def _cached_get(
        self, index: str, url: str, *, page: bool, sha256: str | None = None
    ) -> tuple[bytes | None, str | None]:
        """Body and content type, from the cache while fresh; None for a 404."""
        source = source_key("index:" + strip_credentials(index))
        key = strip_credentials(url) + (f"#sha256={sha256}" if sha256 else "")
        stored = await self._stored_entry(source, key)
        if stored is not None and stored.expires > time.time():
            return _unpack(stored.body)
        http = await self.http.client()
        result = await http.get_document(
            url, stored.etag if page and stored else None, max_bytes=self.max_bytes
        )
        if result.status == 404:
            return None, None
        if result.status == 304 and stored is not None:
            body, content_type = _unpack(stored.body)
        else:
            body, content_type = result.data, result.content_type
        if page:
            expires = time.time() + (result.max_age if result.max_age is not None else PAGE_MAX_AGE)
        else:
            expires = FOREVER if sha256 else time.time() + 86400
        self.remember(source, key, HttpEntry(result.etag, expires, _pack(body, content_type)))
        return body, content_type

    # -- metadata -----------------------------------------------------------------

    async def _metadata_for(self, dist: Distribution) -> Metadata:
        """The first source that has it, cheapest first; never running package code."""
        preloaded = self._from_store(dist)
        if preloaded is not None:
            return preloaded
        tried: list[str] = []
        if dist.metadata_sha256 is not None:
            body, _ = await self._cached_get(
                dist.index,
                dist.url + ".metadata",
                page=False,
                sha256=dist.metadata_sha256 or None,
            )
            if body is not None:
                if (
                    dist.metadata_sha256
                    and hashlib.sha256(body).hexdigest() != dist.metadata_sha256
                ):
                    raise ServiceError(
                        "package index",
                        dist.url + ".metadata",
                        "core metadata does not match the hash the index gave for it",
                    )
                return parse_core_metadata(body.decode("utf-8", "replace"), "core metadata")
            tried.append("its PEP 658 metadata file is missing (404)")
        key = _extracted_key(dist)
        stored = await self._recall(dist.index, key)
        if stored is not None:
            body, kind = stored
            if kind == "unknown":
                return Metadata.missing(body.decode())
            return parse_core_metadata(body.decode("utf-8", "replace"), kind or "wheel")
        if dist.wheel_tags is not None:
            found = await self._from_wheel(dist, tried)
            if found is not None:
                self._remember(dist, key, found, "wheel METADATA")
                return parse_core_metadata(found.decode("utf-8", "replace"), "wheel METADATA")
        from_json = await self._json_api(dist, tried)
        if from_json is not None:
            return from_json
        if dist.wheel_tags is None:
            found = await self._from_sdist(dist, tried)
            if found is not None:
                self._remember(dist, key, found, "sdist PKG-INFO")
                return parse_core_metadata(found.decode("utf-8", "replace"), "sdist PKG-INFO")
        reason = "; ".join(tried)
        self._remember(dist, key, reason.encode(), "unknown")
        return Metadata.missing(reason)

    async def _from_wheel(self, dist: Distribution, tried: list[str]) -> bytes | None:
        """Range requests first (two or three small reads), the whole file second."""
        from vulnsweep.index.archives import (
            ArchiveError,
            RangesUnsupported,
            wheel_metadata_by_ranges,
            wheel_metadata_from_file,
        )

        http = await self.http.client()

        async def fetch(start: int, end: int | None) -> tuple[bytes, int]:
            result = await http.get_range(dist.url, start, end, max_bytes=IN_MEMORY_FILE)
            if result.status == 200:
                raise RangesUnsupported(result.data)
            total = _range_total(result.content_range)
            if total is None:
                raise ArchiveError("the server answered a range request without Content-Range")
            return result.data, total

        whole: bytes | None = None
        try:
            return await wheel_metadata_by_ranges(fetch)
        except RangesUnsupported as signal:
            whole = signal.body
        except ArchiveError as exc:
            tried.append(f"reading the wheel's METADATA with range requests failed ({exc})")
            return None  # the same bytes whole would fail the same way
        except ServiceError as exc:
            tried.append(f"range requests for the wheel failed ({exc.message})")
        try:
            if whole is None:
                return await self._whole_wheel(dist)
            _check_hash(dist, hashlib.sha256(whole).hexdigest())
            return wheel_metadata_from_file(io.BytesIO(whole))
        except (ArchiveError, ServiceError) as exc:
            message = exc.message if isinstance(exc, ServiceError) else str(exc)
            tried.append(f"reading METADATA from the whole wheel failed ({message})")
            return None

    async def _whole_wheel(self, dist: Distribution) -> bytes:
        """The file streamed to a bounded temporary file, hash-checked, then read."""
        import tempfile
        from pathlib import Path

        from vulnsweep.index.archives import wheel_metadata_from_file

        http = await self.http.client()
        with tempfile.TemporaryDirectory(prefix="vulnsweep-wheel-") as directory:
            path = Path(directory) / "release.whl"
            await http.download(dist.url, path, max_bytes=WHOLE_FILE_MAX)

            def read() -> bytes:
                with path.open("rb") as handle:
                    digest = _file_sha256(handle)
                    _check_hash(dist, digest)
                    handle.seek(0)
                    return wheel_metadata_from_file(handle)

            return await self._io(read)

    async def _from_sdist(self, dist: Distribution, tried: list[str]) -> bytes | None:
        """An sdist's dependencies from static sources only, in this order: PKG-INFO
        when PEP 643 makes its Requires-Dist static (Metadata-Version 2.2+, not
        Dynamic); the egg-info's requires.txt setuptools wrote when it made the sdist;
        pyproject.toml's [project] when its dependencies are not dynamic. Anything else
        would mean building it: then `tried` says why, and nothing is guessed."""
        from vulnsweep.index.archives import ArchiveError, sdist_files

        http = await self.http.client()
        try:
            result = await http.get_document(dist.url, None, max_bytes=IN_MEMORY_FILE)
            if result.status == 404:
                raise ArchiveError("the sdist is not on the index (404)")
            _check_hash(dist, hashlib.sha256(result.data).hexdigest())
            data: bytes = result.data
            files = await self._io(lambda: sdist_files(data, dist.filename))
        except ServiceError as exc:
            tried.append(f"reading the sdist failed ({exc.message})")
            return None
        except ArchiveError as exc:
            tried.append(f"reading the sdist failed ({exc})")
            return None
        text = files.pkg_info or b""
        headers = HeaderParser().parsestr(text.decode("utf-8", "replace"), headersonly=True)
        version = headers.get("Metadata-Version") or "1.0"
        dynamic = {d.strip().lower() for d in headers.get_all("Dynamic") or ()}
        if files.pkg_info is None:
            tried.append("the sdist has no PKG-INFO")
        elif _metadata_version(version) < (2, 2):
            tried.append(f"the sdist's PKG-INFO is Metadata-Version {version}, before static "
                         "metadata (PEP 643) existed")  # fmt: skip
        elif "requires-dist" in dynamic:
            tried.append("the sdist marks Requires-Dist as Dynamic (only a build can tell)")
        else:
            return text
        return _static_fallback(dist, headers, files, tried)

    async def _recall(self, index: str, key: str) -> tuple[bytes, str | None] | None:
        source = source_key("index:" + strip_credentials(index))
        stored = await self._stored_entry(source, key)
        if stored is None or stored.expires <= time.time():
            return None
        return _unpack(stored.body)

    def _remember(self, dist: Distribution, key: str, body: bytes, kind: str) -> None:
        """Immutable when the page gave the file's hash; otherwise kept for a day."""
        source = source_key("index:" + strip_credentials(dist.index))
        expires = FOREVER if dist.sha256 else time.time() + 86400
        self.remember(source, key, HttpEntry(None, expires, _pack(body, kind)))

    async def _json_api(self, dist: Distribution, tried: list[str]) -> Metadata | None:
        """PyPI's JSON API, when this index has one (`.../simple` -> `.../pypi`)."""
        if not dist.index.endswith("/simple"):
            return None
        base = dist.index[: -len("/simple")]
        url = f"{base}/pypi/{quote(dist.project, safe='')}/{quote(str(dist.version), safe='')}/json"
        try:
            body, _ = await self._cached_get(dist.index, url, page=True)
        except ServiceError as exc:
            log.debug("%s: no JSON API answer (%s)", Url(url), exc.message)
            tried.append(f"the JSON API failed ({exc.message})")
            return None
        if body is None:
            tried.append("the JSON API has no such release (404)")
            return None
        try:
            info = orjson.loads(body).get("info") or {}
        except (orjson.JSONDecodeError, AttributeError):
            tried.append("the JSON API answered something that is not JSON")
            return None
        requires = info.get("requires_dist")
        if requires is None:
            # Unknown, not "none": an sdist's metadata is only trustworthy when static.
            if dist.wheel_tags is None:
                tried.append("the JSON API does not list its dependencies")
                return None
            return Metadata((), None, "PyPI JSON API")
        return Metadata(
            tuple(str(r) for r in requires),
            info.get("requires_python") or None,
            "PyPI JSON API",
        )

    async def _stored_entry(self, source: str, key: str) -> HttpEntry | None:
        """One cache entry; reads asked for together (a level of the dependency tree
        being prefetched) share one trip to the worker thread and one query."""
        waiting = self._reads.setdefault(source, {})
        future = waiting.get(key)
        if future is None:
            future = waiting[key] = asyncio.get_running_loop().create_future()
            if len(waiting) == 1:
                asyncio.get_running_loop().call_soon(lambda: _started(self._read_together(source)))
        return await asyncio.shield(future)

    async def _read_together(self, source: str) -> None:
        waiting = self._reads.pop(source, {})
        try:
            found = await self._io(lambda: self.cache.get_http(source, list(waiting)))
        except BaseException as exc:
            for future in waiting.values():
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                    # Awaiters re-raise it; one whose awaiter was cancelled must not be
                    # reported as "never retrieved" when it is collected.
                    future.exception()
            raise
        for key, future in waiting.items():
            if not future.done():
                future.set_result(found.get(key))

    async def _io(self, fn: Callable[[], T]) -> T:
        """SQLite off the event loop."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(fn)


def installable_releases(
    dists: Iterable[Distribution], target: TargetEnvironment
) -> list[tuple[Version, list[Distribution]]]:
    """Files pip could install on the target: Requires-Python holds, and a wheel's tags
    are supported (an sdist always is). Wheels come before sdists, best tag first."""
    import math

    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    by_version: dict[Version, list[tuple[float, Distribution]]] = {}
    rank = target.tag_rank
    python = target.python_version
    # Both answers are worked out once per distinct string / tag set: a project's
    # thousands of files repeat a handful of each.
    fits: dict[str, bool] = {}
    priorities: dict[frozenset[Tag], float] = {}
    for dist in dists:
        if dist.requires_python:
            fit = fits.get(dist.requires_python)
            if fit is None:
                try:
                    fit = SpecifierSet(dist.requires_python).contains(python, prereleases=True)
                except InvalidSpecifier:
                    fit = True  # pip ignores an invalid Requires-Python on a file
                fits[dist.requires_python] = fit
            if not fit:
                continue
        if dist.wheel_tags is None:
            priority = math.inf
        else:
            found = priorities.get(dist.wheel_tags)
            if found is None:
                ranks = [rank[t] for t in dist.wheel_tags if t in rank]
                found = priorities[dist.wheel_tags] = min(ranks) if ranks else -1.0
            if found < 0:
                continue
            priority = found
        by_version.setdefault(dist.version, []).append((priority, dist))
    return [
        (version, [d for _, d in sorted(files, key=lambda item: item[0])])
        for version, files in sorted(by_version.items(), key=lambda item: item[0], reverse=True)
    ]


def parse_core_metadata(text: str, source: str) -> Metadata:
    from packaging.utils import canonicalize_name

    headers = HeaderParser().parsestr(text, headersonly=True)
    return Metadata(
        tuple(str(r) for r in headers.get_all("Requires-Dist") or ()),
        headers.get("Requires-Python") or None,
        source,
        frozenset(canonicalize_name(str(e)) for e in headers.get_all("Provides-Extra") or ()),
    )


def pick_file(files: Sequence[Distribution]) -> Distribution:
    """The file whose metadata stands for the release: a non-yanked one, best first."""
    return next((f for f in files if f.yanked is None), files[0])


def _metadata_keys(dist: Distribution) -> list[str]:
    """Where the cache keeps this file's metadata: its PEP 658 file, or what was
    extracted from the file itself (see _metadata_for)."""
    keys = []
    if dist.metadata_sha256 is not None:
        keys.append(
            strip_credentials(dist.url + ".metadata")
            + (f"#sha256={dist.metadata_sha256}" if dist.metadata_sha256 else "")
        )
    keys.append(_extracted_key(dist))
    return keys


def _extracted_key(dist: Distribution) -> str:
    return f"{strip_credentials(dist.url)}#extracted-metadata" + (
        f"#sha256={dist.sha256}" if dist.sha256 else ""
    )


def _check_hash(dist: Distribution, digest: str) -> None:
    from vulnsweep.index.archives import ArchiveError

    if dist.sha256 and digest != dist.sha256.lower():
        raise ArchiveError("the file does not match the sha256 the index gave for it")


def _range_total(content_range: str | None) -> int | None:
    """The TOTAL of `bytes START-END/TOTAL`."""
    if not content_range or "/" not in content_range:
        return None
    total = content_range.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _metadata_version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.strip().split("."))
    except ValueError:
        return (0,)


def parse_page(
    project: str, body: bytes, content_type: str | None, page_url: str, index: str
) -> list[Distribution]:
    if content_type and "json" in content_type:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ServiceError(
                "package index", page_url, "invalid JSON on the project page"
            ) from None
        files = data.get("files") if isinstance(data, dict) else None
        if not isinstance(files, list):
            raise ServiceError("package index", page_url, "project page has no 'files' list")
        entries = [f for f in files if isinstance(f, dict)]
    else:
        entries = _html_entries(body.decode("utf-8", "replace"))
    out = []
    versions: dict[str, Any] = {}  # one Version per release, not per file
    names: dict[str, str] = {}  # one canonical form per spelling, not per file
    for entry in entries:
        dist = _distribution(project, entry, page_url, index, versions, names)
        if dist is not None:
            out.append(dist)
    return out


def to_compact(dists: Iterable[Distribution]) -> bytes:
    """One row per file, credentials stripped from its URL (the cache never holds a
    password; they are put back from the index URL when read)."""
    # str(Version) once per release, not per file: a page's files share one Version
    # object per release (parse_page), so its id is the key (hashing a Version is not
    # cheap either).
    texts: dict[int, str] = {}

    def text(version: Version) -> str:
        found = texts.get(id(version))
        if found is None:
            found = texts[id(version)] = str(version)
        return found

    return orjson.dumps(
        [
            [
                d.filename,
                strip_credentials(d.url),
                text(d.version),
                _tag_text(d.filename) if d.wheel_tags is not None else None,
                d.requires_python,
                d.yanked,
                d.metadata_sha256,
                d.sha256,
            ]
            for d in dists
        ]
    )


def from_compact(project: str, body: bytes, index: str) -> list[Distribution]:
    from packaging.version import Version

    versions: dict[str, Version] = {}
    credentials = _credentials(index)
    out = []
    for filename, url, version, tags, requires_python, yanked, metadata, sha256 in orjson.loads(
        body
    ):
        parsed = versions.get(version)
        if parsed is None:
            parsed = versions[version] = Version(version)
        out.append(
            Distribution(
                project=project,
                filename=filename,
                url=_with_credentials(url, credentials),
                version=parsed,
                wheel_tags=_tags(tags) if tags is not None else None,
                requires_python=requires_python,
                yanked=yanked,
                metadata_sha256=metadata,
                index=index,
                sha256=sha256,
            )
        )
    return out


def _tag_text(filename: str) -> str:
    """`py3-none-any` of `name-1.0-py3-none-any.whl`."""
    return "-".join(filename[: -len(".whl")].split("-")[-3:])


@functools.lru_cache(maxsize=4096)
def _tags(text: str) -> frozenset[Tag]:
    """Shared per distinct tag string (a project's wheels mostly repeat a few)."""
    from packaging.tags import parse_tag

    return frozenset(parse_tag(text))


def _credentials(index: str) -> tuple[str, str] | None:
    """(host, user:password@host) of an index URL that carries credentials."""
    netloc = urlsplit(index).netloc
    if "@" not in netloc:
        return None
    return netloc.rsplit("@", 1)[1], netloc


def _with_credentials(url: str, credentials: tuple[str, str] | None) -> str:
    if credentials is None:
        return url
    parts = urlsplit(url)
    if parts.netloc != credentials[0]:
        return url  # another host (a CDN): the index's credentials are not for it
    return urlunsplit(parts._replace(netloc=credentials[1]))


def _distribution(
    project: str,
    entry: dict[str, Any],
    page_url: str,
    index: str,
    versions: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> Distribution | None:
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename
    from packaging.version import InvalidVersion, Version

    filename = str(entry.get("filename") or "")
    href = str(entry.get("url") or "")
    url = href if "://" in href else urljoin(page_url, href)
    tags: frozenset[Tag] | None
    try:
        if filename.endswith(".whl"):
            parts = filename[: -len(".whl")].split("-")
            if len(parts) not in (5, 6):
                return None
            name, version_text = parts[0], parts[1]
            tags = _tags("-".join(parts[-3:]))
        elif filename.endswith((".tar.gz", ".zip")):
            # packaging's own rule (the last "-" splits name from version), with the
            # Version parsed once per release below rather than once per file.
            stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename[:-4]
            name, dash, version_text = stem.rpartition("-")
            if not dash:
                parse_sdist_filename(filename)  # raises the reason
            tags = None
        else:
            return None  # eggs, .exe installers, ...: pip ignores them too
        cache = versions if versions is not None else {}
        version = cache.get(version_text)
        if version is None:
            version = cache[version_text] = Version(version_text)
    except (InvalidSdistFilename, InvalidVersion, ValueError):
        return None
    known = names if names is not None else {}
    canonical = known.get(name)
    if canonical is None:
        canonical = known[name] = canonical_name(name)
    if canonical != project:
        return None
    yanked = entry.get("yanked", False)
    hashes = entry.get("hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    fragment = url.partition("#")[2]
    if sha256 is None and fragment.startswith("sha256="):
        sha256 = fragment[len("sha256=") :]
    metadata = entry.get("core-metadata", entry.get("data-dist-info-metadata", False))
    if isinstance(metadata, dict):
        metadata_sha256: str | None = str(metadata.get("sha256", ""))
    else:
        metadata_sha256 = "" if metadata is True else None
    return Distribution(
        project=project,
        filename=filename,
        url=url.split("#", 1)[0],
        version=version,
        wheel_tags=tags,
        requires_python=str(entry["requires-python"]) if entry.get("requires-python") else None,
        yanked=None
        if yanked is False or yanked is None
        else ("" if yanked is True else str(yanked)),
        metadata_sha256=metadata_sha256,
        index=index,
        sha256=str(sha256).lower() if sha256 else None,
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.entries: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        attributes = dict(attrs)
        href = attributes.get("href")
        if not href:
            return
        path = urlsplit(href).path
        entry: dict[str, Any] = {"filename": path.rsplit("/", 1)[-1], "url": href}
        if attributes.get("data-requires-python"):
            entry["requires-python"] = attributes["data-requires-python"]
        if "data-yanked" in attributes:
            entry["yanked"] = attributes["data-yanked"] or True
        for key in ("data-core-metadata", "data-dist-info-metadata"):
            if key in attributes:
                value = attributes[key] or "true"
                algorithm, _, digest = value.partition("=")
                entry["core-metadata"] = {"sha256": digest} if algorithm == "sha256" else True
                break
        self.entries.append(entry)


def _html_entries(text: str) -> list[dict[str, Any]]:
    """PEP 503 HTML, for indexes that do not speak PEP 691 JSON yet."""
    from urllib.parse import unquote

    parser = _Anchors()
    parser.feed(text)
    for entry in parser.entries:
        entry["filename"] = unquote(entry["filename"])
    return parser.entries


def _pack(body: bytes, content_type: str | None) -> bytes:
    return (content_type or "").encode() + b"\n" + body


def _unpack(stored: bytes) -> tuple[bytes, str | None]:
    content_type, _, body = stored.partition(b"\n")
    return body, content_type.decode() or None


def _file_sha256(handle: io.BufferedReader) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()
