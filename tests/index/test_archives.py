"""Metadata out of release files: range reads of real zips built with zipfile, the
whole-file fallback, sdists (PEP 643), and archives built to break a reader."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from tests.servers.index import build_sdist, build_wheel
from vulnsweep.index.archives import (
    MAX_METADATA,
    ArchiveError,
    RangesUnsupported,
    sdist_pkg_info,
    wheel_metadata_by_ranges,
    wheel_metadata_from_file,
)

METADATA = (
    "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.8\n"
    "Requires-Dist: idna>=2.5\nRequires-Dist: pysocks!=1.5.7; extra == 'socks'\n"
)


class Ranges:
    """Serves byte ranges of an in-memory file and counts the reads."""

    def __init__(self, body: bytes, honour: bool = True) -> None:
        self.body = body
        self.honour = honour
        self.reads: list[tuple[int, int | None]] = []

    async def __call__(self, start: int, end: int | None) -> tuple[bytes, int]:
        self.reads.append((start, end))
        if not self.honour:
            raise RangesUnsupported(self.body)
        size = len(self.body)
        chunk = self.body[max(0, size + start) :] if start < 0 else self.body[start:end]
        return chunk, size


async def test_small_wheel_needs_one_read() -> None:
    fetch = Ranges(build_wheel("demo-1.0-py3-none-any.whl", METADATA))
    assert (await wheel_metadata_by_ranges(fetch)).decode() == METADATA
    assert fetch.reads == [(-64 * 1024, None)]


async def test_metadata_before_a_large_member_needs_a_second_read() -> None:
    fetch = Ranges(build_wheel("demo-1.0-py3-none-any.whl", METADATA, padding=300_000))
    assert (await wheel_metadata_by_ranges(fetch)).decode() == METADATA
    assert len(fetch.reads) == 2


async def test_central_directory_beyond_the_tail_needs_a_third_read() -> None:
    wheel = build_wheel("demo-1.0-py3-none-any.whl", METADATA, padding=200_000, members=2_000)
    fetch = Ranges(wheel)
    assert (await wheel_metadata_by_ranges(fetch)).decode() == METADATA
    assert len(fetch.reads) == 3
    assert sum(len(fetch.body[s:e]) for s, e in fetch.reads[1:] if s >= 0) < len(wheel) / 2


async def test_server_ignoring_ranges_hands_over_the_body() -> None:
    wheel = build_wheel("demo-1.0-py3-none-any.whl", METADATA)
    with pytest.raises(RangesUnsupported) as signal:
        await wheel_metadata_by_ranges(Ranges(wheel, honour=False))
    assert wheel_metadata_from_file(io.BytesIO(signal.value.body)).decode() == METADATA


def test_whole_wheel_fallback_reads_the_member() -> None:
    wheel = build_wheel("demo-1.0-py3-none-any.whl", METADATA, padding=100_000, members=50)
    assert wheel_metadata_from_file(io.BytesIO(wheel)).decode() == METADATA


async def test_truncated_wheel_is_refused_both_ways() -> None:
    wheel = build_wheel("demo-1.0-py3-none-any.whl", METADATA, padding=100_000)
    cut = wheel[: len(wheel) // 2]
    with pytest.raises(ArchiveError, match="end-of-central-directory"):
        await wheel_metadata_by_ranges(Ranges(cut))
    with pytest.raises(ArchiveError, match="not a readable wheel"):
        wheel_metadata_from_file(io.BytesIO(cut))


async def test_huge_central_directory_is_refused_without_reading_it() -> None:
    wheel = bytearray(build_wheel("demo-1.0-py3-none-any.whl", METADATA))
    eocd = wheel.rfind(b"PK\x05\x06")
    struct.pack_into("<I", wheel, eocd + 12, 0xFFFF_FFF0)  # claims a 4 GB directory
    fetch = Ranges(bytes(wheel))
    with pytest.raises(ArchiveError, match="central directory"):
        await wheel_metadata_by_ranges(fetch)
    assert len(fetch.reads) == 1


def _bomb() -> bytes:
    """METADATA that inflates far past the cap, with sizes in the directory that lie."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", b"A" * (MAX_METADATA * 4))
    data = bytearray(buffer.getvalue())
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 100)  # uncompressed size: "100 bytes"
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 100)
    return bytes(data)


async def test_member_bomb_is_cut_off_at_the_cap() -> None:
    bomb = _bomb()
    with pytest.raises(ArchiveError, match="larger than"):
        await wheel_metadata_by_ranges(Ranges(bomb))
    with pytest.raises(ArchiveError):
        wheel_metadata_from_file(io.BytesIO(bomb))


async def test_wheel_with_two_dist_info_directories_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a-1.0.dist-info/METADATA", METADATA)
        archive.writestr("b-1.0.dist-info/METADATA", METADATA)
    with pytest.raises(ArchiveError, match="more than one"):
        await wheel_metadata_by_ranges(Ranges(buffer.getvalue()))


STATIC = "Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: idna\n"
DYNAMIC = STATIC + "Dynamic: Requires-Dist\n"


@pytest.mark.parametrize("filename", ["demo-1.0.tar.gz", "demo-1.0.zip"])
def test_sdist_pkg_info_is_read_without_extracting(filename: str) -> None:
    assert sdist_pkg_info(build_sdist(filename, STATIC), filename).decode() == STATIC
    assert sdist_pkg_info(build_sdist(filename, DYNAMIC), filename).decode() == DYNAMIC


def test_sdist_member_outside_the_top_directory_is_not_taken() -> None:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in ("../PKG-INFO", "demo-1.0/sub/PKG-INFO", "/PKG-INFO"):
            info = tarfile.TarInfo(path)
            info.size = len(STATIC)
            archive.addfile(info, io.BytesIO(STATIC.encode()))
    with pytest.raises(ArchiveError, match="no PKG-INFO"):
        sdist_pkg_info(buffer.getvalue(), "demo-1.0.tar.gz")


def test_garbage_is_not_an_sdist() -> None:
    with pytest.raises(ArchiveError, match="not a readable sdist"):
        sdist_pkg_info(b"\x1f\x8b garbage", "demo-1.0.tar.gz")
