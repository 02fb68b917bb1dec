"""pip-audit's JSON schema, streamed one dependency at a time with orjson.

Keys beyond pip-audit's (`origins`, `dependency_path(s)` for resolved dependencies,
`ignored`, ...) are additions; existing consumers of
`dependencies[].vulns[]` and `fixes` keep working unchanged.
"""

from __future__ import annotations

from typing import Any, BinaryIO

import orjson

from vulnsweep.model import AuditResult, Finding, FixPlan, VexStatement
from vulnsweep.output import (
    OutputOptions,
    baseline_counts,
    exploitation_json,
    owners_of,
    project_summary,
)


class JsonWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options

    def _vuln(self, finding: Finding) -> dict[str, Any]:
        vuln = finding.vulnerability
        data: dict[str, Any] = {"id": vuln.id, "fix_versions": list(vuln.fix_versions)}
        if self.options.aliases:
            data["aliases"] = list(vuln.aliases)
        if self.options.desc:
            data["description"] = vuln.description
        if vuln.severity:
            data["severity"] = vuln.severity
        if vuln.score is not None:
            data["cvss_score"] = vuln.score
        if self._exploitation or vuln.malicious:
            data.update(exploitation_json(vuln))
        if finding.vex is not None:
            data["vex"] = vex_json(finding.vex)
        if finding.passing_reason:
            data["passing_reason"] = finding.passing_reason
        if finding.baseline_state is not None:
            data["baseline_state"] = finding.baseline_state
            data["first_seen"] = finding.first_seen
        return data

    _exploitation = False

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        self._exploitation = result.exploitation is not None
        # Items are joined in memory a thousand at a time: one write per item cost
        # 0.2 s of system calls on a 200,000-pin report.
        pending: list[bytes] = []
        pending.append(b'{"dependencies":[')
        first = True

        def emit(item: dict[str, Any]) -> None:
            nonlocal first
            pending.append(orjson.dumps(item) if first else b"," + orjson.dumps(item))
            first = False
            if len(pending) >= 1000:
                stream.write(b"".join(pending))
                pending.clear()

        for dep, findings in result.audited:
            version = normalized_version(dep.version)
            item: dict[str, Any] = {
                "name": dep.canonical_name,
                "version": version,
                "vulns": [self._vuln(f) for f in findings if not f.ignored],
                "origins": [str(o) for o in dep.origins],
            }
            if version != dep.version:
                item["version_as_written"] = dep.version
            if dep.paths:
                item["dependency_path"] = list(dep.paths[0])
                item["dependency_paths"] = [list(p) for p in dep.paths]
            if result.owners:
                item["owners"] = owners_of(result, dep)
            status = result.statuses.get(dep.key)
            if status is not None:
                item["status"] = {
                    "project": status.status or "active",
                    "reason": status.reason,
                    "yanked": status.yanked,
                    "yanked_reason": status.yanked_reason,
                }
            emit(item)
        for skip in result.skipped:
            item = {"name": skip.canonical_name, "skip_reason": skip.reason}
            if skip.version is not None:
                item["version"] = skip.version
            item["origins"] = [str(o) for o in skip.origins]
            emit(item)
        for unaudited in result.unaudited:
            dep = unaudited.dependency
            emit(
                {
                    "name": dep.canonical_name,
                    "version": normalized_version(dep.version),
                    "skip_reason": f"not audited: {unaudited.reason}",
                    "origins": [str(o) for o in dep.origins],
                }
            )
        stream.write(b"".join(pending))
        stream.write(b'],"fixes":')
        stream.write(
            orjson.dumps(
                [
                    {"name": f.name, "old_version": f.old_version, "new_version": f.new_version}
                    if f.new_version
                    else {"name": f.name, "version": f.old_version, "skip_reason": f.skip_reason}
                    for f in result.fixes
                ]
            )
        )
        stream.write(b',"ignored":')
        stream.write(
            orjson.dumps(
                [
                    {
                        "name": f.dependency.canonical_name,
                        "version": f.dependency.version,
                        "id": f.vulnerability.id,
                        "aliases": list(f.vulnerability.aliases),
                        "reason": f.ignored_reason,
                        **({"vex": vex_json(f.vex)} if f.vex is not None else {}),
                    }
                    for f in result.findings
                    if f.ignored
                ]
            )
        )
        tail: dict[str, Any] = {}
        if result.generated_at is not None:
            tail["generated_at"] = result.generated_at
        if result.exploitation is not None:
            tail["exploitation"] = result.exploitation
        if result.baseline_date is not None:
            tail["baseline"] = baseline_counts(result)
            tail["absent"] = [
                {
                    "name": a.name,
                    "version": a.version,
                    "id": a.id,
                    "aliases": list(a.aliases),
                    "first_seen": a.first_seen,
                    "baseline_state": "absent",
                }
                for a in result.absent
            ]
        if result.plans:
            tail["fix_plan"] = [plan_json(p) for p in result.plans]
            tail["fleet_plan"] = fleet_json(result.plans, result.owners)
        if result.projects:
            with_baseline = result.baseline_date is not None
            tail["projects"] = [project_summary(p, with_baseline) for p in result.projects]
        for key, value in tail.items():
            stream.write(b"," + orjson.dumps(key) + b":" + orjson.dumps(value))
        stream.write(b"}\n")


def plan_json(plan: FixPlan) -> dict[str, Any]:
    return {
        "file": plan.file,
        "format": plan.format,
        "written": plan.written,
        "note": plan.note,
        "changes": [
            {
                "name": c.name,
                "old_version": c.old_version,
                "new_version": c.new_version,
                "closes": list(c.closes),
                "because": c.because,
            }
            for c in plan.changes
        ],
        "blocked": [
            {
                "name": b.name,
                "version": b.version,
                "reason": b.reason,
                "advisories": list(b.advisories),
                "where": str(b.origin) if b.origin is not None else None,
            }
            for b in plan.blocked
        ],
        "dead_ends": [
            {
                "name": d.name,
                "version": d.version,
                "line": d.line,
                "last_release": d.last_release,
                "alternative": d.alternative,
            }
            for d in plan.dead_ends
        ],
    }


def fleet_json(plans: list[FixPlan], owners: dict[str, tuple[str, ...]]) -> list[dict[str, Any]]:
    """Each vulnerable release once: its targets with the files (and owners) needing
    them, and where it is blocked."""
    from vulnsweep.output.fixplan import fleet

    def where(file: str) -> dict[str, Any]:
        return {"file": file, "owners": list(owners.get(file, ()))}

    return [
        {
            "name": e.name,
            "version": e.version,
            "closes": list(e.closes),
            "targets": [
                {"version": v, "files": [where(f) for f in sorted(files)]}
                for v, files in sorted(e.targets.items())
            ],
            "blocked": [{**where(f), "reason": r} for f, r in e.blocked],
        }
        for e in fleet(plans)
    ]


def vex_json(statement: VexStatement) -> dict[str, Any]:
    return {
        "status": statement.status,
        "justification": statement.justification,
        "detail": statement.detail,
        "author": statement.author,
        "timestamp": statement.timestamp,
        "source": statement.source,
    }


def normalized_version(text: str) -> str:
    """pip-audit prints PEP 440's normal form (2023.04.0 -> 2023.4.0); text that is not
    a PEP 440 version is kept as written."""
    from vulnsweep.model import parse_version

    parsed = parse_version(text)
    return text if parsed is None else str(parsed)
