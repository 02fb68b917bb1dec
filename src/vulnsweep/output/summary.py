"""The few lines a run ends with on stderr, and the exit code they justify: findings,
baseline counts, failing projects, policy notes, what could not be audited."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vulnsweep.errors import EXIT_OK, EXIT_SERVICE, EXIT_USAGE, EXIT_VULNERABLE
from vulnsweep.redact import shown

if TYPE_CHECKING:
    from vulnsweep.audit import AuditOutcome
    from vulnsweep.model import SkippedDependency, Unaudited
    from vulnsweep.policy import FindingPolicy

log = logging.getLogger("vulnsweep")


def summarize(outcome: AuditOutcome, policy: FindingPolicy, strict: bool) -> int:
    """The stderr summary of a run, and its exit code."""
    result = outcome.result
    reported = result.reported
    ignored = len(result.findings) - len(reported)
    passing = len(reported) - len(result.failing)
    packages = len({f.dependency.key for f in reported})
    notes = [f"{ignored} ignored"] if ignored else []
    if passing:
        notes.append(f"{passing} not failing the run")
    note = f" ({', '.join(notes)})" if notes else ""
    if reported:
        print(
            f"Found {plural(len(reported), 'known vulnerability', 'known vulnerabilities')}"
            f"{note} in {plural(packages, 'package')}",
            file=sys.stderr,
        )
    elif not result.unaudited and not any(s.error or s.unresolved for s in result.skipped):
        print(f"No known vulnerabilities found{note}", file=sys.stderr)
    elif result.audited:
        # Never let "no vulnerabilities" stand for dependencies nobody looked at.
        print(
            f"No known vulnerabilities found in the {len(result.audited)} dependencies that "
            f"could be audited{note}",
            file=sys.stderr,
        )
    if result.baseline_date is not None:
        states = [f.baseline_state for f in reported]
        print(
            f"{states.count('new')} new, {states.count('unchanged')} unchanged, "
            f"{len(result.absent)} fixed since {result.baseline_date}",
            file=sys.stderr,
        )
    if result.projects:
        failing = [shown(p.path, 200) for p in result.projects if p.fails]
        listed = f": {', '.join(failing[:10])}" + (" ..." if len(failing) > 10 else "")
        print(
            f"{len(failing)} of {plural(len(result.projects), 'project')} fail"
            f"{listed if failing else ''}",
            file=sys.stderr,
        )
    for message in policy.messages():
        log.warning("%s", message)  # the log formatter escapes and redacts
    for dep, status in result.adverse:
        print(
            f"warning: {shown(f'{dep.canonical_name} {dep.version}: {status.describe()}')}",
            file=sys.stderr,
        )
    if result.skipped:
        print(
            f"Skipped {plural(len(result.skipped), 'dependency', 'dependencies')} "
            "that could not be audited (see the report)",
            file=sys.stderr,
        )
    unreadable = say_unreadable(result.skipped)
    total = len({d.key for d, _ in result.audited} | {u.dependency.key for u in result.unaudited})
    if outcome.errors:
        first = outcome.errors[0]
        print(
            f"vulnsweep: error: {shown(str(first))}; {len(result.unaudited)} of {total} "
            "dependencies could not be audited",
            file=sys.stderr,
        )
        return EXIT_SERVICE
    unresolved = [s for s in result.skipped if s.unresolved]
    if unresolved and not result.unaudited:
        print(
            f"vulnsweep: error: {plural(len(unresolved), 'input')} could not be fully "
            f"resolved, so what they pull in is not audited; the first: "
            f"{shown(unresolved[0].reason)}",
            file=sys.stderr,
        )
        return EXIT_SERVICE
    if result.unaudited:
        print(
            f"vulnsweep: error: {len(result.unaudited)} of {total} dependencies could not be "
            f"fully audited, the first: {shown(_named(result.unaudited[0]))}",
            file=sys.stderr,
        )
        return EXIT_SERVICE
    if unreadable:
        return EXIT_USAGE
    if strict and result.skipped:
        return EXIT_USAGE
    if strict and result.adverse:
        return EXIT_VULNERABLE
    return EXIT_VULNERABLE if result.failing else EXIT_OK


def _named(unaudited: Unaudited) -> str:
    dep = unaudited.dependency
    return f"{dep.canonical_name} {dep.version}: {unaudited.reason}"


def say_unreadable(skipped: Sequence[SkippedDependency]) -> bool:
    """One error line for input that could not be read; True when there was any (the
    run then exits 2 at best, whatever else it found)."""
    unreadable = [s for s in skipped if s.error]
    if unreadable:
        print(
            f"vulnsweep: error: {plural(len(unreadable), 'input')} could not be read, the "
            f"first: {shown(unreadable[0].reason)}",
            file=sys.stderr,
        )
    return bool(unreadable)


def plural(count: int, singular: str, many: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (many or singular + 's')}"
