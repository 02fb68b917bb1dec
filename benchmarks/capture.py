"""Capture real index data for the resolution benchmark (run by hand, with network).

    python -m benchmarks.capture benchmarks/data/index benchmarks/data/*.in

For each input, `uv pip compile` (CPython 3.11, manylinux) says which projects and
releases a resolution reaches. For each such project this keeps every release from
three below the resolved one up to the newest (a resolver walks down from the top),
one CPython 3.11 / manylinux wheel per release (an sdist where there is none), and
each kept wheel's core metadata with the long description removed: from its PEP 658
file when the index serves one, else read out of the wheel by range requests. The
result is written as `<project>.json.gz` in the local index's format
(tests/servers/index.py serves it).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version
from tests.servers.capture_index import ACCEPT, best_wheel, strip_description

INDEX = "https://pypi.org/simple"
BELOW = 3  # releases kept under the resolved one


def resolved_pins(requirements: Path) -> dict[str, str]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "uv",
            "pip",
            "compile",
            str(requirements),
            "--index-url",
            INDEX,
            "--python-version",
            "3.11",
            "--python-platform",
            "x86_64-manylinux_2_28",
            "--no-header",
            "--no-annotate",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pins = {}
    for line in out.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (ValueError, InvalidVersion):
        return None


async def capture(session: object, name: str, resolved: str, out: Path) -> None:
    import aiohttp

    from vulnsweep.index.archives import ArchiveError, wheel_metadata_by_ranges

    assert isinstance(session, aiohttp.ClientSession)
    async with session.get(f"{INDEX}/{name}/", headers={"Accept": ACCEPT}) as response:
        page = await response.json(content_type=None)
    by_version: dict[Version, list[dict]] = {}
    for f in page["files"]:
        version = version_of(f["filename"])
        if version is not None and not f["filename"].endswith(".egg"):
            by_version.setdefault(version, []).append(f)
    ordered = sorted(by_version, reverse=True)
    floor = Version(resolved)
    below = [v for v in ordered if v < floor][:BELOW]
    keep = [v for v in ordered if v >= floor] + below
    files, metadata = [], {}

    async def read(f: dict) -> None:
        async def fetch(start: int, end: int | None) -> tuple[bytes, int]:
            spec = f"bytes={start}" if start < 0 else f"bytes={start}-{(end or 0) - 1}"
            async with session.get(f["url"], headers={"Range": spec}) as answer:
                data = await answer.read()
                total = int(answer.headers["Content-Range"].rsplit("/", 1)[1])
                return data, total

        try:
            async with session.get(f["url"] + ".metadata") as answer:
                if answer.status == 200:
                    metadata[f["filename"]] = strip_description((await answer.read()).decode())
                    return
            text = (await wheel_metadata_by_ranges(fetch)).decode("utf-8", "replace")
            metadata[f["filename"]] = strip_description(text)
        except (ArchiveError, aiohttp.ClientError, KeyError, ValueError) as exc:
            print(f"  {f['filename']}: no metadata ({exc})", file=sys.stderr)

    chosen = []
    for version in keep:
        wheel = best_wheel(by_version[version])
        sdist = next(
            (f for f in by_version[version] if f["filename"].endswith((".tar.gz", ".zip"))), None
        )
        if wheel is not None:
            chosen.append(wheel)
        elif sdist is not None:
            chosen.append(sdist)
    await asyncio.gather(*(read(f) for f in chosen if f["filename"].endswith(".whl")))
    for f in chosen:
        files.append(
            {
                "filename": f["filename"],
                "hashes": f["hashes"],
                "requires-python": f.get("requires-python"),
                "yanked": f.get("yanked", False),
            }
        )
    record = {
        "name": canonicalize_name(page["name"]),
        "source": f"{INDEX}/{name}/",
        "files": sorted(files, key=lambda f: version_of(f["filename"]) or Version("0")),
        "metadata": metadata,
    }
    target = out / f"{record['name']}.json.gz"
    target.write_bytes(gzip.compress(json.dumps(record, sort_keys=True).encode(), mtime=0))
    print(f"{name}: {len(files)} releases, {len(metadata)} metadata files", file=sys.stderr)


async def main_async(out: Path, inputs: list[Path]) -> None:
    import aiohttp

    wanted: dict[str, str] = {}
    for requirements in inputs:
        for name, version in resolved_pins(requirements).items():
            if name not in wanted or Version(version) < Version(wanted[name]):
                wanted[name] = version
    out.mkdir(parents=True, exist_ok=True)
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as session:
        limit = asyncio.Semaphore(8)

        async def one(name: str, version: str) -> None:
            async with limit:
                await capture(session, name, version, out)

        await asyncio.gather(*(one(n, v) for n, v in sorted(wanted.items())))


if __name__ == "__main__":
    asyncio.run(main_async(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
