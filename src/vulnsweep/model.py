"""The small frozen types every stage speaks: sources emit Dependencies, services
attach Vulnerabilities, policy turns them into Findings, writers render those."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.version import Version

_CANONICAL_NAME = re.compile(r"[-_.]+")
_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


@cache
def canonical_name(name: str) -> str:
    """PEP 503 normalisation; cheaper than importing packaging.utils on the warm path."""
    return _CANONICAL_NAME.sub("-", name).lower()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a fact entered: a file and, where the format has one, a 1-based line.

    `column`, when known, is where the pinned version starts on that line (0-based), so
    `--fix` edits exactly what the reader read instead of parsing the line again."""

    path: str
    line: int | None = None
    column: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Dependency:
    """One pinned (name, version) and every place that pins it.

    A resolved dependency also knows how it was reached: each path is a chain of
    project names from a requirement the user wrote down to this package. Slots and
    an eagerly computed key: a monorepo run holds hundreds of thousands of these.
    """

    name: str
    version: str
    origins: tuple[Origin, ...] = ()
    paths: tuple[tuple[str, ...], ...] = ()
    canonical_name: str = field(init=False, repr=False, compare=False)
    # Identity for deduplication: PEP 503 name and PEP 440-equal version.
    key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = canonical_name(self.name)
        object.__setattr__(self, "canonical_name", name)
        object.__setattr__(self, "key", (name, version_key(self.version)))

    @property
    def via(self) -> str | None:
        """How a resolved dependency was reached ("app -> flask"), "(direct)" when a
        requirement names it; None when it was pinned rather than resolved."""
        if not self.paths:
            return None
        chain = self.paths[0][:-1]
        return " -> ".join(chain) if chain else "(direct)"


@dataclass(frozen=True)
class SkippedDependency:
    """A dependency we could not audit honestly, and why."""

    name: str
    reason: str
    origins: tuple[Origin, ...] = ()
    version: str | None = None
    # Input that could not be read (an invalid line, a broken file in a tree walk):
    # reported with everything else, and the run exits 2 -- never a clean exit.
    error: bool = False
    # What could not be resolved without running code (dynamic dependencies, an sdist
    # with no static metadata, a VCS or path reference): what lies beneath it is not
    # known, so the run exits 3, as for anything else it could not audit.
    unresolved: bool = False

    def __post_init__(self) -> None:
        # Names and reasons quote input lines; a token in a URL must reach no report.
        from vulnsweep.redact import redact_text

        object.__setattr__(self, "name", redact_text(self.name))
        object.__setattr__(self, "reason", redact_text(self.reason))

    @cached_property
    def canonical_name(self) -> str:
        """PEP 503 form of a project name; anything else (a file that could not be
        read, a line that is no requirement) is kept as written."""
        if _PROJECT_NAME.match(self.name):
            return canonical_name(self.name)
        return self.name


@dataclass(frozen=True, slots=True)
class RequirementLine:
    """One requirement as written (PEP 508 text) and where."""

    text: str
    origin: Origin


@dataclass(frozen=True)
class ResolutionRequest:
    """Requirements that are not all pinned, resolved together as pip would install
    them: one requirements file (with its includes) or one project's dependencies."""

    label: str  # the file the set came from
    requirements: tuple[RequirementLine, ...]
    constraints: tuple[RequirementLine, ...] = ()
    index_url: str | None = None  # the file's own --index-url, over the command line's
    extra_index_urls: tuple[str, ...] = ()
    pre: bool = False
    project: str | None = None  # heads every dependency path (a pyproject's name)
    project_version: str | None = None  # its static version: requirements on it must agree
    tolerant: bool = False  # in a tree walk a failure becomes a skipped entry
    # A lock being re-resolved (`--fix`): these versions are kept where the new set
    # allows them, and what must move moves as little as it can (lock tools' rule).
    preferred: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class KnownExploited:
    """An entry of CISA's Known Exploited Vulnerabilities catalogue."""

    cve: str
    date_added: str | None = None
    due_date: str | None = None
    ransomware: str | None = None  # knownRansomwareCampaignUse: "Known" / "Unknown"


