"""A plan that resolves: each unit is re-resolved as its lock tool would, with every
fix as a floor (`name>=fixed`) and every locked version preferred, so only what must
move moves, each by as little as it can.

Rounds: resolve, audit what moved (a new release can carry advisories of its own),
raise those floors, resolve again. A floor the project's own requirements rule out is
not tried: the plan names the requirement's file:line and leaves the release alone.
A floor no resolution can meet (a parent's cap) is dropped with pip's explanation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from vulnsweep.errors import InputError
from vulnsweep.model import (
    BlockedFix,
    DeadEnd,
    Dependency,
    FixPlan,
    Origin,
    PlannedChange,
    RequirementLine,
    ResolutionRequest,
    canonical_name,
    parse_version,
    version_key,
)
from vulnsweep.remediation.pins import Auditor, smallest_fix
from vulnsweep.remediation.releases import ReleaseFiles, dead_end
from vulnsweep.remediation.units import FixUnit

log = logging.getLogger(__name__)

MAX_ROUNDS = 6
FIX_ORIGIN = Origin("vulnsweep --fix")


@dataclass
class Resolution:
    versions: dict[str, str]  # canonical name -> version
    wanted_by: dict[str, list[tuple[str, str]]]  # name -> [(who, requirement text)]
    # name -> (Requires-Dist, Requires-Python) of the chosen release
    metadata: dict[str, tuple[tuple[str, ...], str | None]] = field(default_factory=dict)


Resolver = Callable[[ResolutionRequest], Resolution]  # raises InputError when impossible


class Unresolvable(Exception):
    """The unit's own requirements do not resolve here, fixes or not (a partial file,
    an index without its packages): its pins can only be edited in place."""


@dataclass
class Planned:
    unit: FixUnit
    plan: FixPlan
    versions: dict[str, str] = field(default_factory=dict)  # the whole new set
    wanted_by: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    metadata: dict[str, tuple[tuple[str, ...], str | None]] = field(default_factory=dict)
    actual: dict[str, str] | None = None  # what the format's own tool locked, if it did

    def as_written(self) -> FixPlan:
        """The plan with what the tool actually wrote: its universal resolution may drop
        or move more than this platform's plan said."""
        if self.actual is None:
            return self.plan
        planned = {c.name: c for c in self.plan.changes}
        locked = {name: dep.version for name, dep in self.unit.locked.items()}
        changes = []
        for name in sorted(set(locked) | set(self.actual) | set(planned)):
            old, new = locked.get(name), self.actual.get(name)
            if old is not None and new is not None and version_key(old) == version_key(new):
                continue
            change = planned.get(name)
            if change is not None and change.new_version == new:
                changes.append(change)
            elif new is None:
                changes.append(PlannedChange(name, old, None, because="no longer needed"))
            else:
                why = change.because if change is not None else "moved by the lock tool"
                changes.append(PlannedChange(name, old, new, change.closes if change else (), why))
        return replace(self.plan, changes=tuple(changes))


def plan_unit(
    unit: FixUnit,
    resolve: Resolver,
    audit: Auditor,
    pages: Callable[[Sequence[str]], dict[str, ReleaseFiles]],
) -> Planned:
    declared = unit.declared or ResolutionRequest(label=str(unit.path), requirements=())
    locked = {name: dep.version for name, dep in unit.locked.items()}
    floors: dict[str, Version] = {}
    blocked: dict[str, BlockedFix] = {}
    for name, vulns in unit.vulnerable.items():
        dep = unit.locked[name]
        ids = tuple(v.id for v in vulns)
        current = parse_version(dep.version)
        if current is None:
            blocked[name] = BlockedFix(name, dep.version, "its version is not PEP 440", ids)
            continue
        target, unfixed = smallest_fix(current, vulns)
        if target is None:
            blocked[name] = BlockedFix(
                name, dep.version, f"{unfixed} has no fix version above {dep.version}", ids
            )
            continue
        cap = _cap(declared, name, target)
        if cap is not None:
            blocked[name] = BlockedFix(
                name,
                dep.version,
                f"{cap.text} rules out every fix (the smallest is {target})",
                ids,
                cap.origin,
            )
            continue
        floors[name] = target
    resolution = Resolution(dict(locked), {})
    raised_by_audit: set[str] = set()
    for _ in range(MAX_ROUNDS):
        if not floors:
            break
        resolution = _resolve_with(resolve, declared, unit, floors, locked, blocked)
        moved = [
            Dependency(name, version)
            for name, version in resolution.versions.items()
            if name not in locked or version_key(locked[name]) != version_key(version)
        ]
        answers = audit(moved)
        again = False
        for dep in moved:
            found = answers.get(dep.key)
            if not found:
                continue  # clean, or not audited: the re-audit reports it either way
            current = parse_version(dep.version)
            target, _ = smallest_fix(current, found) if current else (None, None)
            if target is not None and (
                dep.canonical_name not in floors or target > floors[dep.canonical_name]
            ):
                floors[dep.canonical_name] = target
                raised_by_audit.add(dep.canonical_name)
                again = True
        if not again:
            break
    changes = _changes(unit, locked, resolution, raised_by_audit)
    dead = _dead_ends(changes, audit, pages)
    plan = FixPlan(
        file=str(unit.path),
        format=unit.format,
        changes=tuple(changes),
        blocked=tuple(blocked[name] for name in sorted(blocked)),
        dead_ends=tuple(dead),
    )
    return Planned(unit, plan, resolution.versions, resolution.wanted_by, resolution.metadata)


