"""Project pages as resolution reads them.

A page is read in one pass: each file's name, tags and Requires-Python are judged for
the target through answers kept per distinct string, and only the files the target
could install are kept, each release's packed into one bytes object (see _HEAD).
`Distribution`s are built one release at a time, when something first looks at that
release: warehouse's 168 pages hold 116,000 files, of which a resolution reads a few
hundred, and building them all was most of a cold resolution's CPU.
"""

from __future__ import annotations

import functools
import math
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import orjson

from vulnsweep.errors import ServiceError
from vulnsweep.model import canonical_name

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.version import Version

    from vulnsweep.target import TargetEnvironment

T = TypeVar("T")
JSON_PAGE = "application/vnd.pypi.simple.v1+json"
EMPTY_PAGE = b'{"files":[]}'


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


# What is read of a file while its page is parsed: its rank among the release's files
# (lower is better; an sdist is last), then the page entry's own fields.
Row = tuple[float, str, str, Any, Any, Any, Any]

# What is kept of it until its release is looked at: a release's rows packed into one
# bytes object, each a header (rank; the byte lengths of the file name, the rest of the
# URL after the page's common prefix, Requires-Python and the yanked reason, NOT_YANKED
# when not yanked; how the metadata and file digests are given) and then those fields.
# One object per release instead of five per file: a corpora run keeps about 270,000
# files, and their tuples and strings were a third of what it held (and, made among a
# parse's short-lived objects, kept the allocator's arenas from being given back).
_HEAD = struct.Struct("<dIIIIBB")
NOT_YANKED = 0xFFFFFFFF
_ABSENT, _OFFERED, _DIGEST, _TEXT = 0, 1, 2, 3  # a digest: none, no hash, 32 bytes, text


class Fits:
    """What one target makes of the strings pages repeat, each worked out once per run:
    a run's pages share a few hundred Requires-Python strings, tag triples and version
    numbers among hundreds of thousands of files."""

    def __init__(self, target: TargetEnvironment) -> None:
        self.target = target
        self._python: dict[str, bool] = {}
        self._tags: dict[str, float] = {}
        self._versions: dict[str, Version | None] = {}
        self._names: dict[str, str] = {}

    def python(self, requires_python: str) -> bool:
        found = self._python.get(requires_python)
        if found is None:
            from packaging.specifiers import InvalidSpecifier, SpecifierSet

            try:
                found = SpecifierSet(requires_python).contains(
                    self.target.python_version, prereleases=True
                )
            except InvalidSpecifier:
                found = True  # pip ignores an invalid Requires-Python on a file
            self._python[requires_python] = found
        return found

    def rank(self, tag_text: str) -> float:
        """The best rank among a wheel's tags on the target; -1 when none is supported
        (or the tags are not valid: pip passes over such a file too)."""
        found = self._tags.get(tag_text)
        if found is None:
            rank = self.target.tag_rank
            try:
                ranks = [rank[t] for t in wheel_tags(tag_text) if t in rank]
            except ValueError:  # packaging's InvalidTag
                ranks = []
            found = self._tags[tag_text] = min(ranks) if ranks else -1.0
        return found

    def version(self, text: str) -> Version | None:
        try:
            return self._versions[text]
        except KeyError:
            from packaging.version import InvalidVersion, Version

            try:
                found: Version | None = Version(text)
            except (InvalidVersion, ValueError):
                found = None
            self._versions[text] = found
            return found

    def name(self, text: str) -> str:
        found = self._names.get(text)
        if found is None:
            found = self._names[text] = canonical_name(text)
        return found


@functools.lru_cache(maxsize=4096)
def wheel_tags(text: str) -> frozenset[Tag]:
    """Shared per distinct tag string (a project's wheels mostly repeat a few)."""
    from packaging.tags import parse_tag

    return frozenset(parse_tag(text))