@dataclass(frozen=True, slots=True)
class Epss:
    """FIRST's Exploit Prediction Scoring System: the probability of exploitation in the
    next 30 days, its percentile among all scored CVEs, and the day it was scored."""

    cve: str
    probability: float
    percentile: float
    date: str | None = None


@dataclass(frozen=True, slots=True)
class Vulnerability:
    """One advisory as it applies to one package (fix versions are per package)."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str | None = None
    details: str | None = None
    fix_versions: tuple[str, ...] = ()
    modified: str | None = None
    severity: str | None = None  # LOW / MEDIUM / HIGH / CRITICAL; None when not given
    score: float | None = None  # the highest CVSS base score among the vectors
    vector: str | None = None  # the CVSS vector that score came from
    # Exploitation signals (triage/): unknown is None, never zero. `kev_checked` says a
    # catalogue was consulted for one of its CVEs: then None means "not listed".
    kev: KnownExploited | None = None
    kev_checked: bool = False
    epss: Epss | None = None
    malicious: bool = False  # an OSV MAL- advisory: fails whatever else is said

    @property
    def url(self) -> str:
        return f"https://osv.dev/vulnerability/{self.id}"

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    @property
    def description(self) -> str:
        """pip-audit's description: the summary when there is one, on one line."""
        text = self.summary or self.details or "N/A"
        return text.replace("\n", " ")


@dataclass(frozen=True, slots=True)
class VexStatement:
    """One statement of a VEX document (OpenVEX or CycloneDX), in OpenVEX's words."""

    ids: frozenset[str]  # the vulnerability's name and aliases
    products: tuple[tuple[str, str | None], ...]  # (canonical name, version or None)
    status: str  # not_affected | affected | fixed | under_investigation
    justification: str | None = None
    detail: str | None = None  # impact or action statement
    author: str | None = None
    timestamp: str | None = None
    source: str = ""  # "file: statement N"


@dataclass(frozen=True, slots=True)
class Finding:
    dependency: Dependency
    vulnerability: Vulnerability
    ignored_reason: str | None = None  # not reported as a vulnerability at all
    passing_reason: str | None = None  # reported, but does not fail the run
    baseline_state: str | None = None  # "new" | "unchanged" when a baseline is given
    first_seen: str | None = None  # ISO date, from the baseline or this run
    vex: VexStatement | None = None  # the VEX statement that speaks of it, if any

    @property
    def ignored(self) -> bool:
        return self.ignored_reason is not None

    @property
    def fails(self) -> bool:
        return self.ignored_reason is None and self.passing_reason is None


@dataclass(frozen=True, slots=True)
class Unaudited:
    """A dependency a service failed to answer for; never silently dropped."""

    dependency: Dependency
    reason: str


@dataclass(frozen=True, slots=True)
class ProjectStatus:
    """What the package index says about a project and a release (PEP 792, PEP 592)."""

    status: str | None = None  # archived / quarantined / deprecated (None: active)
    reason: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None

    @property
    def adverse(self) -> bool:
        return self.yanked or self.status in ("archived", "quarantined", "deprecated")

    def describe(self) -> str:
        parts = []
        if self.status and self.status != "active":
            parts.append(f"project {self.status}" + (f": {self.reason}" if self.reason else ""))
        if self.yanked:
            parts.append(
                "release yanked" + (f": {self.yanked_reason}" if self.yanked_reason else "")
            )
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class FixResult:
    """pip-audit's `fixes` entries: applied (new_version) or not (skip_reason)."""

    name: str
    old_version: str
    new_version: str | None = None
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One release a fix moves, adds or drops. `closes`: the advisories it fixes (a
    vulnerable release); `because`: why it moves when it is not itself vulnerable."""

    name: str
    old_version: str | None  # None: new to the lock
    new_version: str | None  # None: no longer needed
    closes: tuple[str, ...] = ()
    because: str = ""


@dataclass(frozen=True, slots=True)
class BlockedFix:
    """A vulnerable release left alone, and what stops every fix (a cap's file:line)."""

    name: str
    version: str
    reason: str
    advisories: tuple[str, ...] = ()
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class DeadEnd:
    """A fix on a line of releases that has stopped, and the smallest fix on a line
    that is still released (None when the index has none)."""

    name: str
    version: str
    line: str
    last_release: str  # "1.26.20 on 2024-08-29"
    alternative: str | None


@dataclass(frozen=True)
class FixPlan:
    """What `--fix` does to one file that pins (a lock or a compiled requirements file)."""

    file: str
    format: str  # "requirements" or a lock file name ("uv.lock", ...)
    changes: tuple[PlannedChange, ...] = ()
    blocked: tuple[BlockedFix, ...] = ()
    dead_ends: tuple[DeadEnd, ...] = ()
    written: bool = False
    note: str | None = None  # why the file was not written, when it was not


@dataclass(frozen=True, slots=True)
class PastFinding:
    """A finding of an earlier run (a baseline). Reports list the ones this run no
    longer has -- fixed, or gone -- as absent."""

    name: str  # canonical
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    first_seen: str | None = None

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))


