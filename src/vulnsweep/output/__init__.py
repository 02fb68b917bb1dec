"""Writers: one per format, each rendering an AuditResult to a binary stream.

Reports go to stdout or to `-o FILE`; a file is written to a temporary sibling and
renamed into place, so it is never seen half-written (not even after Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from vulnsweep.model import AuditResult

FORMATS = ("columns", "json", "markdown", "ndjson", "sarif", "cyclonedx-json", "cyclonedx-xml")


@dataclass(frozen=True)
class OutputOptions:
    desc: bool
    aliases: bool
    cyclonedx_version: str = "1.6"
    hyperlinks: bool = False  # OSC-8 links in columns: only on a terminal, never in CI


def pypi_url(name: str) -> str:
    return f"https://pypi.org/project/{name}"


class Writer(Protocol):
    def write(self, result: AuditResult, stream: BinaryIO) -> None: ...


def writer_for(fmt: str, options: OutputOptions) -> Writer:
    """Import only the writer asked for: start-up stays cheap."""
    if fmt == "json":
        from vulnsweep.output.json import JsonWriter

        return JsonWriter(options)
    if fmt == "markdown":
        from vulnsweep.output.markdown import MarkdownWriter

        return MarkdownWriter(options)
    if fmt == "ndjson":
        from vulnsweep.output.ndjson import NdjsonWriter

        return NdjsonWriter(options)
    if fmt == "sarif":
        from vulnsweep.output.sarif import SarifWriter

        return SarifWriter(options)
    if fmt.startswith("cyclonedx-"):
        from vulnsweep.output.cyclonedx import CycloneDxWriter

        return CycloneDxWriter(options, xml=fmt.endswith("xml"))
    from vulnsweep.output.columns import ColumnsWriter

    return ColumnsWriter(options)


def resolve_toggle(value: str, fmt: str) -> bool:
    """pip-audit's on/off/auto: `auto` means on for JSON, off for columns."""
    if value == "auto":
        return fmt == "json"
    return value == "on"


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[BinaryIO]:
    """A regular file (through any symlink) is replaced whole, with the mode a new file
    gets from the umask (or the old file's mode); a device or FIFO (`/dev/stdout`,
    `/dev/null`, a pipe) is written through, never replaced."""
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    import stat
    import tempfile

    from vulnsweep.errors import UsageError

    target = os.path.realpath(path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise UsageError(f"-o {path}: {exc.strerror}") from None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise UsageError(f"-o {path}: is a directory")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        try:
            with open(target, "wb") as handle:
                yield handle
        except OSError as exc:
            raise UsageError(f"-o {path}: {exc.strerror}") from None
        return
    directory = os.path.dirname(target)
    try:
        fd, temp = tempfile.mkstemp(prefix=".vulnsweep-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot write in {directory} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~_umask())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
