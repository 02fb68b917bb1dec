"""Dependency sources: each reads one kind of input and yields what it pins.

Every source yields Dependency (auditable pin) or SkippedDependency (with a reason);
`deduplicate` merges pins of the same (name, version) across all sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from vulnsweep.model import Dependency, Origin, SkippedDependency, canonical_name, version_key

Collected = Dependency | SkippedDependency


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
        from vulnsweep.errors import InputError
        from vulnsweep.model import Origin

        try:
            yield from self.source.collect()
        except InputError as exc:
            yield SkippedDependency(
                name=self.label, reason=str(exc), origins=(Origin(exc.path, exc.line),)
            )


def deduplicate(
    items: Iterable[Collected],
) -> tuple[list[Dependency], list[SkippedDependency]]:
    """Merge pins by (PEP 503 name, PEP 440 version), keeping first-seen order and all
    origins. Linear in the number of pins: a monorepo repeats the same pin thousands of
    times."""
    first: dict[tuple[str, str], Dependency] = {}
    more: dict[tuple[str, str], list[Origin]] = {}
    skipped: list[SkippedDependency] = []
    for item in items:
        if type(item) is SkippedDependency:
            skipped.append(item)
            continue
        assert isinstance(item, Dependency)
        key = (canonical_name(item.name), version_key(item.version))
        if key not in first:
            first[key] = item
        elif key in more:
            more[key].extend(item.origins)
        else:
            more[key] = list(item.origins)
    merged = []
    for key, dep in first.items():
        extra = more.get(key)
        if extra is None:
            merged.append(dep)
        else:
            origins = tuple(dict.fromkeys((*dep.origins, *extra)))
            merged.append(Dependency(dep.name, dep.version, origins))
    return merged, skipped
