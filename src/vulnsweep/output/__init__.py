"""Writers: one per format, each rendering an AuditResult to a binary stream.

Reports go to stdout or to `-o FILE`; a file is written to a temporary sibling and
renamed into place, so it is never seen half-written (not even after Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from vulnsweep.model import AuditResult, Dependency, Finding, ProjectReport, Vulnerability

FORMATS = (
    "columns",
    "json",
    "markdown",
    "ndjson",
    "sarif",
    "cyclonedx-json",
    "cyclonedx-xml",
    "html",
    "openvex",
)


@dataclass(frozen=True)
class OutputOptions:
    desc: bool
    aliases: bool
    cyclonedx_version: str = "1.6"
    hyperlinks: bool = False  # OSC-8 links in columns: only on a terminal, never in CI
    group_by: str | None = None  # project | owner | package (columns and markdown)


def pypi_url(name: str) -> str:
    return f"https://pypi.org/project/{name}"


def owners_of(result: AuditResult, dependency: Dependency) -> list[str]:
    """CODEOWNERS owners of every file that pins a dependency, in file order."""
    owners: dict[str, None] = {}
    for origin in dependency.origins:
        for owner in result.owners.get(origin.path, ()):
            owners[owner] = None
    return list(owners)


def grouped(result: AuditResult, group_by: str | None) -> list[tuple[str, Finding]]:
    """Reported findings with the group each is listed under, in report order: by
    project (each project's findings under its own policy), by CODEOWNERS owner (a
    finding with two owners is listed under both) or by package."""
    if group_by == "project" and result.projects:
        return [(p.path, f) for p in result.projects for f in p.reported]
    reported = [f for _, findings in result.audited for f in findings if not f.ignored]
    if group_by == "owner":
        rows = [
            (owner, f)
            for f in reported
            for owner in (owners_of(result, f.dependency) or ["(no owner)"])
        ]
        return sorted(rows, key=lambda row: (row[0] == "(no owner)", row[0]))
    if group_by == "package":
        return sorted(((f.dependency.canonical_name, f) for f in reported), key=lambda r: r[0])
    return [("", f) for f in reported]


def verdict_rows(result: AuditResult) -> list[tuple[str, ...]]:
    """One row per project: path, owners, dependencies, findings, new, verdict."""
    with_baseline = result.baseline_date is not None
    rows: list[tuple[str, ...]] = []
    for project in result.projects:
        reported = project.reported
        new = sum(f.baseline_state == "new" for f in reported)
        rows.append(
            (
                project.path,
                ", ".join(project.owners),
                str(project.dependencies),
                str(len(reported)),
                str(new) if with_baseline else "-",
                "FAIL" if project.fails else "pass",
            )
        )
    return rows


VERDICT_HEADERS = ("Project", "Owners", "Deps", "Findings", "New", "Verdict")


def baseline_counts(result: AuditResult) -> dict[str, Any]:
    """`3 new, 120 unchanged, 5 fixed since 2026-11-20`, as data."""
    states = [f.baseline_state for f in result.reported]
    return {
        "date": result.baseline_date,
        "new": states.count("new"),
        "unchanged": states.count("unchanged"),
        "fixed": len(result.absent),
    }


def project_summary(project: ProjectReport, with_baseline: bool) -> dict[str, Any]:
    """A project's section in the machine-readable formats."""
    reported = project.reported
    counts = {
        "dependencies": project.dependencies,
        "findings": len(reported),
        "failing": sum(f.fails for f in reported),
        "ignored": len(project.findings) - len(reported),
        "skipped": project.skipped,
    }
    if with_baseline:
        counts["new"] = sum(f.baseline_state == "new" for f in reported)
        counts["unchanged"] = sum(f.baseline_state == "unchanged" for f in reported)
    findings = []
    for finding in reported:
        item: dict[str, Any] = {
            "name": finding.dependency.canonical_name,
            "version": finding.dependency.version,
            "id": finding.vulnerability.id,
            "fails": finding.fails,
        }
        if finding.baseline_state is not None:
            item["baseline_state"] = finding.baseline_state
        findings.append(item)
    return {
        "path": project.path,
        "owners": list(project.owners),
        "files": list(project.files),
        "verdict": "fail" if project.fails else "pass",
        "counts": counts,
        "findings": findings,
    }


class Writer(Protocol):
    def write(self, result: AuditResult, stream: BinaryIO) -> None: ...


def resolve_toggle(value: str, fmt: str) -> bool:
    """pip-audit's on/off/auto: `auto` means on for JSON, off for columns."""
    if value == "auto":
        return fmt == "json"
    return value == "on"


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[BinaryIO]:
    """A regular file (through any symlink) is replaced whole, with the mode a new file
    gets from the umask (or the old file's mode); a device or FIFO (`/dev/stdout`,
    `/dev/null`, a pipe) is written through, never replaced."""
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    import stat
    import tempfile

    from vulnsweep.errors import UsageError

    target = os.path.realpath(path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise UsageError(f"-o {path}: {exc.strerror}") from None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise UsageError(f"-o {path}: is a directory")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        try:
            with open(target, "wb") as handle:
                yield handle
        except OSError as exc:
            raise UsageError(f"-o {path}: {exc.strerror}") from None
        return
    directory = os.path.dirname(target)
    try:
        fd, temp = tempfile.mkstemp(prefix=".vulnsweep-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError(f"-o {path}: cannot write in {directory} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~_umask())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def exploitation(vuln: Vulnerability) -> str:
    """The compact column: `MALICIOUS`, `KEV`, `EPSS 12.3%`, both, or `unknown`."""
    parts = []
    if vuln.malicious:
        parts.append("MALICIOUS")
    if vuln.kev is not None:
        parts.append("KEV")
    if vuln.epss is not None:
        parts.append(f"EPSS {vuln.epss.probability * 100:.1f}%")
    elif vuln.kev is None and not vuln.kev_checked:
        parts.append("unknown")
    return ", ".join(parts) or "not in KEV; EPSS unknown"


def with_exploitation(result: AuditResult) -> bool:
    """Show exploitation when the run consulted data, or anything is malicious."""
    return result.exploitation is not None or any(
        f.vulnerability.malicious for f in result.reported
    )


def exploitation_json(vuln: Vulnerability) -> dict[str, Any]:
    """`kev` and `epss` as JSON: null is unknown (never 0); `malicious` when true."""
    kev = vuln.kev
    data: dict[str, Any] = {
        "kev": (
            {
                "listed": True,
                "date_added": kev.date_added,
                "due_date": kev.due_date,
                "known_ransomware_campaign_use": kev.ransomware,
            }
            if kev is not None
            else {"listed": False}
            if vuln.kev_checked
            else None
        ),
        "epss": (
            {
                "probability": vuln.epss.probability,
                "percentile": vuln.epss.percentile,
                "date": vuln.epss.date,
            }
            if vuln.epss is not None
            else None
        ),
    }
    if vuln.malicious:
        data["malicious"] = True
    return data
