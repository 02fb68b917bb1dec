"""The OSV schema's affected-version evaluation for PyPI, for local matching.

Per the spec: a version is affected when it is in an entry's `versions` list
(compared after PEP 440 normalisation), or when an ECOSYSTEM range's events, sorted
by version, leave it inside (`introduced` opens, `fixed` closes at the version,
`last_affected` closes after it) and below every `limit`. Versions that are not
PEP 440 are only matched as exact strings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from vulnsweep.advisories.records import Entry, advisory_of
from vulnsweep.model import parse_version, parsed_version_key, version_key

log = logging.getLogger(__name__)


parse = parse_version  # one cache of parsed versions for the whole run


# A version as a plain list that sorts exactly as packaging's Version does (epoch,
# release without trailing zeros, pre, post, dev, local), so ranges can be stored
# pre-compiled in the offline database and compared without parsing anything.
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}
_NO_DEV = 1 << 53  # a release without .devN sorts after all of its dev releases
SortKey = list[Any]


def sort_key(version: Version) -> SortKey:
    release = list(version.release)
    while release and release[-1] == 0:
        release.pop()
    if version.pre is not None:
        pre = [_PRE_RANK[version.pre[0]], version.pre[1]]
    elif version.post is None and version.dev is not None:
        pre = [-1, 0]  # 1.0.dev0 sorts before 1.0a1
    else:
        pre = [3, 0]
    local = (
        [[1, int(p), ""] if p.isdigit() else [0, 0, p] for p in version.local.split(".")]
        if version.local is not None
        else []
    )
    return [
        version.epoch,
        release,
        pre,
        -1 if version.post is None else version.post,
        _NO_DEV if version.dev is None else version.dev,
        local,
    ]


INTRODUCED, FIXED, LAST_AFFECTED = 0, 1, 2


def range_contains(events: list[list[Any]], limits: list[Any], key: SortKey) -> bool:
    """The spec's evaluation of one range, on compiled events (see Range)."""
    if limits and not any(limit is None or key < limit for limit in limits):
        return False
    affected = False
    for code, at in events:
        if code == INTRODUCED:
            if at is None or key >= at:
                affected = True
        elif code == FIXED:
            if at is not None and key >= at:
                affected = False
        elif at is not None and key > at:  # LAST_AFFECTED
            affected = False
    return affected


_EVENT_CODES = {"introduced": INTRODUCED, "fixed": FIXED, "last_affected": LAST_AFFECTED}


class Range:
    """One ECOSYSTEM range: events as [code, sort key or None ("0")] in the spec's
    order, limits as sort keys (None = "*")."""

    __slots__ = ("events", "limits")

    def __init__(self, events: list[list[Any]], limits: list[SortKey | None]) -> None:
        self.events = events
        self.limits = limits

    def contains(self, key: SortKey) -> bool:
        return range_contains(self.events, self.limits, key)

    def as_json(self) -> list[Any]:
        return [self.events, self.limits]

    @classmethod
    def from_json(cls, data: list[Any]) -> Range:
        return cls(data[0], data[1])


@dataclass(frozen=True)
class AffectedPackage:
    """One `affected[]` entry for one PyPI package, ready to evaluate."""

    versions: frozenset[str]  # version_key()s: PEP 440-equal versions compare equal
    ranges: tuple[Range, ...]

    def affects_key(self, key: str, version: SortKey | None) -> bool:
        """`key` is the version's version_key(), `version` its sort_key() (None when it
        is not PEP 440: then only the `versions` list can match it, as a string)."""
        if key in self.versions:
            return True
        return version is not None and any(r.contains(version) for r in self.ranges)

    def affects(self, version_text: str, version: Version | None) -> bool:
        if version is None:
            return version_text.strip() in self.versions
        return self.affects_key(parsed_version_key(version), sort_key(version))


def compile_affected(record: Any) -> dict[str, list[AffectedPackage]]:
    """Index a record's PyPI entries by canonical name, read leniently (see
    advisories.records): what cannot be read is in `Advisory.unreadable`."""
    advisory = advisory_of(record)
    out: dict[str, list[AffectedPackage]] = {}
    for name, entries in advisory.packages.items() if advisory else ():
        for entry in entries:
            versions = frozenset(version_key(v) for v in entry.versions)
            out.setdefault(name, []).append(AffectedPackage(versions, compile_ranges(entry)))
    return out


def compile_ranges(entry: Entry) -> tuple[Range, ...]:
    """An entry's readable ranges as sort keys, each in the spec's order."""
    out = []
    for raw in entry.ranges:
        events: list[list[Any]] = []
        limits: list[SortKey | None] = []
        for event in raw:
            if (event.kind == "introduced" and event.value == "0") or (
                event.kind == "limit" and event.value == "*"
            ):
                key = None
            else:
                version = parse(event.value)
                assert version is not None, "the reader only keeps PEP 440 events"
                key = sort_key(version)
            if event.kind == "limit":
                limits.append(key)
            else:
                events.append([_EVENT_CODES[event.kind], key])
        if events:
            # The spec's order: by version, "0" first; ties keep the given order.
            events.sort(key=lambda e: (e[1] is not None, e[1] or []))
            out.append(Range(events, limits))
    return tuple(out)


def record_affects(compiled: Iterable[AffectedPackage], version_text: str) -> bool:
    version = parse(version_text)
    return any(entry.affects(version_text, version) for entry in compiled)
