"""Projects of a monorepo walk, each with its own policy, and the policy a run applies.

A project is the nearest directory at or above a pinning file (up to the walk's root)
that holds a project marker: pyproject.toml, setup.py/setup.cfg, a lock file, or a
requirements*.txt. A nested directory with its own marker is its own project; a file
with no marker above it belongs to its own directory. Each project's policy is the
nearest vulnsweep.toml / [tool.vulnsweep] at or above it, inheriting its parents' ignores
up to the walk's root (and the run's own config) unless a file says `extend = false`;
`--ignore-vuln` on the command line applies everywhere.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vulnsweep.model import (
    AuditResult,
    Dependency,
    Finding,
    ProjectReport,
    SkippedDependency,
    Vulnerability,
)
from vulnsweep.policy import Gate, IgnorePolicy
from vulnsweep.policy.config import Config, config_in, load_config
from vulnsweep.sources.tree import project_directory

if TYPE_CHECKING:
    from vulnsweep.policy.baseline import Baseline
    from vulnsweep.triage.vex import Vex

log = logging.getLogger(__name__)

GATE_KEYS = ("min_severity", "only_fixable", "ignore_unknown_severity")


class ProjectMap:
    """Pinning file -> project directory (relative to the walk's root)."""

    def __init__(self, root: Path, known: dict[str, str] | None = None) -> None:
        self.root = root.resolve()
        self.known = known or {}  # file -> project, as a stored run saw them

    @functools.cache  # noqa: B019 - one map per run
    def project_of(self, file: str) -> str:
        if file in self.known:
            return self.known[file]
        return self._relative(project_directory(Path(file), self.root))

    def directory(self, project: str) -> Path:
        return self.root if project == "." else self.root / project

    def _relative(self, directory: Path) -> str:
        try:
            relative = directory.relative_to(self.root).as_posix()
        except ValueError:
            return directory.as_posix()
        return relative or "."


class ProjectPolicies:
    """Each project's IgnorePolicy, from its chain of config files."""

    def __init__(
        self,
        projects: ProjectMap,
        run_config: Config,
        ignore_ids: Sequence[str],
        gate: Gate,
        explicit_gate: Iterable[str] = (),
        today: dt.date | None = None,
        stored: dict[str, str] | None = None,
    ) -> None:
        self.projects = projects
        self.run_config = run_config
        self.ignore_ids = list(ignore_ids)
        self.gate = gate
        self.explicit_gate = set(explicit_gate)  # gate options given on the command line
        self.today = today
        # A recheck: the config files the stored run applied (absolute path -> text).
        self.stored = stored or {}
        self._configs: dict[Path, Config | None] = {}
        self.policies: dict[str, IgnorePolicy] = {}
        self.loaded: dict[str, str] = {}  # what this run applied, for the run history

    def _config(self, directory: Path) -> Config | None:
        if directory not in self._configs:
            self._configs[directory] = self._read(directory)
        return self._configs[directory]

    def _read(self, directory: Path) -> Config | None:
        """The directory's config as it is now; a stored run's copy when the file is
        gone (the checkout was deleted), and a warning either way when they differ."""
        path = config_in(directory)
        if path is not None:
            text = path.read_text(encoding="utf-8", errors="replace")
            before = self.stored.get(str(path.resolve()))
            if before is not None and before != text:
                log.warning("%s changed since the stored run; the file as it is now applies", path)
            self.loaded[str(path.resolve())] = text
            return load_config(path, text)
        for name in ("vulnsweep.toml", "pyproject.toml"):
            kept = self.stored.get(str(directory.resolve() / name))
            if kept is not None:
                log.warning("%s is gone; the copy stored with the run applies", directory / name)
                self.loaded[str(directory.resolve() / name)] = kept
                return load_config(directory / name, kept)
        return None

    def chain(self, project: str) -> list[Config]:
        """Nearest first, ending at the run's own config unless a file stops it."""
        start = self.projects.directory(project)
        chain: list[Config] = []
        for directory in (start, *start.parents):
            config = self._config(directory)
            if config is not None:
                chain.append(config)
                if not config.extend:
                    return chain
            if directory == self.projects.root:
                break
        run = self.run_config
        if run.path is not None and all(c.path != run.path for c in chain):
            chain.append(run)
        return chain

    def policy(self, project: str) -> IgnorePolicy:
        found = self.policies.get(project)
        if found is None:
            chain = self.chain(project)
            gate = self.gate
            for key in GATE_KEYS:
                if key in self.explicit_gate:
                    continue
                value = next((c.options[key] for c in chain if key in c.options), None)
                if value is not None:
                    if key == "min_severity":
                        value = str(value).upper()
                    gate = dataclasses.replace(gate, **{key: value})  # type: ignore[arg-type]
            for config in chain:
                other = sorted(set(config.options) - set(GATE_KEYS))
                if config is not self.run_config and other:
                    log.warning(
                        "%s: %s only apply in the run's own config; ignored here",
                        config.path,
                        ", ".join(o.replace("_", "-") for o in other),
                    )
            found = self.policies[project] = IgnorePolicy(
                self.ignore_ids,
                rules=[r for c in chain for r in c.rules],
                until_fixed=[i for c in chain for i in c.until_fixed],
                packages=[p for c in chain for p in c.packages],
                gate=gate,
                today=self.today,
            )
        return found


class ScopedPolicy:
    """The policy of a run: one policy, or each project's own in a monorepo walk; then
    the baseline's state on every finding and, with `--fail-on new`, only new findings
    fail. Writers hear findings already marked, so streamed output carries the state."""

    def __init__(
        self,
        default: IgnorePolicy,
        projects: ProjectPolicies | None = None,
        baseline: Baseline | None = None,
        fail_on: str = "any",
        today: dt.date | None = None,
    ) -> None:
        self.default = default
        self.projects = projects
        self.baseline = baseline
        self.fail_on = fail_on
        self.today = (today or dt.date.today()).isoformat()
        self.by_project: dict[str, list[Finding]] = {}
        self.files: dict[str, dict[str, None]] = {}
        self.counts: dict[str, int] = {}
        self.vex: Vex | None = None  # --vex statements, applied to every finding

    def findings(self, dependency: Dependency, vulns: Iterable[Vulnerability]) -> list[Finding]:
        vulns = list(vulns)
        if self.projects is None:
            return [self._mark(f) for f in self.default.findings(dependency, vulns)]
        names = self._projects_of(dependency)
        per = {name: self.projects.policy(name).findings(dependency, vulns) for name in names}
        for name, found in per.items():
            self.counts[name] = self.counts.get(name, 0) + 1
            self.by_project.setdefault(name, []).extend(self._mark(f) for f in found)
        return [
            self._mark(_strictest([found[i] for found in per.values()])) for i in range(len(vulns))
        ]

    def prepare(self, collected: Iterable[Dependency | SkippedDependency]) -> None:
        """Every project's policy, read before the audit starts: a broken config file
        is a usage error now, not a failure in the middle of the network stage."""
        if self.projects is None:
            return
        for item in collected:
            for name in self._projects_of(item):
                self.projects.policy(name)

    def _projects_of(self, dependency: Dependency | SkippedDependency) -> list[str]:
        assert self.projects is not None
        names: dict[str, None] = {}
        for origin in dependency.origins or ():
            name = self.projects.projects.project_of(origin.path)
            names[name] = None
            self.files.setdefault(name, {})[origin.path] = None
        return list(names) or ["."]

    def _mark(self, finding: Finding) -> Finding:
        finding = self._vex(finding)
        if self.baseline is None or finding.ignored:
            return finding
        state, first_seen = self.baseline.state(finding, self.today)
        passing = finding.passing_reason
        if self.fail_on == "new" and state == "unchanged" and passing is None:
            passing = f"unchanged since the baseline of {self.baseline.date} (--fail-on new)"
        return dataclasses.replace(
            finding, baseline_state=state, first_seen=first_seen, passing_reason=passing
        )

    def _vex(self, finding: Finding) -> Finding:
        """A VEX statement on this (package version, vulnerability): `not_affected`
        suppresses it (listed as suppressed, with the statement's justification, author
        and time); any other status annotates it. A malicious package is never hidden."""
        if self.vex is None or finding.ignored:
            return finding
        statement = self.vex.match(finding)
        if statement is None:
            return finding
        if statement.status != "not_affected" or finding.vulnerability.malicious:
            return dataclasses.replace(finding, vex=statement)
        why = statement.justification or statement.detail or "no justification given"
        who = ", ".join(x for x in (statement.author, statement.timestamp) if x)
        reason = f"VEX not_affected: {why} ({who + '; ' if who else ''}{statement.source})"
        return dataclasses.replace(
            finding, vex=statement, ignored_reason=reason, passing_reason=None
        )

    def messages(self) -> list[str]:
        policies = (
            [self.default] if self.projects is None else list(self.projects.policies.values())
        ) or [self.default]
        notes: dict[str, None] = {}
        for policy in policies:
            for note in policy.messages():
                if "matched no finding" not in note:
                    notes[note] = None
        # An entry is stale only when no project that has it used it.
        unused = [set(p.unused) for p in policies]
        for entry in sorted(set().union(*(p.entries for p in policies))):
            if all(entry in u for p, u in zip(policies, unused) if entry in p.entries):
                notes[f"ignore entry {entry} matched no finding (stale?)"] = None
        for note in self.vex.unused() if self.vex is not None else ():
            notes[note] = None
        return list(notes)

    def finish(self, result: AuditResult, owners: Callable[[str], tuple[str, ...]] | None) -> None:
        """Per-project reports, owners and the baseline's absent findings on the result."""
        if self.baseline is not None:
            unknown = {u.dependency.canonical_name for u in result.unaudited}
            unknown |= {s.canonical_name for s in result.skipped}
            result.absent = self.baseline.absent(result.reported, unknown)
            result.baseline_date = self.baseline.date
        if owners is not None:  # only then: a walk of every origin of every pin
            files = {o.path for dep, _ in result.audited for o in dep.origins}
            files |= {o.path for s in result.skipped for o in s.origins}
            result.owners = {f: owners(f) for f in sorted(files)}
        if self.projects is None:
            return
        skipped: dict[str, int] = {}
        for skip in result.skipped:
            for name in self._projects_of(skip):
                skipped[name] = skipped.get(name, 0) + 1
        for dep in (u.dependency for u in result.unaudited):
            for name in self._projects_of(dep):
                skipped[name] = skipped.get(name, 0) + 1
        reports = []
        for name in sorted(set(self.counts) | set(skipped) | set(self.files)):
            project_files = tuple(self.files.get(name, ()))
            project_owners: dict[str, None] = {}
            for file in project_files:
                for owner in result.owners.get(file, ()):
                    project_owners[owner] = None
            reports.append(
                ProjectReport(
                    path=name,
                    owners=tuple(project_owners),
                    files=project_files,
                    findings=tuple(self.by_project.get(name, ())),
                    dependencies=self.counts.get(name, 0),
                    skipped=skipped.get(name, 0),
                )
            )
        result.projects = reports


def _strictest(findings: list[Finding]) -> Finding:
    """The run-wide finding of a dependency several projects pin: it fails if it fails
    anywhere, is reported if any project reports it, and is ignored only when every
    project ignores it."""
    for finding in findings:
        if finding.fails:
            return finding
    for finding in findings:
        if not finding.ignored:
            return finding
    return findings[0]
