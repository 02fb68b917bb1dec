"""The fix plan for people: per file, what moves and why, what stays blocked and by
what; across a tree, one entry per vulnerable release with every project needing it
(markdown that works as a pull-request or issue body)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from vulnsweep.model import FixPlan, PlannedChange


def change_text(change: PlannedChange) -> str:
    old, new = change.old_version, change.new_version
    if old is None:
        head = f"{change.name} (new) -> {new}"
    elif new is None:
        head = f"{change.name} {old} -> (removed)"
    else:
        head = f"{change.name} {old} -> {new}"
    if change.closes:
        return f"{head}: fixes {', '.join(change.closes)}"
    return f"{head}: {change.because}"


def say_plans(plans: Sequence[FixPlan], *, dry_run: bool, stream: TextIO) -> None:
    for plan in plans:
        if dry_run:
            state = "plan (dry run, nothing written)"
        elif plan.written:
            state = "written"
        elif plan.changes:
            state = f"NOT written: {plan.note}" if plan.note else "unchanged"
        else:
            state = "nothing can move"
        stream.write(f"Fix {plan.file} ({plan.format}): {state}\n")
        for change in plan.changes:
            stream.write(f"  {change_text(change)}\n")
        for end in plan.dead_ends:
            instead = (
                f"; smallest fix on a line still released: {end.alternative}"
                if end.alternative
                else "; no later line is released either"
            )
            stream.write(
                f"  note: {end.name} {end.version} is on the {end.line} line, which has had "
                f"no release since {end.last_release}{instead}\n"
            )
        for blocked in plan.blocked:
            where = f" ({blocked.origin})" if blocked.origin is not None else ""
            stream.write(f"  blocked: {blocked.name} {blocked.version}: {blocked.reason}{where}\n")


@dataclass
class FleetEntry:
    """One vulnerable release across a tree."""

    name: str
    version: str
    closes: tuple[str, ...]
    targets: dict[str, list[str]] = field(default_factory=dict)  # new version -> files
    blocked: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def fleet(plans: Sequence[FixPlan]) -> list[FleetEntry]:
    """Each vulnerable (package, version) once, with every file that needs it moved."""
    entries: dict[tuple[str, str], FleetEntry] = {}
    for plan in plans:
        for change in plan.changes:
            if not change.closes or change.old_version is None:
                continue
            entry = entries.setdefault(
                (change.name, change.old_version),
                FleetEntry(change.name, change.old_version, change.closes),
            )
            entry.targets.setdefault(change.new_version or "(removed)", []).append(plan.file)
        for blocked in plan.blocked:
            entry = entries.setdefault(
                (blocked.name, blocked.version),
                FleetEntry(blocked.name, blocked.version, blocked.advisories),
            )
            where = f" ({blocked.origin})" if blocked.origin is not None else ""
            entry.blocked.append((plan.file, blocked.reason + where))
    return [entries[key] for key in sorted(entries)]


def fleet_markdown(
    plans: Sequence[FixPlan], owners: Callable[[str], tuple[str, ...]] | None = None
) -> str:
    def who(file: str) -> str:
        found = owners(file) if owners is not None else ()
        return f"`{file}`" + (f" ({', '.join(found)})" if found else "")

    entries = fleet(plans)
    lines = ["## Fix plan", ""]
    if not entries:
        return "\n".join([*lines, "Nothing to fix.", ""])
    projects = len({p.file for p in plans})
    lines.append(f"{len(entries)} vulnerable releases across {projects} files.")
    lines.append("")
    for entry in entries:
        lines.append(f"### {entry.name} {entry.version}")
        lines.append("")
        lines.append(f"Fixes: {', '.join(entry.closes)}")
        lines.append("")
        for target, files in sorted(entry.targets.items()):
            lines.append(f"- **-> {target}** in {len(files)} file(s):")
            lines += [f"  - {who(f)}" for f in sorted(files)]
        for file, reason in entry.blocked:
            lines.append(f"- **blocked** in {who(file)}: {reason}")
        lines.append("")
    moved = [(plan.file, change) for plan in plans for change in plan.changes if not change.closes]
    if moved:
        lines += ["### Moved with the fixes", ""]
        lines += [f"- {who(f)}: {change_text(c)}" for f, c in moved]
        lines.append("")
    dead = [(plan.file, end) for plan in plans for end in plan.dead_ends]
    if dead:
        lines += ["### Dead ends", ""]
        for file, end in dead:
            alternative = end.alternative or "none"
            lines.append(
                f"- {who(file)}: {end.name} {end.version} is on the {end.line} line "
                f"(last release {end.last_release}); on a line still released: {alternative}"
            )
        lines.append("")
    return "\n".join(lines)
