"""From OSV records to per-package Vulnerabilities: fix versions and alias merging.

Every service (live OSV, PyPI, the offline database) ends here, so all of them give
the same answer for the same records.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from vulnsweep.advisories.severity import assess
from vulnsweep.model import Vulnerability, canonical_name, parse_version

OsvRecord = Mapping[str, Any]

log = logging.getLogger(__name__)

# OSV ids and aliases: a prefix and an identifier, no spaces or markup (PYSEC-2021-335,
# GHSA-qcx9-j53g-ccgf, CVE-2021-32807, BIT-django-2024-1, ...).
_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]{1,120}")
_warned: set[str] = set()


def malformed(record: Any) -> str | None:
    """Why a record cannot be trusted (a field this code reads has the wrong type or
    an id that is not an id), or None. A server is not trusted to send good data."""
    if not isinstance(record, Mapping):
        return "not a JSON object"
    record_id = record.get("id")
    if not isinstance(record_id, str) or not _ID.fullmatch(record_id):
        return f"id {str(record_id)[:40]!r} is not an advisory id"
    aliases = record.get("aliases")
    if aliases is not None and (
        not isinstance(aliases, list)
        or not all(isinstance(a, str) and _ID.fullmatch(a) for a in aliases)
    ):
        return "`aliases` is not a list of advisory ids"
    for key in ("modified", "summary", "details", "withdrawn"):
        if record.get(key) is not None and not isinstance(record[key], str):
            return f"`{key}` is not a string"
    for key in ("affected", "severity"):
        value = record.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value)
        ):
            return f"`{key}` is not a list of objects"
    for affected in record.get("affected") or ():
        if not isinstance(affected.get("package") or {}, Mapping):
            return "`affected[].package` is not an object"
        ranges = affected.get("ranges")
        if ranges is not None and (
            not isinstance(ranges, list) or not all(isinstance(r, Mapping) for r in ranges)
        ):
            return "`affected[].ranges` is not a list of objects"
        for range_ in ranges or ():
            events = range_.get("events")
            if events is not None and (
                not isinstance(events, list) or not all(isinstance(e, Mapping) for e in events)
            ):
                return "`ranges[].events` is not a list of objects"
    return None


def trusted(records: Iterable[Any]) -> list[OsvRecord]:
    """The records that pass `malformed`; each one left out is named, once per run."""
    out = []
    for record in records:
        why = malformed(record)
        if why is None:
            out.append(record)
            continue
        name = str(record.get("id"))[:60] if isinstance(record, Mapping) else "?"
        if name not in _warned:
            _warned.add(name)
            log.warning("ignoring malformed advisory record %r: %s", name, why)
    return out


# Which id of an alias group to report: PYSEC, then GHSA, then CVE, then the first.
_PREFERENCE = ("PYSEC-", "GHSA-", "CVE-")


def fix_versions(record: OsvRecord, package: str) -> list[str]:
    """The `fixed` events of the record's ECOSYSTEM ranges for this (canonical) package;
    a value that is not a PEP 440 version (a commit hash) is no version to upgrade to."""
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
                if (
                    isinstance(fixed, str)
                    and fixed not in fixes
                    and parse_version(fixed) is not None
                ):
                    fixes.append(fixed)
    return fixes


def sort_versions(versions: Iterable[str]) -> tuple[str, ...]:
    """PEP 440 order; strings that are not PEP 440 versions sort last, as text."""
    unique = set(versions)
    if len(unique) < 2:
        return tuple(unique)
    parsed = [(parse_version(v), v) for v in unique]
    valid = sorted((version, text) for version, text in parsed if version is not None)
    return (*(text for _, text in valid), *sorted(t for version, t in parsed if version is None))


def merge(records: Iterable[OsvRecord], package: str) -> list[Vulnerability]:
    """One Vulnerability per alias group among these records.

    Records whose alias sets are connected are one vulnerability, as osv-scanner groups
    them: listing each other, or merely sharing a third id (PYSEC-2021-335 and -370
    both alias GHSA-qcx9-j53g-ccgf), taken transitively. Reporting both would count
    one flaw twice and let an ignore of one id leave the other standing.
    """
    live = [r for r in trusted(records) if not r.get("withdrawn")]
    if not live:
        return []  # most pins: nothing to group
    parent: dict[str, str] = {}

    def find(i: str) -> str:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for record in live:
        root = find(str(record["id"]))
        for alias in record.get("aliases") or ():
            other = find(str(alias))
            if other != root:
                parent[other] = root
    groups: dict[str, list[OsvRecord]] = {}
    for record in live:
        groups.setdefault(find(str(record["id"])), []).append(record)
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
