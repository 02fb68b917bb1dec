"""Earlier reports as baselines: vulnsweep's (or pip-audit's) JSON, NDJSON or SARIF.

A finding is matched by (package, advisory group) -- the same package and any shared
id or alias -- never by version, so an upgrade that is still vulnerable stays
"unchanged" and a new advisory on an old pin is "new"."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from vulnsweep.errors import InputError, UsageError
from vulnsweep.model import Finding, PastFinding, canonical_name

_SARIF_MESSAGE = re.compile(r"^(\S+) (\S+) is affected by ")


class Baseline:
    """The findings of an earlier run, indexed by package."""

    def __init__(self, entries: Iterable[PastFinding], date: str, label: str) -> None:
        self.date = date  # YYYY-MM-DD
        self.label = label
        self.by_name: dict[str, list[PastFinding]] = {}
        for entry in entries:
            self.by_name.setdefault(entry.name, []).append(entry)

    def __len__(self) -> int:
        return sum(map(len, self.by_name.values()))

    def match(self, name: str, ids: frozenset[str]) -> PastFinding | None:
        for entry in self.by_name.get(name, ()):
            if entry.ids & ids:
                return entry
        return None

    def state(self, finding: Finding, today: str) -> tuple[str, str]:
        """("new" | "unchanged", first seen)."""
        vuln = finding.vulnerability
        entry = self.match(finding.dependency.canonical_name, vuln.ids)
        if entry is None:
            return "new", today
        return "unchanged", entry.first_seen or self.date

    def absent(self, reported: Iterable[Finding], unknown: Iterable[str] = ()) -> list[PastFinding]:
        """Baseline findings that no reported finding of this run matches; a package
        this run could not audit (`unknown`) has nothing fixed, only nothing known."""
        unknown = set(unknown)
        now: dict[str, set[str]] = {}
        for finding in reported:
            now.setdefault(finding.dependency.canonical_name, set()).update(
                finding.vulnerability.ids
            )
        gone: dict[tuple[str, str], PastFinding] = {}
        for name, entries in self.by_name.items():
            if name in unknown:
                continue
            for entry in entries:
                if entry.ids & now.get(name, set()):
                    continue
                gone.setdefault((name, entry.id), entry)
        return sorted(gone.values(), key=lambda a: (a.name, a.id))


def load_baseline(path: str) -> Baseline:
    """Any report format vulnsweep writes that lists findings; a clear error otherwise."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"--baseline {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--baseline {path}: {exc.strerror}") from None
    fallback = dt.datetime.fromtimestamp(file.stat().st_mtime, dt.timezone.utc).date().isoformat()
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        document = None
    try:
        if isinstance(document, dict) and isinstance(document.get("runs"), list):
            entries, date = _from_sarif(document)
        elif isinstance(document, dict) and isinstance(document.get("dependencies"), list):
            entries, date = _from_json(document)
        elif document is None or isinstance(document, dict):
            entries, date = _from_ndjson(data)
        else:
            raise ValueError("not a vulnsweep JSON, NDJSON or SARIF report")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(path, f"cannot be read as a baseline: {exc}") from None
    return Baseline(entries, _day(date) or fallback, path)


def _day(stamp: Any) -> str | None:
    if not isinstance(stamp, str) or len(stamp) < 10:
        return None
    try:
        return dt.date.fromisoformat(stamp[:10]).isoformat()
    except ValueError:
        return None


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def _entry(
    name: str, version: Any, ident: str, fields: dict[str, Any], first_seen: str
) -> PastFinding:
    """One finding as any report format spells it (`fields` holds aliases and the
    first-seen date under the format's own key)."""
    return PastFinding(
        canonical_name(name),
        str(version or ""),
        ident,
        _strings(fields.get("aliases")),
        _day(fields.get(first_seen)),
    )


def _from_json(document: dict[str, Any]) -> tuple[list[PastFinding], Any]:
    entries = []
    for dep in document["dependencies"]:
        if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
            raise ValueError("a dependency without a name")
        for vuln in dep.get("vulns") or ():
            if not isinstance(vuln, dict) or not isinstance(vuln.get("id"), str):
                raise ValueError(f"{dep['name']}: a vulnerability without an id")
            entries.append(_entry(dep["name"], dep.get("version"), vuln["id"], vuln, "first_seen"))
    return entries, document.get("generated_at")


def _ndjson_lines(data: bytes) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ValueError(f"line {number} is not JSON") from None
        if not isinstance(item, dict):
            raise ValueError(f"line {number} is not a JSON object")
        yield item


_NDJSON_TYPES = frozenset({"run", "finding", "skipped", "not-audited", "absent", "project"})


def _from_ndjson(data: bytes) -> tuple[list[PastFinding], Any]:
    """vulnsweep's NDJSON: it always ends with a `run` line, so a file without one (an
    empty file, `{"dependencies": "x"}`) is no report -- never an empty baseline that
    would make every finding "new"."""
    entries, date = [], None
    seen_run = False
    for item in _ndjson_lines(data):
        kind = item.get("type")
        if kind not in _NDJSON_TYPES:
            raise ValueError("not a vulnsweep JSON, NDJSON or SARIF report")
        seen_run = seen_run or kind == "run"
        if kind == "run":
            date = item.get("generated_at")
        if kind != "finding" or item.get("ignored"):
            continue
        if not isinstance(item.get("name"), str) or not isinstance(item.get("id"), str):
            raise ValueError("a finding without a name or id")
        entries.append(_entry(item["name"], item.get("version"), item["id"], item, "first_seen"))
    if not seen_run:
        raise ValueError("not a vulnsweep JSON, NDJSON or SARIF report (no `run` line)")
    return entries, date


def _from_sarif(document: dict[str, Any]) -> tuple[list[PastFinding], Any]:
    entries, date = [], None
    for run in document["runs"]:
        date = (run.get("properties") or {}).get("generatedAt") or date
        for invocation in run.get("invocations") or ():
            date = date or invocation.get("endTimeUtc")
        for result in run.get("results") or ():
            if result.get("suppressions") or result.get("baselineState") == "absent":
                continue
            rule = result.get("ruleId")
            props = result.get("properties") or {}
            name, version = props.get("package"), props.get("version")
            if not isinstance(name, str):
                found = _SARIF_MESSAGE.match(str((result.get("message") or {}).get("text", "")))
                if found is None:
                    raise ValueError(f"result for {rule} names no package")
                name, version = found.group(1), found.group(2)
            if not isinstance(rule, str):
                raise ValueError("a result without a ruleId")
            entries.append(_entry(name, version, rule, props, "firstSeen"))
    return entries, date
