"""From OSV records to per-package Vulnerabilities: a lenient reader, fix versions and
alias merging.

Every service (live OSV, PyPI, the offline database, the cache, the run history) ends
here, so all of them give the same answer for the same records.

Read leniently, decide strictly: each field is checked where it is used, never the
record as a whole. A field that cannot be read is dropped with one warning naming the
record and the field, and the advisory is still reported with what can be read. Only
the fields that decide whether a version is affected (`affected[].package`, `ranges`,
`versions`) are decisive: where those cannot be read, `Advisory.unreadable` says for
which package (None: for a package that cannot be named), so a local matcher reports
such pins as not audited instead of guessing "not affected".
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vulnsweep.advisories.severity import assess
from vulnsweep.model import Vulnerability, canonical_name, parse_version

OsvRecord = Mapping[str, Any]

log = logging.getLogger(__name__)

# OSV ids and aliases: a prefix and an identifier, no spaces or markup (PYSEC-2021-335,
# GHSA-qcx9-j53g-ccgf, CVE-2021-32807, BIT-django-2024-1, ...).
ADVISORY_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]{1,120}")
_ALIAS_SEPARATORS = re.compile(r"[\s,;]+")
MAX_ID = 200
EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
RANGE_TYPES = ("ECOSYSTEM", "SEMVER", "GIT")  # the schema's enum; GIT names commits
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # one of EVENT_KINDS
    value: str  # "0" (introduced) and "*" (limit) are the schema's sentinels


@dataclass(frozen=True, slots=True)
class Entry:
    """The readable part of one `affected[]` entry for one PyPI package."""

    versions: tuple[str, ...] = ()
    ranges: tuple[tuple[Event, ...], ...] = ()  # ECOSYSTEM (and SEMVER) ranges only


@dataclass(frozen=True, slots=True)
class Advisory:
    """One OSV record as far as it can be read; see the module docstring."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str | None = None
    details: str | None = None
    modified: str | None = None
    withdrawn: bool = False
    vectors: tuple[tuple[str, str], ...] = ()  # (type, score) from every severity list
    stated_severity: str | None = None  # database_specific.severity (GHSA's words)
    packages: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    unreadable: dict[str | None, str] = field(default_factory=dict)


# Building the offline database reads every record: its damage is summed up there in
# one line, and each pin it touches is named when audited, so each field is only logged.
quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("quiet", default=False)


def _warn(record_id: str, where: str, why: str, *, salvaged: bool = False) -> None:
    """One line per record and field per run: a damaged export must not flood stderr."""
    if (record_id, where) in _warned:
        return
    _warned.add((record_id, where))
    level = logging.INFO if salvaged or quiet.get() else logging.WARNING
    log.log(level, "advisory %s: %s %s", record_id[:MAX_ID], where, why)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_advisory(raw: Any, expected_id: str | None = None) -> Advisory | None:
    """A lenient reading of one record; None only when it has no id at all (neither
    its own nor `expected_id`, the id it was fetched or filed under)."""
    if not isinstance(raw, dict):
        return None
    record_id = raw.get("id")
    if isinstance(record_id, str) and 0 < len(record_id.strip()) <= MAX_ID:
        record_id = record_id.strip()
    elif expected_id:
        _warn(expected_id, "`id`", f"{_shown(record_id)} is not an id; read as {expected_id}")
        record_id = expected_id
    else:
        return None
    text = {}
    for key in ("summary", "details", "modified"):
        value = raw.get(key)
        if value is None or isinstance(value, str):
            text[key] = value
        else:
            _warn(record_id, f"`{key}`", f"{_shown(value)} is not a string; dropped")
            text[key] = None
    withdrawn = raw.get("withdrawn")
    if withdrawn is not None and not isinstance(withdrawn, str):
        # Withdrawal hides an advisory: only the schema's timestamp may do that.
        _warn(record_id, "`withdrawn`", f"{_shown(withdrawn)} is not a timestamp; ignored")
        withdrawn = None
    packages, unreadable, entry_vectors = _read_affected(record_id, raw.get("affected"))
    stated = raw.get("database_specific")
    if stated is not None and not isinstance(stated, dict):
        _warn(record_id, "`database_specific`", f"{_shown(stated)} is not an object; dropped")
        stated = None
    severity = (stated or {}).get("severity")
    return Advisory(
        id=record_id,
        aliases=_read_aliases(record_id, raw.get("aliases")),
        summary=text["summary"],
        details=text["details"],
        modified=text["modified"],
        withdrawn=bool(withdrawn),
        vectors=(*_read_vectors(record_id, "`severity`", raw.get("severity")), *entry_vectors),
        stated_severity=severity if isinstance(severity, str) else None,
        packages=packages,
        unreadable=unreadable,
    )


