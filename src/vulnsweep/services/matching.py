"""The OSV schema's affected-version evaluation for PyPI, for local matching.

Per the spec: a version is affected when it is in an entry's `versions` list
(compared after PEP 440 normalisation), or when an ECOSYSTEM range's events, sorted
by version, leave it inside (`introduced` opens, `fixed` closes at the version,
`last_affected` closes after it) and below every `limit`. Versions that are not
PEP 440 are only matched as exact strings.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from vulnsweep.model import canonical_name, parsed_version_key, version_key

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=65536)
def parse(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@dataclass(frozen=True)
class Range:
    """One ECOSYSTEM range, events pre-parsed and sorted by the spec's order."""

    events: tuple[tuple[str, Version | None], ...]  # kind, version (None = "0")
    limits: tuple[Version | None, ...]  # None = "*"

    def contains(self, version: Version) -> bool:
        if self.limits and not any(limit is None or version < limit for limit in self.limits):
            return False
        affected = False
        for kind, at in self.events:
            if kind == "introduced":
                if at is None or version >= at:
                    affected = True
            elif kind == "fixed":
                if at is not None and version >= at:
                    affected = False
            elif kind == "last_affected" and at is not None and version > at:
                affected = False
        return affected


@dataclass(frozen=True)
class AffectedPackage:
    """One `affected[]` entry for one PyPI package, ready to evaluate."""

    versions: frozenset[str]  # version_key()s: PEP 440-equal versions compare equal
    ranges: tuple[Range, ...]

    def affects_key(self, key: str, version: Version | None) -> bool:
        """As `affects`, with the version's key already computed by the caller."""
        if key in self.versions:
            return True
        return version is not None and any(r.contains(version) for r in self.ranges)

    def affects(self, version_text: str, version: Version | None) -> bool:
        if version is None:
            return version_text.strip() in self.versions
        if parsed_version_key(version) in self.versions:
            return True
        return any(r.contains(version) for r in self.ranges)


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
    events: list[tuple[str, Version | None]] = []
    limits: list[Version | None] = []
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
            version = None
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
        if kind == "limit":
            limits.append(version)
        else:
            events.append((kind, version))
    if not events:
        return None
    events.sort(key=_event_order)
    return Range(tuple(events), tuple(limits))


def _event_order(event: tuple[str, Version | None]) -> tuple[int, Version | None]:
    _kind, version = event
    return (0, None) if version is None else (1, version)  # type: ignore[return-value]


def record_affects(compiled: Iterable[AffectedPackage], version_text: str) -> bool:
    version = parse(version_text)
    return any(entry.affects(version_text, version) for entry in compiled)
