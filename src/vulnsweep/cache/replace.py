"""A file replaced whole or not at all: written under a temporary name beside it, then
renamed over it; anything that fails on the way leaves the old file as it was."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replaced(target: Path, *, prefix: str, copy: bool = False) -> Iterator[Path]:
    """The temporary path to write; on a clean exit it becomes `target`. With `copy`,
    it starts as a copy of the current file (an update of part of it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        if copy and target.exists():
            temp.write_bytes(target.read_bytes())
        yield temp
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