def _read_aliases(record_id: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        _warn(record_id, "`aliases`", "is a string, not a list; read as a list", salvaged=True)
        raw = [raw]
    elif not isinstance(raw, list):
        _warn(record_id, "`aliases`", f"{_shown(raw)} is not a list; dropped")
        return ()
    out: list[str] = []
    for position, alias in enumerate(raw):
        where = f"`aliases[{position}]`"
        if not isinstance(alias, str):
            _warn(record_id, where, f"{_shown(alias)} is not a string; dropped")
            continue
        parts = [p for p in _ALIAS_SEPARATORS.split(alias) if p]
        good = [p for p in parts if ADVISORY_ID.fullmatch(p) and p != record_id]
        if parts != [alias]:
            _warn(record_id, where, f"{_shown(alias)} read as {good}", salvaged=bool(good))
        elif not good and alias != record_id:
            _warn(record_id, where, f"{_shown(alias)} is not an advisory id; dropped")
        out.extend(p for p in good if p not in out)
    return tuple(out)


def _read_vectors(record_id: str, where: str, raw: Any) -> list[tuple[str, str]]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        _warn(record_id, where, "is an object, not a list; read as a list", salvaged=True)
        raw = [raw]
    if not isinstance(raw, list):
        _warn(record_id, where, f"{_shown(raw)} is not a list; dropped")
        return []
    out = []
    for position, entry in enumerate(raw):
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("type"), str)
            and isinstance(entry.get("score"), str)
        ):
            out.append((entry["type"], entry["score"]))
        else:
            _warn(record_id, f"{where}[{position}]", f"{_shown(entry)} is unreadable; dropped")
    return out


def _read_affected(
    record_id: str, raw: Any
) -> tuple[dict[str, tuple[Entry, ...]], dict[str | None, str], list[tuple[str, str]]]:
    packages: dict[str, list[Entry]] = {}
    unreadable: dict[str | None, str] = {}
    vectors: list[tuple[str, str]] = []
    if raw is None:
        return {}, {}, []
    if isinstance(raw, dict):
        _warn(record_id, "`affected`", "is an object, not a list; read as a list", salvaged=True)
        raw = [raw]
    if not isinstance(raw, list):
        unreadable[None] = f"`affected` {_shown(raw)} is not a list"
        _warn(record_id, "`affected`", f"{_shown(raw)} is not a list: it cannot be matched")
        return {}, unreadable, []
    for position, entry in enumerate(raw):
        where = f"`affected[{position}]`"
        package = entry.get("package") if isinstance(entry, dict) else None
        ecosystem = package.get("ecosystem") if isinstance(package, dict) else None
        name = package.get("name") if isinstance(package, dict) else None
        if isinstance(ecosystem, str) and ecosystem.lower() != "pypi":
            continue  # another ecosystem's entry: nothing to read for Python
        if not isinstance(name, str) or not name.strip() or not isinstance(ecosystem, str):
            why = f"{where} names no package ({_shown(package if package else entry)})"
            unreadable.setdefault(None, why)
            _warn(record_id, where, "names no package: it cannot be matched")
            continue
        assert isinstance(entry, dict)
        canonical = canonical_name(name.strip())
        versions, ranges, broken = _read_entry(record_id, where, entry)
        if broken is not None:
            unreadable.setdefault(canonical, broken)
        packages.setdefault(canonical, []).append(Entry(versions, ranges))
        vectors += _read_vectors(record_id, f"{where}.severity", entry.get("severity"))
    return {k: tuple(v) for k, v in packages.items()}, unreadable, vectors


