"""Dependency sources: each reads one kind of input and yields what it pins.

Every source yields Dependency (auditable pin) or SkippedDependency (with a reason);
`deduplicate` merges pins of the same (name, version) across all sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from vulnsweep.model import (
    Dependency,
    Origin,
    ResolutionRequest,
    SkippedDependency,
    canonical_name,
    version_key,
)


@dataclass(frozen=True, slots=True)
class PinBatch:
    """Many plain `name==version` pins at once, as (name, version, path, line, column)
    rows (column: where the version starts on its line).

    A monorepo tree holds hundreds of thousands of pin lines but few distinct pins;
    passing them compactly lets `deduplicate` skip building an object per line.
    """

    rows: list[tuple[str, str, str, int, int | None]]

    def dependencies(self) -> Iterator[Dependency]:
        for name, version, path, line, column in self.rows:
            yield Dependency(name, version, (Origin(path, line, column),))


Collected = Dependency | SkippedDependency | PinBatch | ResolutionRequest


class DependencySource(Protocol):
    def collect(self) -> Iterator[Collected]: ...


class ChainSource:
    """Several sources read as one (e.g. every lock file of a project)."""

    def __init__(self, sources: Iterable[DependencySource]) -> None:
        self.sources = list(sources)

    def collect(self) -> Iterator[Collected]:
        for source in self.sources:
            yield from source.collect()


class TolerantSource:
    """In a tree walk one broken file must not hide the others: its error becomes a
    skipped entry naming the file (fatal again under --strict)."""

    def __init__(self, source: DependencySource, label: str) -> None:
        self.source = source
        self.label = label

    def collect(self) -> Iterator[Collected]:
        from dataclasses import replace

        from vulnsweep.errors import InputError
        from vulnsweep.model import Origin

        try:
            for item in self.source.collect():
                yield replace(item, tolerant=True) if type(item) is ResolutionRequest else item
        except InputError as exc:
            yield SkippedDependency(
                name=self.label,
                reason=str(exc),
                origins=(Origin(exc.path, exc.line),),
                error=True,
            )


# No release of any index has a version or name near these lengths; past them a pin is
# an input error (a 5,000-digit version cannot even be compared: int() refuses it).
MAX_VERSION = 128
MAX_NAME = 256


def _unusable(dep: Dependency) -> SkippedDependency:
    what = "version" if len(dep.version) > MAX_VERSION else "name"
    value = dep.version if what == "version" else dep.name
    return SkippedDependency(
        name=dep.name[:80],
        reason=f"{dep.origins[0] if dep.origins else '?'}: the {what} {value[:40]!r}... is "
        f"{len(value)} characters long: not a {what} any index can hold",
        origins=dep.origins[:1],
        error=True,
    )


def deduplicate(
    items: Iterable[Collected],
    requests: list[ResolutionRequest] | None = None,
) -> tuple[list[Dependency], list[SkippedDependency]]:
    """Merge pins by (PEP 503 name, PEP 440 version), keeping first-seen order and all
    origins (and dependency paths). Linear in the number of pins: a monorepo repeats
    the same pin thousands of times. Requirement sets that need resolving are set
    aside in `requests`."""
    first: dict[tuple[str, str], Dependency] = {}
    # Further origins as plain (path, line) tuples: hashing those is C-fast, and a
    # tree repeats each pin thousands of times.
    more: dict[tuple[str, str], list[tuple[str, int | None, int | None]]] = {}
    more_paths: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    skipped: list[SkippedDependency] = []
    keys: dict[tuple[str, str], tuple[str, str]] = {}  # as written -> normalised
    for item in items:
        if type(item) is PinBatch:
            for name, version, path, line, column in item.rows:
                key = keys.get((name, version))
                if key is None:
                    key = keys[(name, version)] = (canonical_name(name), version_key(version))
                if key not in first:
                    first[key] = Dependency(name, version, (Origin(path, line, column),))
                elif key in more:
                    more[key].append((path, line, column))
                else:
                    more[key] = [(path, line, column)]
            continue
        if type(item) is SkippedDependency:
            skipped.append(item)
            continue
        if type(item) is ResolutionRequest:
            if requests is None:
                raise TypeError("a resolution request needs somewhere to go")
            requests.append(item)
            continue
        assert isinstance(item, Dependency)
        key = (canonical_name(item.name), version_key(item.version))
        if key not in first:
            first[key] = item
            continue
        more.setdefault(key, []).extend((o.path, o.line, o.column) for o in item.origins)
        if item.paths:
            more_paths.setdefault(key, []).extend(item.paths)
    merged = []
    for key, dep in first.items():
        if len(dep.version) > MAX_VERSION or len(dep.name) > MAX_NAME:
            skipped.append(_unusable(dep))
            continue
        extra = more.get(key)
        if extra is None:
            merged.append(dep)
        else:
            seen: dict[tuple[str, int | None], int | None] = {}
            for where in [(o.path, o.line, o.column) for o in dep.origins] + extra:
                seen.setdefault(where[:2], where[2])
            origins = tuple(Origin(at[0], at[1], col) for at, col in seen.items())
            paths = tuple(dict.fromkeys((*dep.paths, *more_paths.get(key, ()))))
            merged.append(Dependency(dep.name, dep.version, origins, paths))
    return merged, skipped
