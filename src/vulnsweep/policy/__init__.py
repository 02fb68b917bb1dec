"""Policy: which findings count, and which fail the run.

Ignores (from `--ignore-vuln` or a config file) match an advisory's id or any of its
aliases, optionally only for one package and only until a date; `ignore-until-fixed`
ignores while no fix exists; `ignore-packages` ignores whole packages. Findings that
are reported but should not fail the run (`--only-fixable`, `--min-severity`) are
marked instead of hidden.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from vulnsweep.advisories.severity import LEVELS
from vulnsweep.model import Dependency, Finding, Vulnerability, canonical_name


@dataclass(frozen=True)
class IgnoreRule:
    id: str
    reason: str
    package: str | None = None  # canonical name; None: every package
    until: dt.date | None = None  # applies through this day
    source: str = "--ignore-vuln"

    def expired(self, today: dt.date) -> bool:
        return self.until is not None and today > self.until

    def matches(self, dependency: Dependency, vulnerability: Vulnerability) -> bool:
        if self.package is not None and self.package != dependency.canonical_name:
            return False
        return self.id in vulnerability.ids


@dataclass(frozen=True)
class Gate:
    """What makes a reported finding fail the run."""

    min_severity: str | None = None
    ignore_unknown_severity: bool = False
    only_fixable: bool = False
    only_kev: bool = False  # --fail-on kev
    min_epss: float | None = None  # a probability, 0 to 1
    unknown_risk: str = "fail"  # a signal no data gives: "fail" (fail closed) or "pass"

    def passing_reason(self, vulnerability: Vulnerability) -> str | None:
        if vulnerability.malicious:
            return None  # a malicious package fails whatever any gate says
        if self.only_kev:
            if vulnerability.kev is None and vulnerability.kev_checked:
                return "not in CISA's KEV catalogue (--fail-on kev)"
            if vulnerability.kev is None and self.unknown_risk == "pass":
                return "KEV status unknown: no CVE to look up (--unknown-risk pass)"
        if self.min_epss is not None:
            epss = vulnerability.epss
            if epss is None and self.unknown_risk == "pass":
                return "no EPSS score (--unknown-risk pass)"
            if epss is not None and epss.probability < self.min_epss:
                return f"EPSS {epss.probability:.5f} below --min-epss {self.min_epss:g}"
        if self.only_fixable and not vulnerability.fix_versions:
            return "no fix available (--only-fixable)"
        if self.min_severity is not None:
            if vulnerability.severity is None:
                if self.ignore_unknown_severity:
                    return "unknown severity (--ignore-unknown-severity)"
            elif LEVELS.index(vulnerability.severity) < LEVELS.index(self.min_severity):
                return f"severity {vulnerability.severity} below --min-severity {self.min_severity}"
        return None


class FindingPolicy(Protocol):
    """What the audit stage asks of policy: a dependency's findings, then its notes."""

    def findings(self, dependency: Dependency, vulns: Iterable[Vulnerability]) -> list[Finding]: ...

    def messages(self) -> list[str]: ...


class IgnorePolicy:
    def __init__(
        self,
        ignore_ids: Iterable[str] = (),
        *,
        rules: Sequence[IgnoreRule] = (),
        until_fixed: Iterable[str] = (),
        packages: Iterable[str] = (),
        gate: Gate | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.today = today or dt.date.today()
        cli = [IgnoreRule(i.strip(), "ignored with --ignore-vuln") for i in ignore_ids if i.strip()]
        all_rules = [*cli, *rules]
        self.rules = [r for r in all_rules if not r.expired(self.today)]
        self.expired = [r for r in all_rules if r.expired(self.today)]
        self.until_fixed = {i.strip() for i in until_fixed if i.strip()}
        self.packages = {canonical_name(p) for p in packages}
        self.gate = gate or Gate()
        self._used: set[int] = set()
        self._used_until_fixed: set[str] = set()
        # ignore-until-fixed entries whose advisory has a fix now: reported again.
        self.fixed_now: dict[str, tuple[str, ...]] = {}

    @property
    def ignore_ids(self) -> set[str]:
        return {r.id for r in self.rules}

    def findings(self, dependency: Dependency, vulns: Iterable[Vulnerability]) -> list[Finding]:
        out = []
        for vuln in vulns:
            reason = self._ignored(dependency, vuln)
            passing = None if reason else self.gate.passing_reason(vuln)
            out.append(Finding(dependency, vuln, reason, passing))
        return out

    def _ignored(self, dependency: Dependency, vuln: Vulnerability) -> str | None:
        if vuln.malicious:
            # Only an ignore naming this very advisory may hide a malicious package:
            # no package-wide, until-fixed or severity rule does.
            rule = next((r for r in self.rules if r.matches(dependency, vuln)), None)
            return None if rule is None else f"{rule.reason} [{rule.source}]"
        if dependency.canonical_name in self.packages:
            return f"package {dependency.canonical_name} is in ignore-packages"
        for index, rule in enumerate(self.rules):
            if rule.matches(dependency, vuln):
                self._used.add(index)
                if rule.source == "--ignore-vuln":
                    return f"--ignore-vuln {rule.id}"
                until = f" (until {rule.until.isoformat()})" if rule.until else ""
                return f"{rule.reason}{until} [{rule.source}]"
        matched = sorted(self.until_fixed & vuln.ids)
        if matched and not vuln.fix_versions:
            self._used_until_fixed.update(matched)
            return f"ignore-until-fixed {matched[0]}: no fix exists yet"
        if matched:
            self._used_until_fixed.update(matched)
            self.fixed_now.setdefault(matched[0], vuln.fix_versions)
        return None

    @property
    def entries(self) -> set[str]:
        """Every ignore entry by id: what `unused` may name."""
        return {r.id for r in self.rules} | self.until_fixed

    @property
    def unused(self) -> list[str]:
        """Ignore entries that matched nothing: likely stale, worth saying so."""
        stale = [r.id for i, r in enumerate(self.rules) if i not in self._used]
        stale += sorted(self.until_fixed - self._used_until_fixed)
        return sorted(set(stale))

    def messages(self) -> list[str]:
        notes = [
            f"ignore for {r.id} expired on {r.until.isoformat()} ({r.source}): it is reported again"
            for r in self.expired
            if r.until is not None
        ]
        notes += [
            f"ignore-until-fixed {i}: a fix exists now ({', '.join(fixes)}); it is reported again"
            for i, fixes in sorted(self.fixed_now.items())
        ]
        notes += [f"ignore entry {i} matched no finding (stale?)" for i in self.unused]
        return notes