def _read_entry(
    record_id: str, where: str, entry: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[tuple[Event, ...], ...], str | None]:
    """(versions, evaluable ranges, why part of the entry cannot be read or None)."""
    broken: str | None = None

    def fail(at: str, why: str) -> None:
        nonlocal broken
        broken = broken or f"{at} {why}"
        _warn(record_id, at, f"{why}: the package cannot be fully matched")

    versions: list[str] = []
    raw_versions = entry.get("versions")
    if raw_versions is not None and not isinstance(raw_versions, list):
        fail(f"{where}.versions", f"{_shown(raw_versions)} is not a list")
    if isinstance(raw_versions, list) and set(map(type, raw_versions)) <= {str}:
        versions = raw_versions  # the common case, checked at C speed: lists run long
    else:
        for position, version in enumerate(raw_versions if isinstance(raw_versions, list) else ()):
            if isinstance(version, str):
                versions.append(version)
            else:
                fail(f"{where}.versions[{position}]", f"{_shown(version)} is not a string")
    ranges: list[tuple[Event, ...]] = []
    raw_ranges = entry.get("ranges")
    if isinstance(raw_ranges, dict):
        raw_ranges = [raw_ranges]
    if raw_ranges is not None and not isinstance(raw_ranges, list):
        fail(f"{where}.ranges", f"{_shown(raw_ranges)} is not a list")
    for position, range_ in enumerate(raw_ranges if isinstance(raw_ranges, list) else ()):
        at = f"{where}.ranges[{position}]"
        kind = range_.get("type") if isinstance(range_, dict) else None
        if kind == "GIT":
            continue  # commits, not versions: the `versions` list enumerates them
        if kind not in RANGE_TYPES or not isinstance(range_, dict):
            fail(at, f"type {_shown(kind)} is not one this reader can evaluate")
            continue
        events = _read_events(range_.get("events"))
        if isinstance(events, str):
            fail(at, events)
        else:
            ranges.append(events)
    return tuple(versions), tuple(ranges), broken


def _read_events(raw: Any) -> tuple[Event, ...] | str:
    """The range's events, or why they cannot be read (then the range cannot be
    placed at all: a dropped `introduced` would narrow it, a dropped `fixed` widen it)."""
    if not isinstance(raw, list):
        return f"events {_shown(raw)} are not a list"
    events = []
    for event in raw:
        if not isinstance(event, dict) or len(event) != 1:
            return f"event {_shown(event)} is not one event"
        ((kind, value),) = event.items()
        if kind not in EVENT_KINDS or not isinstance(value, str):
            return f"event {_shown(event)} is not one the schema defines"
        sentinel = (kind == "introduced" and value == "0") or (kind == "limit" and value == "*")
        if not sentinel and parse_version(value) is None:
            return f"event {kind}={_shown(value)} is not a PEP 440 version"
        events.append(Event(kind, value))
    return tuple(events)


# -- from advisories to vulnerabilities ----------------------------------------------

# Which id of an alias group to report: PYSEC, then GHSA, then CVE, then the first.
_PREFERENCE = ("PYSEC-", "GHSA-", "CVE-")
_read_memo: dict[int, tuple[Any, Advisory | None]] = {}


