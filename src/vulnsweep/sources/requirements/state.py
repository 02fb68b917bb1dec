"""What reading a requirements file (and its includes) accumulates before pins and
constraints are settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from vulnsweep.model import Origin, SkippedDependency

if TYPE_CHECKING:
    from packaging.requirements import Requirement


@dataclass
class Entry:
    """A parsed requirement line before pins and constraints are settled."""

    origin: Origin
    text: str
    hashes: list[str]
    requirement: Requirement | None = None
    name: str = ""
    pinned_version: str | None = None


@dataclass(frozen=True, slots=True)
class Include:
    """Where the include walk is: the files being read (outermost first, to stop a
    cycle) and whether this file arrived through -c (its pins only constrain)."""

    chain: tuple[str, ...] = ()
    constraint: bool = False


@dataclass
class FileState:
    # Plain pins as (name, version, path, line, column of the version, hash-pinned)
    # tuples; everything else as Entry.
    requirements: list[Entry | tuple[str, str, str, int, int | None, bool]] = field(
        default_factory=list
    )
    constraints: dict[str, Entry] = field(default_factory=dict)
    # Every constraint as (text, path, line), should the file need resolving.
    constraint_lines: list[tuple[str, str, int | None]] = field(default_factory=list)
    skipped: list[SkippedDependency] = field(default_factory=list)
    require_hashes: bool = False
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    pre: bool = False
    unpinned: bool = False  # some requirement is not an exact pin
    visited: set[str] = field(default_factory=set)  # files read, by identity


def entries(state: FileState) -> int:
    return (
        len(state.requirements)
        + len(state.constraints)
        + len(state.constraint_lines)
        + len(state.skipped)
    )


def allows(entry: Entry, version: str) -> bool:
    if entry.requirement is None:
        return True
    return entry.requirement.specifier.contains(version, prereleases=True)


class FileReader(Protocol):
    """What an include line (-r/-c) needs of the walker: read one more file into the
    same state. A protocol, so option lines never import the walker that calls them."""

    def read_file(self, target: str, state: FileState, at: Include) -> None: ...
