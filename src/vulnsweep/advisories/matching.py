"""The OSV schema's affected-version evaluation for PyPI, for local matching.

Per the spec: a version is affected when it is in an entry's `versions` list
(compared after PEP 440 normalisation), or when an ECOSYSTEM range's events, sorted
by version, leave it inside (`introduced` opens, `fixed` closes at the version,
`last_affected` closes after it) and below every `limit`. Versions that are not
PEP 440 are only matched as exact strings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from vulnsweep.model import canonical_name, parse_version, parsed_version_key, version_key

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


def compile_affected(record: Mapping[str, Any]) -> dict[str, list[AffectedPackage]]:
    """Index a record's PyPI entries by canonical name; malformed parts are skipped."""
    out: dict[str, list[AffectedPackage]] = {}
    for entry in record.get("affected") or ():
        if not isinstance(entry, Mapping):
            continue
        package = entry.get("package") or {}
        if not isinstance(package, Mapping) or package.get("ecosystem") != "PyPI":
            continue
        name = canonical_name(str(package.get("name", "")))
        versions = frozenset(
            version_key(v) for v in entry.get("versions") or () if isinstance(v, str)
        )
        ranges = tuple(
            r
            for r in (_compile_range(record, raw) for raw in entry.get("ranges") or ())
            if r is not None
        )
        out.setdefault(name, []).append(AffectedPackage(versions, ranges))
    return out


def compile_ranges(record_id: str, raws: Any) -> tuple[Range, ...]:
    stub = {"id": record_id}
    return tuple(r for r in (_compile_range(stub, raw) for raw in raws) if r is not None)


def _compile_range(record: Mapping[str, Any], raw: Any) -> Range | None:
    if not isinstance(raw, Mapping) or raw.get("type") != "ECOSYSTEM":
        return None
    events: list[list[Any]] = []
    limits: list[SortKey | None] = []
    for event in raw.get("events") or ():
        if not isinstance(event, Mapping) or len(event) != 1:
            log.warning("%s: malformed range event %r skipped", record.get("id"), event)
            continue
        ((kind, text),) = event.items()
        if kind not in ("introduced", "fixed", "last_affected", "limit") or not isinstance(
            text, str
        ):
            log.warning("%s: malformed range event %r skipped", record.get("id"), event)
            continue
        if (kind == "introduced" and text == "0") or (kind == "limit" and text == "*"):
            key = None
        else:
            version = parse(text)
            if version is None:
                log.warning(
                    "%s: range event %s=%r is not a PEP 440 version; skipped",
                    record.get("id"),
                    kind,
                    text,
                )
                continue
            key = sort_key(version)
        if kind == "limit":
            limits.append(key)
        else:
            events.append([_EVENT_CODES[kind], key])
    if not events:
        return None
    # The spec's order: by version, "0" first; ties keep the given order (stable sort).
    events.sort(key=lambda event: (event[1] is not None, event[1] or []))
    return Range(events, limits)


def record_affects(compiled: Iterable[AffectedPackage], version_text: str) -> bool:
    version = parse(version_text)
    return any(entry.affects(version_text, version) for entry in compiled)