class Page:
    """One index's page of one project: its installable files by release, and for
    releases with a file the target cannot install, that file's Requires-Python
    (to say why a release was passed over)."""

    def __init__(self, project: str, page_url: str, index: str) -> None:
        self.project = project
        self.page_url = page_url
        self.index = index
        self.seen = False  # the cache held this page before (fresh or not)
        self.rows: dict[Version, bytes] = {}  # packed (see _HEAD)
        self.unfit: dict[Version, str | None] = {}
        self._base = ""  # the URLs' common prefix, not repeated in each row
        self._credentials = _credentials(index)

    def keep(self, rows: dict[Version, list[Row]]) -> None:
        """Each release's rows, packed."""
        hrefs = [row[2] for found in rows.values() for row in found]
        # Character by character on purpose: the rows keep what follows it.
        self._base = base = os.path.commonprefix(hrefs)  # noqa: RUF071
        cut = len(base)
        for version, found in rows.items():
            self.rows[version] = b"".join(_pack_row(row, cut) for row in found)

    def build(self, version: Version) -> list[tuple[float, Distribution]]:
        return [
            (row[0], self._distribution(version, row))
            for row in _unpack_rows(self.rows.get(version, b""), self._base)
        ]

    def _distribution(self, version: Version, row: Row) -> Distribution:
        _, filename, href, requires_python, yanked, metadata, sha256 = row
        if href.endswith("/"):
            href += filename
        url = href if "://" in href else urljoin(self.page_url, href)
        url, _, fragment = url.partition("#")
        if isinstance(sha256, bytes):
            sha256 = sha256.hex()
        elif sha256 is None and fragment.startswith("sha256="):
            sha256 = fragment[len("sha256=") :]
        if isinstance(metadata, (bytes, str)):
            metadata_sha256: str | None = (
                metadata.hex() if isinstance(metadata, bytes) else metadata
            )
        else:
            metadata_sha256 = "" if metadata is True else None
        return Distribution(
            project=self.project,
            filename=filename,
            url=_with_credentials(url, self._credentials),
            version=version,
            wheel_tags=wheel_tags(_tag_text(filename)) if filename.endswith(".whl") else None,
            requires_python=str(requires_python) if requires_python else None,
            yanked=None
            if yanked is False or yanked is None
            else ("" if yanked is True else str(yanked)),
            metadata_sha256=metadata_sha256,
            index=self.index,
            sha256=str(sha256).lower() if sha256 else None,
        )


def read_page(
    project: str,
    body: bytes,
    content_type: str | None,
    page_url: str,
    index: str,
    fits: Fits,
    *,
    storable: bool = False,
) -> tuple[Page, bytes | None]:
    """The page, and (with `storable`) the PEP 691 JSON to keep in the cache: the body
    as sent when it is JSON with no credentials in it, else the files re-written as
    JSON with every URL's credentials removed."""
    json = bool(content_type and "json" in content_type)
    entries = _json_entries(body, page_url) if json else _html_entries(body)
    page = Page(project, page_url, index)
    rows: dict[Version, list[Row]] = {}
    unfit = page.unfit
    inf = math.inf
    for entry in entries:
        filename = entry.get("filename")
        if not isinstance(filename, str):
            continue
        if filename.endswith(".whl"):
            parts = filename[:-4].split("-")
            if len(parts) not in (5, 6):
                continue
            name, version_text = parts[0], parts[1]
            rank = fits.rank(f"{parts[-3]}-{parts[-2]}-{parts[-1]}")
        else:
            if filename.endswith(".tar.gz"):
                stem = filename[:-7]
            elif filename.endswith(".zip"):
                stem = filename[:-4]
            else:
                continue  # eggs, .exe installers, ...: pip ignores them too
            # packaging's rule: the last "-" splits the name from the version.
            name, dash, version_text = stem.rpartition("-")
            if not dash:
                continue
            rank = inf
        version = fits.version(version_text)
        if version is None or fits.name(name) != project:
            continue
        requires_python = entry.get("requires-python")
        if rank < 0 or (requires_python and not fits.python(str(requires_python))):
            if version not in unfit:
                unfit[version] = str(requires_python) if requires_python else None
            continue
        # Kept small (packed by Page.keep): a big run holds hundreds of thousands.
        href = str(entry.get("url") or "")
        if href.endswith(filename) and href[-len(filename) - 1 : -len(filename)] == "/":
            href = href[: -len(filename)]  # the file name is put back when built
        hashes = entry.get("hashes")
        metadata = entry.get("core-metadata", entry.get("data-dist-info-metadata", False))
        if isinstance(metadata, dict):
            metadata = _digest(str(metadata.get("sha256", "")))
        else:
            metadata = metadata is True  # offered without a hash, or not at all
        row: Row = (
            rank,
            filename,
            href,
            str(requires_python) if requires_python else None,
            entry.get("yanked", False),
            metadata,
            _digest(hashes.get("sha256")) if isinstance(hashes, dict) else None,
        )
        found = rows.get(version)
        if found is None:
            rows[version] = [row]
        else:
            found.append(row)
    page.keep(rows)
    stored = None
    if storable:
        stored = body if json and b"@" not in body else _without_credentials(entries)
    return page, stored


