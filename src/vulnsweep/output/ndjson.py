"""One JSON object per line: each finding, then each skipped or unaudited dependency,
for `jq` and log pipelines. Findings stream: each line is written (and flushed) the
moment its dependency is answered, long before a big run ends."""

from __future__ import annotations

from typing import Any, BinaryIO

import orjson

from vulnsweep.model import AuditResult, Finding
from vulnsweep.output import OutputOptions, baseline_counts, project_summary


class NdjsonWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options
        self.streamed = False

    def findings(self, stream: BinaryIO, findings: list[Finding]) -> None:
        """Called as each dependency is answered; `write` later adds only the rest."""
        self.streamed = True
        for finding in findings:
            dep, vuln = finding.dependency, finding.vulnerability
            line: dict[str, Any] = {
                "type": "finding",
                "name": dep.canonical_name,
                "version": dep.version,
                "id": vuln.id,
                "aliases": list(vuln.aliases),
                "fix_versions": list(vuln.fix_versions),
                "severity": vuln.severity,
                "cvss_score": vuln.score,
                "origins": [str(o) for o in dep.origins],
                "ignored": finding.ignored_reason,
                "passing": finding.passing_reason,
            }
            if self.options.desc:
                line["description"] = vuln.description
            if dep.paths:
                line["dependency_path"] = list(dep.paths[0])
            if finding.baseline_state is not None:
                line["baseline_state"] = finding.baseline_state
                line["first_seen"] = finding.first_seen
            stream.write(orjson.dumps(line) + b"\n")
        stream.flush()

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        if not self.streamed:
            for _, findings in result.audited:
                self.findings(stream, findings)
        for skip in result.skipped:
            stream.write(
                orjson.dumps(
                    {
                        "type": "skipped",
                        "name": skip.canonical_name,
                        "version": skip.version,
                        "reason": skip.reason,
                        "origins": [str(o) for o in skip.origins],
                    }
                )
                + b"\n"
            )
        for unaudited in result.unaudited:
            dep = unaudited.dependency
            stream.write(
                orjson.dumps(
                    {
                        "type": "not-audited",
                        "name": dep.canonical_name,
                        "version": dep.version,
                        "reason": unaudited.reason,
                        "origins": [str(o) for o in dep.origins],
                    }
                )
                + b"\n"
            )
        for absent in result.absent:
            item = {
                "type": "absent",
                "name": absent.name,
                "version": absent.version,
                "id": absent.id,
                "aliases": list(absent.aliases),
                "first_seen": absent.first_seen,
                "baseline_state": "absent",
            }
            stream.write(orjson.dumps(item) + b"\n")
        with_baseline = result.baseline_date is not None
        for project in result.projects:
            section = {"type": "project", **project_summary(project, with_baseline)}
            stream.write(orjson.dumps(section) + b"\n")
        if result.generated_at is None:
            return
        run: dict[str, Any] = {"type": "run", "generated_at": result.generated_at}
        if with_baseline:
            run["baseline"] = baseline_counts(result)
        stream.write(orjson.dumps(run) + b"\n")