def advisory_of(record: Any) -> Advisory | None:
    """`read_advisory` once per record object (a record shared by many pins is read
    once; the memo holds the record, so its id() is not reused)."""
    if isinstance(record, Advisory):
        return record
    hit = _read_memo.get(id(record))
    if hit is not None and hit[0] is record:
        return hit[1]
    advisory = read_advisory(record)
    if len(_read_memo) > 100_000:
        _read_memo.clear()
    _read_memo[id(record)] = (record, advisory)
    return advisory


def fix_versions(record: Any, package: str) -> list[str]:
    """The `fixed` events of the record's ECOSYSTEM ranges for this (canonical) package;
    a value that is not a PEP 440 version (a commit hash) is no version to upgrade to."""
    advisory = advisory_of(record)
    fixes: list[str] = []
    for entry in advisory.packages.get(package, ()) if advisory else ():
        for events in entry.ranges:
            fixes.extend(e.value for e in events if e.kind == "fixed" and e.value not in fixes)
    return fixes


def sort_versions(versions: Iterable[str]) -> tuple[str, ...]:
    """PEP 440 order; strings that are not PEP 440 versions sort last, as text."""
    unique = set(versions)
    if len(unique) < 2:
        return tuple(unique)
    parsed = [(parse_version(v), v) for v in unique]
    valid = sorted((version, text) for version, text in parsed if version is not None)
    return (*(text for _, text in valid), *sorted(t for version, t in parsed if version is None))


def merge(records: Iterable[Any], package: str) -> list[Vulnerability]:
    """One Vulnerability per alias group among these records.

    Records whose alias sets are connected are one vulnerability, as osv-scanner groups
    them: listing each other, or merely sharing a third id (PYSEC-2021-335 and -370
    both alias GHSA-qcx9-j53g-ccgf), taken transitively. Reporting both would count
    one flaw twice and let an ignore of one id leave the other standing.

    Every record here was already found to apply (by a server, or by the local
    matcher): a damaged one is reported with what can be read of it, never dropped.
    """
    live: list[Advisory] = []
    for record in records:
        advisory = advisory_of(record)
        if advisory is None:
            # Callers only pass records fetched or filed under an id, so this is a
            # programming error, not data: fail loudly rather than lose a finding.
            raise ValueError(f"an advisory record without an id for {package}")
        if not advisory.withdrawn:
            live.append(advisory)
    if not live:
        return []  # most pins: nothing to group
    parent: dict[str, str] = {}

    def find(i: str) -> str:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for advisory in live:
        root = find(advisory.id)
        for alias in advisory.aliases:
            other = find(alias)
            if other != root:
                parent[other] = root
    groups: dict[str, list[Advisory]] = {}
    for advisory in live:
        groups.setdefault(find(advisory.id), []).append(advisory)
    return sorted((_combine(group, package) for group in groups.values()), key=lambda v: v.id)


def _primary(ids: list[str]) -> str:
    for prefix in _PREFERENCE:
        matching = sorted(i for i in ids if i.startswith(prefix))
        if matching:
            return matching[0]
    return ids[0]


def _combine(group: list[Advisory], package: str) -> Vulnerability:
    ids = [a.id for a in group]
    primary_id = _primary(ids)
    primary = next(a for a in group if a.id == primary_id)
    aliases: list[str] = []
    for advisory in group:
        for alias in (advisory.id, *advisory.aliases):
            if alias != primary_id and alias not in aliases:
                aliases.append(alias)
    fixes: list[str] = []
    for advisory in group:
        fixes.extend(fix_versions(advisory, package))
    severity, score, vector = assess(
        ((a.id, a.vectors, a.stated_severity) for a in group), warn=_warn
    )
    return Vulnerability(
        malicious=any(i.upper().startswith("MAL-") for i in (primary_id, *aliases)),
        id=primary_id,
        aliases=tuple(sorted(aliases)),
        summary=primary.summary,
        details=primary.details,
        fix_versions=sort_versions(fixes),
        modified=primary.modified,
        severity=severity,
        score=score,
        vector=vector,
    )