class Releases:
    """A project's installable releases across its indexes, newest first; each
    release's files (best first, as pip ranks them) are built the first time that
    release is looked at. Iterating builds as it goes, so a caller that stops at the
    first match builds one release."""

    def __init__(self, pages: Sequence[Page]) -> None:
        self._pages = pages
        if len(pages) == 1:
            versions = list(pages[0].rows)
        else:
            versions = list({v: None for page in pages for v in page.rows})
        versions.sort(reverse=True)
        self.versions = versions
        self.seen = any(page.seen for page in pages)
        self._files: dict[Version, list[Distribution]] = {}

    def files(self, version: Version) -> list[Distribution]:
        found = self._files.get(version)
        if found is None:
            ranked = [item for page in self._pages for item in page.build(version)]
            ranked.sort(key=lambda item: item[0])  # stable: index order among equals
            found = self._files[version] = [dist for _, dist in ranked]
        return found

    def unfit(self) -> dict[Version, str | None]:
        """Releases only files the target cannot install stand for (see Page.unfit)."""
        out: dict[Version, str | None] = {}
        for page in self._pages:
            for version, requires_python in page.unfit.items():
                out.setdefault(version, requires_python)
        return out

    def __iter__(self) -> Iterator[tuple[Version, list[Distribution]]]:
        for version in self.versions:
            yield version, self.files(version)

    def __len__(self) -> int:
        return len(self.versions)


class Memo(Generic[T]):
    """A sequence read from an iterator as far as anyone has asked, and kept: resolvelib
    asks for a project's candidates again and again and mostly reads the first few."""

    def __init__(self, source: Iterator[T]) -> None:
        self._source: Iterator[T] | None = source
        self._items: list[T] = []

    def __iter__(self) -> Iterator[T]:
        position = 0
        items = self._items
        while True:
            if position < len(items):
                yield items[position]
                position += 1
            elif self._source is None or not self._more():
                return

    def _more(self) -> bool:
        assert self._source is not None
        for item in self._source:
            self._items.append(item)
            return True
        self._source = None
        return False


def _pack_row(row: Row, cut: int) -> bytes:
    rank, filename, href, requires_python, yanked, metadata, sha256 = row
    name = filename.encode()
    rest = href[cut:].encode()
    python = requires_python.encode() if requires_python else b""
    if yanked is False or yanked is None:
        reason, reason_length = b"", NOT_YANKED
    else:
        reason = b"" if yanked is True else str(yanked).encode()
        reason_length = len(reason)
    meta_kind, meta = _digest_field(metadata)
    sha_kind, sha = _digest_field(sha256)
    head = _HEAD.pack(rank, len(name), len(rest), len(python), reason_length, meta_kind, sha_kind)
    return b"".join((head, name, rest, python, reason, meta, sha))