@dataclass(frozen=True)
class ProjectReport:
    """One project of a monorepo walk: its findings under its own policy, its owners
    (CODEOWNERS) and its own verdict."""

    path: str  # relative to the walk's root; "." for the root itself
    owners: tuple[str, ...]
    files: tuple[str, ...]
    findings: tuple[Finding, ...]
    dependencies: int
    skipped: int = 0

    @property
    def reported(self) -> list[Finding]:
        return [f for f in self.findings if not f.ignored]

    @property
    def fails(self) -> bool:
        return any(f.fails for f in self.findings)


@dataclass
class AuditResult:
    """Everything one run learned, in the order writers need it."""

    audited: list[tuple[Dependency, list[Finding]]] = field(default_factory=list)
    skipped: list[SkippedDependency] = field(default_factory=list)
    unaudited: list[Unaudited] = field(default_factory=list)
    statuses: dict[tuple[str, str], ProjectStatus] = field(default_factory=dict)
    fixes: list[FixResult] = field(default_factory=list)
    plans: list[FixPlan] = field(default_factory=list)  # --fix: per file that pins
    projects: list[ProjectReport] = field(default_factory=list)  # a monorepo walk only
    absent: list[PastFinding] = field(default_factory=list)  # with a baseline only
    baseline_date: str | None = None  # when the baseline report was made
    generated_at: str | None = None  # when this report was made (UTC, ISO 8601)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)  # file -> owners
    # What exploitation data the run consulted ("KEV 2025.08.25, EPSS 2025-09-03"); when
    # set, every finding says kev/epss, unknown included. None: none was available.
    exploitation: str | None = None

    @property
    def adverse(self) -> list[tuple[Dependency, ProjectStatus]]:
        return [
            (dep, self.statuses[dep.key])
            for dep, _ in self.audited
            if dep.key in self.statuses and self.statuses[dep.key].adverse
        ]

    @property
    def findings(self) -> list[Finding]:
        return [f for _, fs in self.audited for f in fs]

    @property
    def reported(self) -> list[Finding]:
        return [f for f in self.findings if not f.ignored]

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if f.fails]


@cache
def parse_version(text: str) -> Version | None:
    """PEP 440 parse, once per distinct string for the whole run; None if invalid."""
    from packaging.version import Version

    try:
        return Version(text)
    except ValueError:  # InvalidVersion, or a number past int()'s 4,300-digit limit
        return None


@cache
def version_key(version: str) -> str:
    """A string equal for PEP 440-equal versions (1.0 == 1.0.0); raw text otherwise."""
    parsed = parse_version(version)
    if parsed is None:
        return version.strip()
    return parsed_version_key(parsed)


def parsed_version_key(parsed: Version) -> str:
    release = list(parsed.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    parts = [f"{parsed.epoch}!" if parsed.epoch else "", ".".join(map(str, release))]
    if parsed.pre is not None:
        parts.append(f"{parsed.pre[0]}{parsed.pre[1]}")
    if parsed.post is not None:
        parts.append(f".post{parsed.post}")
    if parsed.dev is not None:
        parts.append(f".dev{parsed.dev}")
    if parsed.local is not None:
        parts.append(f"+{parsed.local}")
    return "".join(parts)
