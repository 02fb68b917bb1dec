"""Decoding input files: one clear error for binary or non-UTF-8 content."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vulnsweep.errors import InputError


def read_text(path: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise InputError(path, "is a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(path, f"is not valid UTF-8 (byte offset {exc.start})", line) from None
    return text[1:] if text.startswith("\ufeff") else text


_prefetched: dict[str, Future[bytes]] = {}


def prefetch(paths: Iterable[Path], workers: int = 2) -> None:
    """Start reading these files on a few threads: a tree walk's I/O overlaps with
    parsing (which matters on network filesystems; the local page cache barely notices).
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vulnsweep-read")
    for path in paths:
        _prefetched[str(path)] = pool.submit(path.read_bytes)
    pool.shutdown(wait=False)


def read_bytes(path: str) -> bytes:
    """The file's bytes, from a prefetch when one was started (errors re-raised)."""
    future = _prefetched.pop(path, None)
    if future is not None:
        return future.result()
    with open(path, "rb") as handle:  # works for FIFOs such as <(cmd) too
        return handle.read()


def read_file(path: Path) -> str:
    """A whole input file as text, or one InputError naming it."""
    try:
        data = read_bytes(str(path))
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a file") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return read_text(str(path), data)


def parse_toml(path: str, text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        located = re.search(r"\(at line (\d+)", str(exc))
        line = int(located[1]) if located else getattr(exc, "lineno", None)
        message = str(exc).split(" (at ")[0]
        raise InputError(path, f"invalid TOML: {message}", line) from None
