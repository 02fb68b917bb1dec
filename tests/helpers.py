"""What tests share besides fixtures: the data directory and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vulnsweep.model import AuditResult

DATA = Path(__file__).parent / "data"
REQUIREMENTS = DATA / "requirements"


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without any vulnsweep/pip-audit settings, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VULNSWEEP_", "PIP_AUDIT_"))}
    # No test reaches past loopback: a run that names no index resolves against a
    # closed local port and fails loudly, instead of quietly asking pypi.org.
    clean["PIP_INDEX_URL"] = "http://127.0.0.1:9/simple"
    clean.update(env or {})
    return clean


def spawn_cli(*args: str, text: bool = True) -> subprocess.Popen:  # type: ignore[type-arg]
    """vulnsweep running in the background, for tests that interact with it mid-run."""
    return subprocess.Popen(
        [sys.executable, "-m", "vulnsweep", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=text,
        env=cli_env(),
    )


def run_cli(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    full_env = cli_env(env)
    return subprocess.run(
        [sys.executable, "-m", "vulnsweep", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def unstamped(report: str) -> str:
    """A JSON report without the moment it was made: two audits of the same inputs
    agree on everything else, byte for byte."""
    import re

    return re.sub(r',"generated_at":"[^"]*"', "", report)


REPO_ROOT = Path(__file__).resolve().parent.parent


def many_findings(records: list[dict[str, Any]], count: int) -> AuditResult:
    """An AuditResult of `count` findings over 400 packages, one real advisory each
    (summaries and details as published), severities in turn: a big report to render."""
    from vulnsweep.model import AuditResult, Dependency, Finding, Origin, Vulnerability

    chosen = sorted(records, key=lambda r: str(r["id"]))[:count]
    audited = []
    levels = ("CRITICAL", "HIGH", "MEDIUM", "LOW", None)
    for index, record in enumerate(chosen):
        dep = Dependency(f"package-{index % 400}", f"1.{index}", (Origin("r.txt", index + 1),))
        vuln = Vulnerability(
            str(record["id"]),
            tuple(record.get("aliases") or ()),
            record.get("summary"),
            record.get("details"),
            ("9.9",),
            severity=levels[index % 5],
        )
        audited.append((dep, [Finding(dep, vuln)]))
    return AuditResult(audited=audited, generated_at="2026-11-29T00:00:00Z")
