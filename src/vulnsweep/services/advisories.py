"""From OSV records to per-package Vulnerabilities: fix versions and alias merging.

Every service (live OSV, PyPI, the offline database) ends here, so all of them give
the same answer for the same records.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from vulnsweep.model import Vulnerability, canonical_name
from vulnsweep.policy.severity import assess

OsvRecord = Mapping[str, Any]

# Which id of an alias group to report: PYSEC, then GHSA, then CVE, then the first.
_PREFERENCE = ("PYSEC-", "GHSA-", "CVE-")


def fix_versions(record: OsvRecord, package: str) -> list[str]:
    """The `fixed` events of the record's ECOSYSTEM ranges for this (canonical) package."""
    fixes: list[str] = []
    for affected in record.get("affected") or ():
        pkg = affected.get("package") or {}
        if pkg.get("ecosystem") != "PyPI" or canonical_name(str(pkg.get("name", ""))) != package:
            continue
        for range_ in affected.get("ranges") or ():
            if range_.get("type") != "ECOSYSTEM":
                continue
            for event in range_.get("events") or ():
                fixed = event.get("fixed")
                if isinstance(fixed, str) and fixed not in fixes:
                    fixes.append(fixed)
    return fixes


def sort_versions(versions: Iterable[str]) -> tuple[str, ...]:
    """PEP 440 order; strings that are not PEP 440 versions sort last, as text."""
    unique = set(versions)
    if len(unique) < 2:
        return tuple(unique)
    valid = sorted((v for v in unique if _parse(v) is not None), key=_parse)  # type: ignore[arg-type,return-value]
    return (*valid, *sorted(v for v in unique if _parse(v) is None))


@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        return None


def merge(records: Iterable[OsvRecord], package: str) -> list[Vulnerability]:
    """One Vulnerability per alias group among these records.

    Two records are one vulnerability when either lists the other's id in `aliases`
    (the relation is symmetric, and taken transitively). Records that merely share a
    third alias stay separate: the PyPA data has distinct CVEs that share a GHSA id,
    and folding them together would hide one of them from counts and ignores.
    """
    live = [r for r in records if not r.get("withdrawn")]
    by_id = {str(r["id"]): r for r in live}
    parent: dict[str, str] = {i: i for i in by_id}

    def find(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for record in live:
        for alias in record.get("aliases") or ():
            if alias in parent:
                parent[find(alias)] = find(str(record["id"]))
    groups: dict[str, list[OsvRecord]] = {}
    for record_id, record in by_id.items():
        groups.setdefault(find(record_id), []).append(record)
    return sorted((_combine(group, package) for group in groups.values()), key=lambda v: v.id)


def _primary(ids: list[str]) -> str:
    for prefix in _PREFERENCE:
        matching = sorted(i for i in ids if i.startswith(prefix))
        if matching:
            return matching[0]
    return ids[0]


def _combine(group: list[OsvRecord], package: str) -> Vulnerability:
    ids = [str(r["id"]) for r in group]
    primary_id = _primary(ids)
    primary = next(r for r in group if r["id"] == primary_id)
    aliases: list[str] = []
    for record in group:
        for alias in (record["id"], *(record.get("aliases") or ())):
            if alias != primary_id and alias not in aliases:
                aliases.append(str(alias))
    fixes: list[str] = []
    for record in group:
        fixes.extend(fix_versions(record, package))
    severity, score, vector = assess(group)
    return Vulnerability(
        id=primary_id,
        aliases=tuple(sorted(aliases)),
        summary=primary.get("summary"),
        details=primary.get("details"),
        fix_versions=sort_versions(fixes),
        modified=primary.get("modified"),
        severity=severity,
        score=score,
        vector=vector,
    )
