"""Package index client: PEP 691 JSON pages (PEP 503 HTML as a fallback) and PEP 658
core metadata, with the PyPI JSON API's `requires_dist` where the index offers it.
Pages are revalidated by ETag/Cache-Control; metadata is immutable and cached by hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import orjson

from vulnsweep.cache import Cache, HttpEntry, source_key
from vulnsweep.errors import ServiceError
from vulnsweep.index.pages import (
    EMPTY_PAGE,
    JSON_PAGE,
    Distribution,
    Fits,
    Page,
    Releases,
    read_page,
)
from vulnsweep.index.pages import strip_credentials as strip_credentials
from vulnsweep.model import canonical_name
from vulnsweep.url import Url

if TYPE_CHECKING:
    import anyio

    from vulnsweep.net.http import HttpClient
    from vulnsweep.target import TargetEnvironment

log = logging.getLogger(__name__)

ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)
IN_MEMORY_FILE = 64 * 1024**2  # a wheel read into memory (when a server ignores Range)
WHOLE_FILE_MAX = 1024**3  # the largest wheel downloaded whole when ranges fail
SDIST_MAX = 256 * 1024**2  # the largest sdist read for its metadata
PAGE_MAX_AGE = 600.0  # when the index says nothing (PyPI says 600 s)
# A page is kept under its URL and this fragment, as PEP 691 JSON with nothing
# prepended (copying a body of tens of MB to add a content type doubled it for a while).
PAGE_KEY = "#pep691"
PAGE_IN_THREAD = 256 * 1024  # a page this big is read off the event loop
# Pages downloading at once. A page is read whole before it is parsed, and a big one
# is tens of MB once decompressed: with 40 in flight, response bodies alone held
# 290 MB of a run over the shared corpora.
PAGE_DOWNLOADS = 16
ARCHIVE_DOWNLOADS = 8  # whole sdists being downloaded (to disk) at once
IO_THREADS = 2  # worker threads for cache reads and writes (and for big pages) at once
FLUSH_BYTES = 8 * 1024**2  # cache entries written together as a run goes
FOREVER = float(2**40)
T = TypeVar("T")


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
        self.cache = cache
        self.index_urls = [u.rstrip("/") for u in dict.fromkeys(index_urls)]
        self._fits = Fits(target)
        self._pages: dict[str, asyncio.Future[Releases]] = {}
        self._metadata: dict[Distribution, asyncio.Future[Metadata]] = {}
        self._ready: dict[Distribution, Metadata] = {}
        self._stored: dict[Distribution, bytes] = {}  # cached metadata, not parsed yet
        self._reads: dict[str, dict[str, asyncio.Future[HttpEntry | None]]] = {}
        # project -> (cache source, key, expiry) of each page read: a resolution made from
        # pages that are all still in the cache unchanged can be reused as it is.
        self.page_stamps: dict[str, list[tuple[str, str, float]]] = {}
        self._new: dict[str, list[tuple[str, HttpEntry]]] = {}
        self._unwritten = 0  # bytes in _new
        self._flushes: set[asyncio.Future[None]] = set()
        self._threads: anyio.CapacityLimiter | None = None
        self._parsers: anyio.CapacityLimiter | None = None
        self._downloads = asyncio.Semaphore(PAGE_DOWNLOADS)
        self._archives = asyncio.Semaphore(ARCHIVE_DOWNLOADS)

    # -- public -------------------------------------------------------------------

    async def releases(self, name: str) -> Releases:
        """Releases installable on the target, newest first, their files best first
        (pip merges the files of every index the same way)."""
        key = canonical_name(name)
        future = self._pages.get(key)
        if future is None:
            future = self._pages[key] = _started(self._project(key))
        return await asyncio.shield(future)

    async def preload(self, dists: Sequence[Distribution]) -> None:
        """The cached metadata of these releases in one cache read (no network), so a
        resolution walking down a project it has seen before reads them without a
        round trip (and a thread hop) each."""
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

    def asked_releases(self, name: str) -> bool:
        """Whether this project's page was asked for already (readable from any thread)."""
        return canonical_name(name) in self._pages

    def asked_metadata(self, dist: Distribution) -> bool:
        return dist in self._metadata

    def ready_releases(self, name: str) -> Releases | None:
        """A project's releases once the event loop has them (see ready_metadata)."""
        future = self._pages.get(canonical_name(name))
        if future is None or not future.done() or future.cancelled() or future.exception():
            return None
        return future.result()

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
        """Kept for the cache, written in batches of about FLUSH_BYTES as they fill
        (from the event loop), the rest when the run persists: a run never holds every
        page it read just to write them at the end."""
        self._new.setdefault(source, []).append((key, entry))
        self._unwritten += len(entry.body)
        if self._unwritten < FLUSH_BYTES:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # not on the loop: persist_async() writes it
        batch, self._new, self._unwritten = self._new, {}, 0
        self._flushes.add(_started(self._io(lambda: self._write(batch))))

    def _write(self, batch: dict[str, list[tuple[str, HttpEntry]]]) -> None:
        for source, entries in batch.items():
            self.cache.put_http(source, entries)

    async def persist_async(self) -> None:
        """Every batch written, the last one here (after the fetches have stopped)."""
        flushes, self._flushes = self._flushes, set()
        if flushes:
            await asyncio.wait(flushes)
        batch, self._new, self._unwritten = self._new, {}, 0
        await self._io(lambda: self._write(batch))

    # -- pages --------------------------------------------------------------------

    async def _project(self, name: str) -> Releases:
        pages = await asyncio.gather(*(self._page(index, name) for index in self.index_urls))
        return Releases(pages)

    async def _page(self, index: str, name: str) -> Page:
        """A project page, kept in the cache as PEP 691 JSON (the body as sent, when
        it is that and carries no credentials) and read again in one pass. At most
        PAGE_DOWNLOADS pages are read, fetched or parsed at once: a page is held whole
        until it is parsed, and a big one is tens of MB."""
        url = f"{index}/{quote(name, safe='')}/"
        source = source_key("index:" + strip_credentials(index))
        key = strip_credentials(url) + PAGE_KEY
        async with self._downloads:
            stored = await self._io(lambda: self.cache.get_http(source, [key]).get(key))
            seen = stored is not None
            page = None
            if stored is not None and stored.expires > time.time():
                page = await self._stored_page(name, stored.body, url, index)
                if page is not None:
                    self.page_stamps.setdefault(name, []).append((source, key, stored.expires))
                else:
                    stored = None
            if page is None:
                page = await self._fetched_page(name, source, key, url, index, stored)
        page.seen = seen
        return page

    async def _fetched_page(
        self, name: str, source: str, key: str, url: str, index: str, stored: HttpEntry | None
    ) -> Page:
        """The page from the index (revalidating what is stored); fetched again whole
        when the index says the stored page is current but it cannot be read."""
        http = await self.http.client()
        etag = stored.etag if stored is not None else None
        result = await http.get_document(url, etag, max_bytes=self.max_bytes)
        if result.status == 404:
            # Kept too, as a project with no files: a warm run asks nothing, even
            # for a project the index does not have (a dependency's dependency).
            gone = HttpEntry(None, time.time() + PAGE_MAX_AGE, EMPTY_PAGE)
            self._keep_page(name, source, key, gone)
            return Page(name, url, index)
        if result.status == 304 and stored is not None:
            keep = stored.body
            found = await self._stored_page(name, keep, url, index)
            if found is None:  # a damaged cache entry: ask without the etag
                return await self._fetched_page(name, source, key, url, index, None)
            page = found
        else:
            page, fresh = await self._read_page(
                name, result.data, result.content_type, url, index, store=True
            )
            keep = fresh or EMPTY_PAGE
        max_age = result.max_age if result.max_age is not None else PAGE_MAX_AGE
        self._keep_page(name, source, key, HttpEntry(result.etag, time.time() + max_age, keep))
        return page

    async def _stored_page(self, name: str, body: bytes, url: str, index: str) -> Page | None:
        """A page as the cache kept it; None, and fetched again whole, when the entry
        cannot be read (a disk fault or another writer must have damaged it)."""
        try:
            page, _ = await self._read_page(name, body, JSON_PAGE, url, index)
        except ServiceError:
            log.warning("the cached index page of %s could not be read; fetching it again", name)
            return None
        return page

    async def _read_page(
        self,
        name: str,
        body: bytes,
        content_type: str | None,
        url: str,
        index: str,
        *,
        store: bool = False,
    ) -> tuple[Page, bytes | None]:
        """Big pages are read in a worker thread, so the event loop keeps answering
        the resolver and reading responses meanwhile."""

        def read() -> tuple[Page, bytes | None]:
            return read_page(name, body, content_type, url, index, self._fits, storable=store)

        if len(body) <= PAGE_IN_THREAD:
            return read()
        return await self._cpu(read)

    async def _cpu(self, fn: Callable[[], T]) -> T:
        """Parsing off the event loop, on threads of its own (not the cache's)."""
        import anyio
        import anyio.to_thread

        if self._parsers is None:
            self._parsers = anyio.CapacityLimiter(IO_THREADS)
        return await anyio.to_thread.run_sync(fn, limiter=self._parsers)

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
        import tempfile
        from pathlib import Path

        from vulnsweep.index.archives import ArchiveError, SdistFiles, sdist_files

        http = await self.http.client()
        try:
            # Streamed to a temporary file, a few at a time: backtracking through old
            # numpy or scipy releases (sdists only, tens of MB each) held 36 of them,
            # 1 GB, in memory at once on the shared corpora.
            async with self._archives:
                with tempfile.TemporaryDirectory(prefix="vulnsweep-sdist-") as directory:
                    path = Path(directory) / "release"
                    size = await http.download(dist.url, path, max_bytes=SDIST_MAX, missing_ok=True)
                    if size is None:
                        raise ArchiveError("the sdist is not on the index (404)")

                    def read() -> SdistFiles:
                        with path.open("rb") as handle:
                            _check_hash(dist, _file_sha256(handle))
                            handle.seek(0)
                            return sdist_files(handle, dist.filename)

                    files = await self._cpu(read)
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
        """SQLite off the event loop, two at a time: cache access is serialised by the
        cache's lock, so more threads would only wait -- and each new thread that
        allocates gets a malloc arena of its own (on warehouse, 40 threads' arenas
        held about 45 MB more at the peak)."""
        import anyio
        import anyio.to_thread

        if self._threads is None:
            self._threads = anyio.CapacityLimiter(IO_THREADS)
        return await anyio.to_thread.run_sync(fn, limiter=self._threads)


def parse_core_metadata(text: str, source: str) -> Metadata:
    from packaging.utils import canonicalize_name

    headers = HeaderParser().parsestr(text, headersonly=True)
    return Metadata(
        tuple(str(r) for r in headers.get_all("Requires-Dist") or ()),
        headers.get("Requires-Python") or None,
        source,
        frozenset(canonicalize_name(str(e)) for e in headers.get_all("Provides-Extra") or ()),
    )


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
