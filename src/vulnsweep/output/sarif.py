"""SARIF 2.1.0 for GitHub code scanning: one rule per advisory, one result per finding
and pinning file, located at the line that pins the dependency.

Fingerprints hash (advisory, package, file) — not the line or version — so an alert
keeps its identity while the file around it changes. Ignored findings are kept, as
suppressed results with their justification.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from vulnsweep import __version__
from vulnsweep.model import AuditResult, Finding, Origin, Vulnerability
from vulnsweep.output import (
    OutputOptions,
    baseline_counts,
    exploitation_json,
    owners_of,
    project_summary,
    pypi_url,
)

logger = logging.getLogger(__name__)
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note"}
_NOMINAL = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0"}


def _artifact(origin: Origin, root: Path) -> dict[str, Any]:
    path = Path(origin.path)
    try:
        relative = path.resolve().relative_to(root)
        return {"uri": relative.as_posix(), "uriBaseId": "SRCROOT"}
    except ValueError:
        return {"uri": path.resolve().as_uri()}


def _rule(vuln: Vulnerability) -> dict[str, Any]:
    fixes = ", ".join(vuln.fix_versions) or "none known"
    summary = vuln.summary or (vuln.details or vuln.id).split("\n", 1)[0]
    rule: dict[str, Any] = {
        "id": vuln.id,
        "name": vuln.id.replace("-", ""),
        "shortDescription": {"text": summary[:1000]},
        "fullDescription": {"text": (vuln.details or summary)[:10000]},
        "helpUri": vuln.url,
        "help": {
            "text": f"{summary}\n\nFix versions: {fixes}\nAliases: "
            f"{', '.join(vuln.aliases) or 'none'}\nAdvisory: {vuln.url}",
            "markdown": f"**{summary}**\n\nFix versions: {fixes}\n\nAliases: "
            f"{', '.join(vuln.aliases) or 'none'}\n\n[Advisory]({vuln.url})",
        },
        "properties": {"tags": ["security", "vulnerability", "dependency"]},
    }
    severity = f"{vuln.score:.1f}" if vuln.score is not None else _NOMINAL.get(vuln.severity or "")
    if severity is not None:
        rule["properties"]["security-severity"] = severity
    return rule


# GitHub code scanning's limits on an upload: results per run, runs per file, the
# gzipped file; and it shows only the first 5,000 results of a run, so the most
# important come first.
MAX_RESULTS_PER_RUN = 25_000
MAX_RUNS = 20
MAX_GZIPPED = 10 * 1024 * 1024
_STATE_RANK = {"new": 0, None: 1, "unchanged": 2, "absent": 4}


def importance(item: dict[str, Any], rules: dict[str, dict[str, Any]]) -> tuple[Any, ...]:
    """Sort key, most important first: unsuppressed before suppressed, new before
    unchanged before absent, higher security-severity first, then stable order."""
    severity = rules.get(item["ruleId"], {}).get("properties", {}).get("security-severity")
    return (
        1 if item.get("suppressions") else 0,
        _STATE_RANK.get(item.get("baselineState"), 3),
        -float(severity or 0),
        item["ruleId"],
        item["properties"].get("package", ""),
    )


def fit_for_github(
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    properties: dict[str, Any],
    root: Path,
    generated_at: str | None,
) -> dict[str, Any]:
    """The SARIF log, within GitHub's limits: results ordered by importance and split
    into runs of at most 25,000 (each its own category, `vulnsweep/part-K`), at most
    20 runs; past 10 MB gzipped, the per-project summaries go first, then the least
    important results, with a warning naming how many. Nothing is dropped below the
    limits, and every other format keeps everything."""
    by_id = {rule["id"]: rule for rule in rules}
    ordered = sorted(results, key=lambda item: importance(item, by_id))
    dropped = max(0, len(ordered) - MAX_RESULTS_PER_RUN * MAX_RUNS)
    ordered = ordered[: MAX_RESULTS_PER_RUN * MAX_RUNS]
    while True:
        log = _log(by_id, ordered, properties, root, generated_at)
        size = _gzipped_size(log)
        if size <= MAX_GZIPPED or not ordered:
            break
        if properties.get("projects"):
            properties = {k: v for k, v in properties.items() if k != "projects"}
            logger.warning("SARIF: per-project summaries left out (over 10 MB gzipped)")
            continue
        cut = max(1, len(ordered) * (size - MAX_GZIPPED) // size + len(ordered) // 50)
        dropped += cut
        ordered = ordered[:-cut]
    if dropped:
        logger.warning(
            "SARIF: the %d least important results are left out to stay within GitHub "
            "code scanning's limits (25,000 a run, 20 runs, 10 MB gzipped); every other "
            "format has them all",
            dropped,
        )
        log["runs"][0].setdefault("properties", {})["resultsLeftOut"] = dropped
    return log


def _log(
    rules: dict[str, dict[str, Any]],
    results: list[dict[str, Any]],
    properties: dict[str, Any],
    root: Path,
    generated_at: str | None,
) -> dict[str, Any]:
    parts = [
        results[start : start + MAX_RESULTS_PER_RUN]
        for start in range(0, len(results), MAX_RESULTS_PER_RUN)
    ] or [[]]
    runs = []
    for number, part in enumerate(parts, start=1):
        used = list(dict.fromkeys(item["ruleId"] for item in part))
        index = {rule_id: position for position, rule_id in enumerate(used)}
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "vulnsweep",
                    "version": __version__,
                    "semanticVersion": __version__,
                    "informationUri": "https://github.com/vulnsweep/vulnsweep",
                    "rules": [rules[rule_id] for rule_id in used],
                }
            },
            "originalUriBaseIds": {"SRCROOT": {"uri": root.as_uri() + "/"}},
            "results": [{**item, "ruleIndex": index[item["ruleId"]]} for item in part],
        }
        if len(parts) > 1:  # one category each: code scanning keeps every part
            run["automationDetails"] = {"id": f"vulnsweep/part-{number}-of-{len(parts)}/"}
        if generated_at is not None:
            run["invocations"] = [{"executionSuccessful": True, "endTimeUtc": generated_at}]
        if properties and number == 1:
            run["properties"] = properties
        runs.append(run)
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}


MAX_NOTIFICATIONS = 1000


def _notify_not_audited(log: dict[str, Any], result: AuditResult) -> None:
    """What could not be audited or resolved, as the first run's tool execution
    notifications (errors: not audited, not resolved, unreadable input; warnings: other
    skips), and executionSuccessful false when the audit is incomplete."""
    notes = [
        {"level": "error", "message": {"text": f"{u.dependency.canonical_name} "
                                               f"{u.dependency.version}: not audited: {u.reason}"}}
        for u in result.unaudited
    ]  # fmt: skip
    notes += [
        {
            "level": "error" if s.error or s.unresolved else "warning",
            "message": {"text": f"{s.name}: {s.reason}"},
        }
        for s in result.skipped
    ]
    if not notes:
        return
    incomplete = bool(result.unaudited) or any(s.error or s.unresolved for s in result.skipped)
    run = log["runs"][0]
    invocation = (run.get("invocations") or [{}])[0]
    invocation["executionSuccessful"] = not incomplete
    invocation["toolExecutionNotifications"] = notes[:MAX_NOTIFICATIONS]
    if len(notes) > MAX_NOTIFICATIONS:
        run.setdefault("properties", {})["notificationsLeftOut"] = len(notes) - MAX_NOTIFICATIONS
    run["invocations"] = [invocation]


def _gzipped_size(log: dict[str, Any]) -> int:
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip framing
    body = orjson.dumps(log, option=orjson.OPT_INDENT_2)
    return len(compressor.compress(body)) + len(compressor.flush())


class SarifWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        root = Path(os.getcwd()).resolve()
        rules: dict[str, dict[str, Any]] = {}
        results = []
        project_of = {file: p.path for p in result.projects for file in p.files}
        for dep, findings in result.audited:
            owners = owners_of(result, dep) if result.owners else []
            for finding in findings:
                vuln = finding.vulnerability
                if vuln.id not in rules:
                    rules[vuln.id] = _rule(vuln)
                for origin in dep.origins or (Origin("<unknown>"),):
                    item = self._result(finding, origin, root)
                    if owners:
                        item["properties"]["owners"] = owners
                    if origin.path in project_of:
                        item["properties"]["project"] = project_of[origin.path]
                    results.append(item)
        for absent in result.absent:
            if absent.id not in rules:
                rules[absent.id] = _rule(Vulnerability(absent.id, absent.aliases))
            results.append(
                {
                    "ruleId": absent.id,
                    "level": "none",
                    "baselineState": "absent",
                    "message": {
                        "text": f"{absent.name} {absent.version}: {absent.id} is fixed or "
                        f"gone since the baseline of {result.baseline_date}."
                    },
                    "properties": {
                        "package": absent.name,
                        "version": absent.version,
                        "aliases": list(absent.aliases),
                        "firstSeen": absent.first_seen,
                    },
                }
            )
        properties: dict[str, Any] = {}
        if result.generated_at is not None:
            properties["generatedAt"] = result.generated_at
        if result.baseline_date is not None:
            properties["baseline"] = baseline_counts(result)
        if result.projects:
            with_baseline = result.baseline_date is not None
            properties["projects"] = [project_summary(p, with_baseline) for p in result.projects]
        log = fit_for_github(list(rules.values()), results, properties, root, result.generated_at)
        _notify_not_audited(log, result)
        stream.write(orjson.dumps(log, option=orjson.OPT_INDENT_2) + b"\n")

    def _result(self, finding: Finding, origin: Origin, root: Path) -> dict[str, Any]:
        dep, vuln = finding.dependency, finding.vulnerability
        fixes = ", ".join(vuln.fix_versions) or "no fix version is known"
        location: dict[str, Any] = {"artifactLocation": _artifact(origin, root)}
        if origin.line is not None:
            location["region"] = {"startLine": origin.line}
        fingerprint = hashlib.sha256(
            f"{vuln.id}|{dep.canonical_name}|{location['artifactLocation']['uri']}".encode()
        ).hexdigest()
        result: dict[str, Any] = {
            "ruleId": vuln.id,  # ruleIndex is set per run, where the result lands
            "level": _LEVEL.get(vuln.severity or "", "warning"),
            "message": {
                "text": f"{dep.canonical_name} {dep.version} is affected by {vuln.id}"
                f" ({vuln.severity or 'severity unknown'}). Fix versions: "
                f"{fixes}."
                + (f" Pulled in via {dep.via}." if dep.paths and dep.via != "(direct)" else "")
            },
            "locations": [
                {
                    "physicalLocation": location,
                    "message": {
                        "text": f"{dep.canonical_name}=={dep.version} "
                        f"({pypi_url(dep.canonical_name)})"
                    },
                }
            ],
            "partialFingerprints": {"vulnsweep/v1": fingerprint},
            "properties": {
                "package": dep.canonical_name,
                "version": dep.version,
                "aliases": list(vuln.aliases),
            },
        }
        if finding.baseline_state is not None:
            result["baselineState"] = finding.baseline_state
            result["properties"]["firstSeen"] = finding.first_seen
        # Exploitation: properties as in JSON (null is unknown), and SARIF's rank (0-100,
        # higher first): 100 for a malicious or known exploited one, else the EPSS
        # percentile; none when unknown.
        if vuln.kev_checked or vuln.epss is not None or vuln.malicious:
            result["properties"].update(exploitation_json(vuln))
        if vuln.malicious or vuln.kev is not None:
            result["rank"] = 100.0
        elif vuln.epss is not None:
            result["rank"] = round(vuln.epss.percentile * 100, 1)
        if dep.paths:
            result["properties"]["dependencyPath"] = list(dep.paths[0])
        if finding.ignored:
            result["suppressions"] = [{"kind": "external", "justification": finding.ignored_reason}]
        return result