def _digest_field(value: Any) -> tuple[int, bytes]:
    """How a digest is given (see _ABSENT ...), and its bytes; text is length-prefixed."""
    if value is None or value is False:
        return _ABSENT, b""
    if value is True:
        return _OFFERED, b""
    if isinstance(value, bytes):
        return _DIGEST, value
    text = str(value).encode()
    return _TEXT, len(text).to_bytes(4, "little") + text


def _unpack_rows(packed: bytes, base: str) -> Iterator[Row]:
    """The rows _pack_row packed, as read_page made them (URLs whole again)."""
    position, end, size = 0, len(packed), _HEAD.size
    while position < end:
        rank, name, rest, python, reason, meta_kind, sha_kind = _HEAD.unpack_from(packed, position)
        position += size
        filename = packed[position : position + name].decode()
        position += name
        href = base + packed[position : position + rest].decode()
        position += rest
        requires_python = packed[position : position + python].decode() or None
        position += python
        yanked: Any = False
        if reason != NOT_YANKED:
            yanked = packed[position : position + reason].decode() or True
            position += reason
        metadata, position = _read_digest(packed, position, meta_kind)
        sha256, position = _read_digest(packed, position, sha_kind)
        yield rank, filename, href, requires_python, yanked, metadata, sha256


def _read_digest(packed: bytes, position: int, kind: int) -> tuple[Any, int]:
    if kind == _ABSENT:
        return None, position
    if kind == _OFFERED:
        return True, position
    if kind == _DIGEST:
        return packed[position : position + 32], position + 32
    length = int.from_bytes(packed[position : position + 4], "little")
    start = position + 4
    return packed[start : start + length].decode(), start + length


def _digest(value: Any) -> bytes | str | None:
    """A hex digest as its 32 bytes (half the memory of the text); anything else as
    text, for the hash check to reject later."""
    if not value:
        return None if value is None else ""
    text = str(value)
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return text


def pick_file(files: Sequence[Distribution]) -> Distribution:
    """The file whose metadata stands for the release: a non-yanked one, best first."""
    return next((f for f in files if f.yanked is None), files[0])


def _json_entries(body: bytes, page_url: str) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ServiceError("package index", page_url, "invalid JSON on the project page") from None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        raise ServiceError("package index", page_url, "project page has no 'files' list")
    return [f for f in files if isinstance(f, dict)]


def _without_credentials(entries: list[dict[str, Any]]) -> bytes:
    """The files as PEP 691 JSON with no userinfo left in any URL (the cache never holds
    a password; the index URL's are put back when the page is read)."""
    return orjson.dumps(
        {"files": [{**e, "url": strip_credentials(str(e.get("url") or ""))} for e in entries]}
    )


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


def _tag_text(filename: str) -> str:
    """`py3-none-any` of `name-1.0-py3-none-any.whl`."""
    return "-".join(filename[: -len(".whl")].split("-")[-3:])


def _credentials(index: str) -> tuple[str, str] | None:
    """(host, user:password@host) of an index URL that carries credentials."""
    if "@" not in index:
        return None
    netloc = urlsplit(index).netloc
    if "@" not in netloc:
        return None
    return netloc.rsplit("@", 1)[1], netloc


def _with_credentials(url: str, credentials: tuple[str, str] | None) -> str:
    """pip sends an index's credentials to any URL on the index's host."""
    if credentials is None:
        return url
    parts = urlsplit(url)
    if parts.netloc != credentials[0]:
        return url  # another host (a CDN): the index's credentials are not for it
    return urlunsplit(parts._replace(netloc=credentials[1]))


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
        entry: dict[str, Any] = {"filename": unquote(path.rsplit("/", 1)[-1]), "url": href}
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


def _html_entries(body: bytes) -> list[dict[str, Any]]:
    """PEP 503 HTML, for indexes that do not speak PEP 691 JSON yet."""
    parser = _Anchors()
    parser.feed(body.decode("utf-8", "replace"))
    return parser.entries
