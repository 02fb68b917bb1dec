"""Where a scheduled job ends: the GitHub Actions job summary and a webhook.

Both carry what a person should act on -- the new findings, per project and owner --
and neither can fail the audit: a summary that cannot be written or a hook that does
not answer is a warning."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from vulnsweep import __version__
from vulnsweep.model import AuditResult, Finding
from vulnsweep.output import baseline_counts, exploitation, owners_of, with_exploitation
from vulnsweep.url import Url

if TYPE_CHECKING:
    from vulnsweep.net.session import Network

log = logging.getLogger("vulnsweep")


def new_findings(result: AuditResult) -> list[Finding]:
    """With a baseline, the new ones; without, every reported finding is new."""
    return [f for f in result.reported if _is_new(result, f)]


def _is_new(result: AuditResult, finding: Finding) -> bool:
    return result.baseline_date is None or finding.baseline_state == "new"


def payload(result: AuditResult) -> dict[str, Any]:
    """The webhook's JSON document."""
    projects = [
        {
            "path": p.path,
            "owners": list(p.owners),
            "verdict": "fail" if p.fails else "pass",
            "new": [_item(result, f) for f in p.reported if _is_new(result, f)],
        }
        for p in result.projects
    ]
    return {
        "tool": f"vulnsweep {__version__}",
        "generated_at": result.generated_at,
        "baseline_date": result.baseline_date,
        "counts": counts(result),
        "new": [_item(result, f) for f in new_findings(result)],
        "fixed": [
            {"name": a.name, "version": a.version, "id": a.id, "first_seen": a.first_seen}
            for a in result.absent
        ],
        "projects": projects,
    }


def counts(result: AuditResult) -> dict[str, int]:
    reported = result.reported
    out = {"findings": len(reported), "failing": len(result.failing)}
    if result.baseline_date is not None:
        base = baseline_counts(result)
        out.update(new=base["new"], unchanged=base["unchanged"], fixed=base["fixed"])
    if result.projects:
        out["projects"] = len(result.projects)
        out["failing_projects"] = sum(p.fails for p in result.projects)
    return out


def _item(result: AuditResult, finding: Finding) -> dict[str, Any]:
    dep, vuln = finding.dependency, finding.vulnerability
    return {
        "name": dep.canonical_name,
        "version": dep.version,
        "id": vuln.id,
        "aliases": list(vuln.aliases),
        "severity": vuln.severity,
        "fix_versions": list(vuln.fix_versions),
        "url": vuln.url,
        "origins": [str(o) for o in dep.origins],
        "owners": owners_of(result, finding.dependency),
    }


def step_summary(result: AuditResult) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: new findings grouped by project, with owners."""
    from vulnsweep.output.markdown import cell

    fresh = new_findings(result)
    tally = counts(result)
    lines = ["## vulnsweep", ""]
    if result.baseline_date is not None:
        lines.append(
            f"{tally['new']} new, {tally['unchanged']} unchanged, {tally['fixed']} fixed "
            f"since {result.baseline_date}."
        )
    else:
        lines.append(f"{tally['findings']} findings (no baseline: all are listed as new).")
    if result.projects:
        failing = [p for p in result.projects if p.fails]
        lines.append(f"{len(failing)} of {len(result.projects)} projects fail.")
    lines.append("")
    groups: dict[tuple[str, str], list[Finding]] = {}
    if result.projects:
        for project in result.projects:
            mine = [f for f in project.reported if _is_new(result, f)]
            if mine:
                groups[(project.path, ", ".join(project.owners) or "no owner")] = mine
    else:
        for finding in fresh:
            owners = ", ".join(owners_of(result, finding.dependency)) or "no owner"
            groups.setdefault((".", owners), []).append(finding)
    if not fresh:
        lines.append("No new findings.")
    for (path, owners), findings in sorted(groups.items()):
        lines += [f"### {cell(path)} ({cell(owners)})", ""]
        risk = with_exploitation(result)
        head = "Package | Version | Advisory | Severity | " + ("Exploited | " if risk else "")
        lines += [head + "Fix", "--- | " * (5 if risk else 4) + "---"]
        for f in findings:
            vuln = f.vulnerability
            lines.append(
                f"{cell(f.dependency.canonical_name)} | {cell(f.dependency.version)} | "
                f"[{cell(vuln.id)}]({vuln.url}) | {vuln.severity or 'UNKNOWN'} | "
                + (f"{exploitation(vuln)} | " if risk else "")
                + f"{cell(', '.join(vuln.fix_versions) or 'none')}"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


def write_step_summary(result: AuditResult) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        log.warning("--summary: GITHUB_STEP_SUMMARY is not set (not in GitHub Actions?)")
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(step_summary(result))
    except OSError as exc:
        log.warning("--summary: cannot write %s: %s", path, exc.strerror)


def send_webhook(
    url: str | Url, result: AuditResult, timeout: float | None, network: Network | None = None
) -> bool:
    """POST the summary (retried like any request); True when delivered."""
    from vulnsweep.errors import ServiceError
    from vulnsweep.net.http import HttpClient, RetryPolicy, Timeouts
    from vulnsweep.net.session import run_once

    document = payload(result)
    url = Url(url, secret_path=True)  # a webhook's secret is often its path or query

    async def deliver() -> None:
        async with HttpClient(
            "webhook",
            timeouts=Timeouts(connect=min(10.0, timeout or 10.0), read=timeout or 15.0),
            concurrency=1,
            retry=RetryPolicy(attempts=3, max_retry_after=10.0),
            network=network,
        ) as http:
            await http.deliver(url, document)

    try:
        if network is not None:
            network.run(deliver)
        else:
            run_once(deliver)
    except ServiceError as exc:
        log.warning("--webhook %s not delivered: %s", url, exc.message)
        return False
    log.info("--webhook %s: delivered", url)
    return True