def _cap(declared: ResolutionRequest, name: str, target: Version) -> RequirementLine | None:
    """The project's own requirement or constraint that excludes `target` and every
    release above it (an upper bound), if there is one."""
    for line in (*declared.requirements, *declared.constraints):
        try:
            parsed = Pep508(line.text)
        except InvalidRequirement:
            continue
        if canonical_name(parsed.name) != name:
            continue
        for clause in parsed.specifier:
            if clause.operator in ("<", "<=", "~=", "==", "===") and not clause.contains(
                target, prereleases=True
            ):
                if clause.operator == "==" and clause.version.endswith(".*"):
                    prefix = Version(clause.version[:-2])
                    if target < prefix:
                        continue  # a later series: not a cap
                return line
    return None


def _resolve_with(
    resolve: Resolver,
    declared: ResolutionRequest,
    unit: FixUnit,
    floors: dict[str, Version],
    locked: dict[str, str],
    blocked: dict[str, BlockedFix],
) -> Resolution:
    def attempt(active: dict[str, Version]) -> Resolution:
        request = replace(
            declared,
            label=str(unit.path),
            constraints=(
                *declared.constraints,
                *(RequirementLine(f"{n}>={v}", FIX_ORIGIN) for n, v in sorted(active.items())),
            ),
            preferred=tuple(sorted(locked.items())),
            tolerant=False,
        )
        return resolve(request)

    try:
        return attempt(floors)
    except InputError as first:
        failure = first
    if len(floors) == 1:
        try:
            attempt({})
        except InputError as base:
            raise Unresolvable(base.message) from None
    # Which floor cannot be met: try without each in turn (cached pages make it cheap).
    for name in sorted(floors):
        rest = {n: v for n, v in floors.items() if n != name}
        try:
            found = attempt(rest)
        except InputError:
            continue
        _block(unit, blocked, name, floors[name], failure)
        del floors[name]
        return found
    try:
        attempt({})
    except InputError as base:
        raise Unresolvable(base.message) from None
    for name in sorted(floors):
        _block(unit, blocked, name, floors[name], failure)
    floors.clear()
    return Resolution(dict(locked), {})


def _block(
    unit: FixUnit, blocked: dict[str, BlockedFix], name: str, floor: Version, failure: InputError
) -> None:
    dep = unit.locked.get(name)
    version = dep.version if dep is not None else "?"
    ids = tuple(v.id for v in unit.vulnerable.get(name, ()))
    blocked[name] = BlockedFix(
        name, version, f"no resolution allows {name}>={floor}: {failure.message}", ids
    )


def _allows(requirement: str, version: str) -> bool:
    try:
        specifier = Pep508(requirement).specifier
    except InvalidRequirement:
        return True
    parsed = parse_version(version)
    return parsed is None or SpecifierSet(str(specifier)).contains(parsed, prereleases=True)


def _changes(
    unit: FixUnit, locked: dict[str, str], resolution: Resolution, raised: set[str]
) -> list[PlannedChange]:
    out = []
    removable = unit.format == "requirements"  # a universal lock keeps other platforms'
    for name in sorted(set(locked) | set(resolution.versions)):
        old = locked.get(name)
        new = resolution.versions.get(name)
        if new is None:
            if removable and _orphaned(unit, name, locked, resolution) and name not in unit.marked:
                out.append(PlannedChange(name, old, None, because="no longer needed"))
            continue
        if old is not None and version_key(old) == version_key(new):
            continue
        closes = tuple(v.id for v in unit.vulnerable.get(name, ()))
        who = resolution.wanted_by.get(name, [])
        if closes:
            because = ""
        elif old is None:
            because = "needed by " + ", ".join(f"{w} ({text})" for w, text in who)
        else:
            excluded = [f"{w} requires {text}" for w, text in who if not _allows(text, old)]
            if excluded:
                because = "; ".join(excluded)
            elif name in raised:
                because = f"the release it first moved to has advisories; {new} has none"
            else:
                because = "moved by the new set"
        out.append(PlannedChange(name, old, new, closes, because))
    return out


def _orphaned(unit: FixUnit, name: str, locked: dict[str, str], resolution: Resolution) -> bool:
    """Dropped only when every package the file says needed it has moved or gone: a
    compiled file may be for another interpreter or platform than this one, so what
    this resolution merely does not reach stays (redis's async-timeout on 3.11.0)."""
    parents = [v.split()[0] for v in unit.via.get(name, ()) if v.split()]
    if not parents or any(p.startswith("-") or "(" in p for p in parents):
        return False  # asked for by the user, or nothing says who needs it
    for parent in map(canonical_name, parents):
        before, after = locked.get(parent), resolution.versions.get(parent)
        if before is not None and after is not None and version_key(before) == version_key(after):
            return False
    return True


def _dead_ends(
    changes: Sequence[PlannedChange],
    audit: Auditor,
    pages: Callable[[Sequence[str]], dict[str, ReleaseFiles]],
) -> list[DeadEnd]:
    fixed = [c for c in changes if c.closes and c.new_version]
    if not fixed:
        return []
    found = pages([c.name for c in fixed])
    out = []
    for change in fixed:
        files = found.get(change.name)
        if files is None or change.new_version is None:
            continue

        def clean(version: str, name: str = change.name) -> bool:
            return audit([Dependency(name, version)]).get((name, version_key(version))) == []

        end = dead_end(change.name, change.new_version, files, clean)
        if end is not None:
            out.append(end)
    return out
