"""Physical lines -> logical lines, pip's way: backslash continuations, comments
(`#` after whitespace, and a comment line never continues), `${VAR}` expansion.
Plain pins are recorded on the way, without the general machinery: most lines of a
pinned file are `name==version`, and a 100,000-line monorepo stays well under a second."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from vulnsweep.errors import InputError
from vulnsweep.model import Origin, canonical_name
from vulnsweep.sources.requirements.pep508 import HASHED_PIN, SIMPLE_PIN
from vulnsweep.sources.requirements.state import Entry, FileState
from vulnsweep.sources.text import read_bytes

COMMENT = re.compile(r"(^|\s+)#.*$")

ENV_VAR = re.compile(r"\$\{(?P<var>[A-Z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    text: str


def scan(text: str, path: str, state: FileState, constraint: bool) -> Iterator[Line]:
    """Record plain `name==version` lines directly; yield the rest, joined and
    stripped of comments, for full parsing.

    Most lines of a pinned file are plain pins; handling them here without the
    general machinery keeps a 100,000-line monorepo well under a second.
    """
    match = SIMPLE_PIN.match
    target = state.requirements
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            simple = match(raw)
            if simple is not None:
                if constraint:
                    name = simple["name"]
                    key = canonical_name(name)
                    if key not in state.constraints:
                        state.constraints[key] = Entry(
                            Origin(path, number),
                            raw,
                            [],
                            name=name,
                            pinned_version=simple["version"],
                        )
                    state.constraint_lines.append((raw.strip(), path, number))
                else:
                    name, version = simple.group("name", "version")
                    target.append((name, version, path, number, simple.start("version"), False))
                continue
            start = number
            # pip: a comment line ending in a backslash does not continue.
            if raw.lstrip().startswith("#"):
                continue
        if raw.endswith("\\"):
            # pip's rule: any trailing backslash continues the line, and every
            # backslash at either end of it is dropped (`bar == 4.5\\` + `.6`).
            buffer.append(raw.strip("\\"))
            continue
        continued = bool(buffer)
        if buffer:
            buffer.append(raw)
            raw = "".join(buffer)
            buffer = []
        line = strip_comment(raw)
        if not line:
            continue
        plain = match(line) or (None if constraint else HASHED_PIN.match(line))
        if plain is not None and not constraint:
            # Where the version sits on the physical line (unknown once lines are joined).
            column = None if continued else len(raw) - len(raw.lstrip()) + plain.start("version")
            hashed = plain.re is HASHED_PIN
            target.append((plain["name"], plain["version"], path, start, column, hashed))
            continue
        yield Line(start, expand_env(line))
    if buffer:
        line = strip_comment("".join(buffer))
        if line:
            yield Line(start, expand_env(line))


def strip_comment(line: str) -> str:
    return (COMMENT.sub("", line) if "#" in line else line).strip()


def expand_env(line: str) -> str:
    if "${" not in line:
        return line
    return ENV_VAR.sub(lambda m: os.environ.get(m["var"], m.group(0)), line)


def read_requirements_bytes(path: str) -> bytes:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a requirements file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def file_identity(path: str) -> str:
    """Device and inode: one stat call, and symlinks or hard links to one file agree."""
    try:
        info = os.stat(path)
    except OSError:
        return os.path.abspath(path)
    return f"{info.st_dev}:{info.st_ino}"
