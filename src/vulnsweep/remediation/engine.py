"""`--fix` from end to end: plan every unit, write every file (all or nothing), and
fall back to single-pin edits for hand-written files."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from vulnsweep.errors import InputError, VulnsweepError
from vulnsweep.model import AuditResult, BlockedFix, FixPlan, FixResult
from vulnsweep.remediation import pins, writers
from vulnsweep.remediation.pins import Auditor
from vulnsweep.remediation.planner import Planned, Resolver, Unresolvable, plan_unit
from vulnsweep.remediation.releases import ReleaseFiles, hashes_for
from vulnsweep.remediation.units import FixUnit, units_of

log = logging.getLogger(__name__)

Pages = Callable[[Sequence[str]], dict[str, ReleaseFiles]]
# Index pages from a given index (None: the command line's), as the run reads them.
IndexPages = Callable[[Sequence[str], "str | None"], dict[str, ReleaseFiles]]


@dataclass
class Remedy:
    plans: list[FixPlan] = field(default_factory=list)
    rewrites: list[pins.Rewrite] = field(default_factory=list)
    single: list[pins.Fix] = field(default_factory=list)  # hand-written pins
    refused: list[InputError] = field(default_factory=list)  # files that cannot be written

    @property
    def fixes(self) -> list[FixResult]:
        """pip-audit's `fixes` list: one entry per vulnerable release."""
        out = [
            FixResult(p.dependency.canonical_name, p.dependency.version, p.new_version,
                      p.skip_reason)
            for p in self.single
        ]  # fmt: skip
        for plan in self.plans:
            for change in plan.changes:
                if change.closes and change.old_version:
                    out.append(FixResult(change.name, change.old_version, change.new_version))
            for blocked in plan.blocked:
                out.append(FixResult(blocked.name, blocked.version, None, blocked.reason))
        return out


def remediate(
    result: AuditResult, resolve: Resolver, audit: Auditor, pages: IndexPages, *, write: bool
) -> Remedy:
    """Plans and new file contents; files are only replaced by `pins.apply`. `write`:
    the new contents are wanted (to write, or to show as a diff)."""
    remedy = Remedy()
    units, covered = units_of(result)
    for unit in units:
        index = unit.declared.index_url if unit.declared is not None else None

        def unit_pages(names: Sequence[str], index: str | None = index) -> dict[str, ReleaseFiles]:
            return pages(names, index)

        hashes = _hashes(unit_pages)
        try:
            planned = plan_unit(unit, resolve, audit, unit_pages)
        except Unresolvable as exc:
            if unit.format == "requirements":
                log.warning(
                    "--fix: %s does not resolve as a whole here (%s); its vulnerable pins "
                    "are edited in place, and what they need is not added",
                    unit.path,
                    exc,
                )
                covered.discard(str(unit.path))
            else:  # a lock is written whole or not at all
                remedy.plans.append(_unresolvable(unit, str(exc)))
            continue
        try:
            rewrite, note = _write(planned, hashes, unit_pages, write)
        except InputError as exc:  # refused (no hashes, an old lock version): none written
            remedy.refused.append(exc)
            rewrite, note = None, exc.message
        if rewrite is not None:
            remedy.rewrites.append(rewrite)
        plan = planned.as_written()
        remedy.plans.append(replace(plan, written=rewrite is not None, note=note))
    rest = _without(result, covered)
    hashes = _hashes(lambda names: pages(names, None))
    remedy.single = pins.plan(rest, lambda deps: audit(deps))
    remedy.rewrites += pins.rewrite_files(remedy.single, lambda pairs: hashes(pairs))
    return remedy


def _unresolvable(unit: FixUnit, reason: str) -> FixPlan:
    """A lock whose own requirements do not resolve here: every vulnerable release
    stays, and says why."""
    why = f"the lock does not resolve as a whole here ({reason})"
    return FixPlan(
        file=str(unit.path),
        format=unit.format,
        blocked=tuple(
            BlockedFix(name, unit.locked[name].version, why, tuple(v.id for v in vulns))
            for name, vulns in sorted(unit.vulnerable.items())
        ),
        note="nothing can be planned: " + why,
    )


def _write(
    planned: Planned,
    hashes: Callable[..., dict[tuple[str, str], list[str]]],
    pages: Pages,
    write: bool,
) -> tuple[pins.Rewrite | None, str | None]:
    if not planned.plan.changes:
        return None, None
    fmt = planned.unit.format
    if fmt == "requirements":
        return writers.write_requirements(planned, hashes), None
    if fmt == "uv.lock":
        if not write:
            return None, None  # a dry run without --diff: no need to ask uv
        try:
            return writers.write_uv_lock(planned)
        except VulnsweepError as exc:
            return None, str(exc)
    if fmt == "pylock.toml":
        return writers.write_pylock(planned, pages), None
    if fmt == "poetry.lock":
        return writers.write_poetry_lock(planned, pages), None
    if fmt == "pdm.lock":
        return writers.write_pdm_lock(planned, pages), None
    if fmt == "Pipfile.lock":
        return writers.write_pipfile_lock(planned, pages), None
    return None, f"{fmt}: no writer"


def _hashes(
    pages: Pages,
) -> Callable[[Sequence[tuple[str, str]]], dict[tuple[str, str], list[str]]]:
    def get(pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        return hashes_for(pages(sorted({name for name, _ in pairs})), pairs)

    return get


def _without(result: AuditResult, covered: set[str]) -> AuditResult:
    """The audit with the units' files taken out of every origin."""
    if not covered:
        return result
    kept = []
    for dep, findings in result.audited:
        origins = tuple(o for o in dep.origins if o.path not in covered)
        if not origins and dep.origins:
            continue
        if len(origins) != len(dep.origins):
            dep = replace(dep, origins=origins)
        kept.append((dep, findings))
    return replace(result, audited=kept)
