"""Core metadata out of release files, for indexes that do not serve PEP 658 files.

A wheel's `*.dist-info/METADATA` is read with HTTP range requests (the zip's end
record and central directory from the tail, then the one member), or from the whole
file when ranges fail; an sdist's `PKG-INFO` counts only when PEP 643 makes it static.
Archives are hostile input: nothing is extracted, every size is capped, CRCs checked.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import IO, BinaryIO

MAX_METADATA = 16 * 1024**2  # a METADATA/PKG-INFO file larger than this is refused
MAX_CENTRAL_DIRECTORY = 32 * 1024**2
TAIL = 64 * 1024  # first range: usually the whole central directory of a wheel

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"


class ArchiveError(Exception):
    """The file is not a readable archive, or reading it would break a cap."""


class RangesUnsupported(Exception):
    """The server ignored `Range`; `body` holds what it sent instead (the whole file)."""

    def __init__(self, body: bytes) -> None:
        super().__init__("the server ignored the Range header")
        self.body = body


@dataclass(frozen=True)
class Member:
    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int


# fetch(start, end) -> (bytes of [start, end), the file's total size); `start` < 0
# asks for the last -start bytes. Raises RangesUnsupported when it got a 200.
RangeFetch = Callable[[int, int | None], Awaitable[tuple[bytes, int]]]


async def wheel_metadata_by_ranges(fetch: RangeFetch) -> bytes:
    """METADATA of a remote wheel in two or three range requests."""
    tail, total = await fetch(-TAIL, None)
    tail_start = total - len(tail)
    cd_offset, cd_size = _central_directory_location(tail, tail_start)
    if cd_size > MAX_CENTRAL_DIRECTORY:
        raise ArchiveError(f"central directory of {cd_size} bytes refused")
    if cd_offset + cd_size > total:
        raise ArchiveError("central directory lies past the end of the file")
    if cd_offset >= tail_start:
        directory = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
    else:
        head, _ = await fetch(cd_offset, tail_start)
        directory = (head + tail)[:cd_size]
    member = metadata_member(_metadata_entries(directory))
    # The local header repeats the name and has its own extra field: ask for slack.
    end = min(
        total, member.header_offset + 30 + 2 * len(member.name) + 1024 + member.compressed_size
    )
    if member.header_offset >= tail_start:
        chunk = tail[member.header_offset - tail_start : end - tail_start]
    else:
        chunk, _ = await fetch(member.header_offset, end)
    return _read_member(chunk, member)


def wheel_metadata_from_file(handle: IO[bytes]) -> bytes:
    """METADATA of a whole wheel on disk or in memory (the fallback when ranges fail)."""
    import zipfile

    try:
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
            if len(infos) > 1_000_000:
                raise ArchiveError("archive lists too many members")
            members = {
                i.filename: Member(
                    i.filename,
                    i.compress_type,
                    i.CRC,
                    i.compress_size,
                    i.file_size,
                    i.header_offset,
                )
                for i in infos
            }
            member = metadata_member(members.values())
            with archive.open(member.name) as stream:
                data = stream.read(MAX_METADATA + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ArchiveError(f"not a readable wheel ({exc})") from None
    except zlib.error as exc:
        raise ArchiveError(f"METADATA does not decompress ({exc})") from None
    if len(data) > MAX_METADATA:
        raise ArchiveError(f"METADATA larger than {MAX_METADATA} bytes refused")
    return data


def metadata_member(members: Iterable[Member]) -> Member:
    """The one top-level `*.dist-info/METADATA` (pip refuses a wheel with several)."""
    found = [m for m in members if re.fullmatch(r"[^/]+\.dist-info/METADATA", m.name)]
    if len(found) != 1:
        raise ArchiveError(
            "no .dist-info/METADATA in the wheel"
            if not found
            else "the wheel has more than one .dist-info directory"
        )
    if found[0].size > MAX_METADATA:
        raise ArchiveError(f"METADATA larger than {MAX_METADATA} bytes refused")
    return found[0]


@dataclass(frozen=True)
class SdistFiles:
    """The files of an sdist that state its dependencies without a build."""

    pkg_info: bytes | None = None  # <top>/PKG-INFO
    requires: bytes | None = None  # <top>/[src/]<name>.egg-info/requires.txt
    pyproject: bytes | None = None  # <top>/pyproject.toml


def sdist_files(data: bytes | BinaryIO, filename: str) -> SdistFiles:
    """Those files of an sdist (in memory, or an open file); members are read, never
    extracted, and only the ones wanted are decompressed (each capped)."""
    import tarfile
    import zipfile

    def wanted(name: str) -> str | None:
        parts = name.strip("/").split("/")
        if ".." in parts or len(parts) < 2:
            return None
        if len(parts) == 2 and parts[1] in ("PKG-INFO", "pyproject.toml"):
            return "pkg_info" if parts[1] == "PKG-INFO" else "pyproject"
        if len(parts) <= 4 and parts[-1] == "requires.txt" and parts[-2].endswith(".egg-info"):
            return "requires"
        return None

    found: dict[str, bytes] = {}
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(_readable(data)) as zipped:
                for info in zipped.infolist():
                    if len(found) == 3:
                        break
                    kind = wanted(info.filename)
                    if kind is not None and kind not in found:
                        if info.file_size > MAX_METADATA:
                            raise ArchiveError(f"{info.filename} too large")
                        with zipped.open(info) as member:
                            found[kind] = _capped(member.read(MAX_METADATA + 1))
        else:
            with tarfile.open(fileobj=_readable(data), mode="r:*") as archive:
                while len(found) < 3 and (entry := archive.next()) is not None:
                    # tarfile keeps every member it has read: an sdist of 100,000
                    # files grew to gigabytes. Only the current one is needed.
                    archive.members.clear()  # type: ignore[attr-defined]
                    kind = wanted(entry.name)
                    if kind is not None and kind not in found and entry.isfile():
                        if entry.size > MAX_METADATA:
                            raise ArchiveError(f"{entry.name} too large")
                        stream = archive.extractfile(entry)
                        if stream is not None:
                            found[kind] = _capped(stream.read(MAX_METADATA + 1))
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"not a readable sdist ({exc})") from None
    if not found:
        raise ArchiveError("no PKG-INFO at the top of the sdist")
    return SdistFiles(**found)


def _readable(data: bytes | BinaryIO) -> BinaryIO:
    return io.BytesIO(data) if isinstance(data, bytes) else data


def sdist_pkg_info(data: bytes, filename: str) -> bytes:
    """The top-level PKG-INFO of an sdist held in memory."""
    pkg_info = sdist_files(data, filename).pkg_info
    if pkg_info is None:
        raise ArchiveError("no PKG-INFO at the top of the sdist")
    return pkg_info


def requires_txt_to_requires_dist(text: str) -> list[str]:
    """setuptools' egg-info/requires.txt as Requires-Dist lines: a `[extra]`,
    `[:marker]` or `[extra:marker]` section header applies to the lines below it."""
    out: list[str] = []
    extra, marker = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            extra, marker = extra.strip(), marker.strip()
            continue
        conditions = [f"({marker})"] if marker else []
        if extra:
            conditions.append(f'extra == "{extra}"')
        out.append(f"{line} ; {' and '.join(conditions)}" if conditions else line)
    return out


def _capped(data: bytes) -> bytes:
    if len(data) > MAX_METADATA:
        raise ArchiveError(f"PKG-INFO larger than {MAX_METADATA} bytes refused")
    return data


def _central_directory_location(tail: bytes, tail_start: int) -> tuple[int, int]:
    at = tail.rfind(_EOCD, max(0, len(tail) - 22 - 0xFFFF))
    if at < 0 or len(tail) - at < 22:
        raise ArchiveError("no zip end-of-central-directory record")
    cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
    if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:  # zip64
        locator = at - 20
        if locator < 0 or tail[locator : locator + 4] != _EOCD64_LOCATOR:
            raise ArchiveError("zip64 archive without its locator")
        (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
        record = record_offset - tail_start
        if record < 0 or tail[record : record + 4] != _EOCD64:
            raise ArchiveError("zip64 end record out of reach")
        cd_size, cd_offset = struct.unpack_from("<QQ", tail, record + 40)
    return cd_offset, cd_size


def _metadata_entries(directory: bytes) -> list[Member]:
    """The central directory entries that can be `*.dist-info/METADATA`, found by
    searching for the name rather than decoding every entry (a botocore wheel lists
    thousands of files). Anything unexpected falls back to reading every entry."""
    suffix = b".dist-info/METADATA"
    found = []
    at = directory.find(suffix)
    while at >= 0:
        end = at + len(suffix)
        start = directory.rfind(_CENTRAL, 0, at)
        if start < 0 or start + 46 > len(directory):
            return _members(directory)
        (name_len,) = struct.unpack_from("<H", directory, start + 28)
        if start + 46 + name_len != end:
            return _members(directory)  # the signature was inside a name: read it all
        found.append(_member_at(directory, start))
        at = directory.find(suffix, end)
    return found or _members(directory)


def _member_at(directory: bytes, at: int) -> Member:
    (method, _, _, crc, csize, size, name_len, extra_len, _) = struct.unpack_from(
        "<HHHIIIHHH", directory, at + 10
    )
    (offset,) = struct.unpack_from("<I", directory, at + 42)
    name = directory[at + 46 : at + 46 + name_len].decode("utf-8", "replace")
    extra = directory[at + 46 + name_len : at + 46 + name_len + extra_len]
    if 0xFFFFFFFF in (csize, size, offset):
        size, csize, offset = _zip64_sizes(extra, size, csize, offset)
    return Member(name, method, crc, csize, size, offset)


def _members(directory: bytes) -> list[Member]:
    out = []
    at = 0
    while at + 46 <= len(directory) and directory[at : at + 4] == _CENTRAL:
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", directory, at + 28)
        out.append(_member_at(directory, at))
        at += 46 + name_len + extra_len + comment_len
    if not out:
        raise ArchiveError("empty or unreadable central directory")
    return out


def _zip64_sizes(extra: bytes, size: int, csize: int, offset: int) -> tuple[int, int, int]:
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        if tag == 1:
            values = list(struct.unpack_from(f"<{length // 8}Q", extra, at + 4))
            if size == 0xFFFFFFFF and values:
                size = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
            break
        at += 4 + length
    return size, csize, offset


def _read_member(chunk: bytes, member: Member) -> bytes:
    if chunk[:4] != _LOCAL or len(chunk) < 30:
        raise ArchiveError("no local file header where the central directory points")
    name_len, extra_len = struct.unpack_from("<HH", chunk, 26)
    start = 30 + name_len + extra_len
    raw = chunk[start : start + member.compressed_size]
    if len(raw) < member.compressed_size:
        raise ArchiveError("the archive ends inside METADATA (truncated file)")
    if member.method == 0:
        data = raw
    elif member.method == 8:
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(raw, MAX_METADATA + 1)
        except zlib.error as exc:
            raise ArchiveError(f"METADATA does not decompress ({exc})") from None
    else:
        raise ArchiveError(f"METADATA uses unsupported compression method {member.method}")
    if len(data) > MAX_METADATA:
        raise ArchiveError(f"METADATA larger than {MAX_METADATA} bytes refused")
    if zlib.crc32(data) != member.crc:
        raise ArchiveError("METADATA fails its CRC check")
    return data
