"""pdm.lock (lock_version 4.x) written directly, as poetry.lock is: PDM cannot lock
one package at a chosen version without editing pyproject.toml either.

Every entry of a moved package (the plain one and one per locked set of extras, such
as `requests` with `extras = ["socks"]`) is rendered anew: version, `requires_python`
and `dependencies` from the release's own metadata (an extras entry: `name==version`
plus what those extras add), files and sha256 from the index; `summary`, `groups`
and `marker` are kept. A package the fix needs is added in the groups of what needs
it; one nothing reaches any more is dropped (PDM installs every locked package of a
group). `content_hash` stays valid as pyproject.toml is untouched.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508

from vulnsweep.errors import InputError
from vulnsweep.model import canonical_name
from vulnsweep.remediation.releases import ReleaseFile
from vulnsweep.remediation.tomltext import (
    release_or_refuse,
    rewrite_packages,
    value,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Files = Callable[[str, str], list[ReleaseFile]]
Metadata = Mapping[str, tuple[tuple[str, ...], str | None]]
_EXTRA = re.compile(r"""\s*(?:\band\s+)?extra\s*==\s*["']([^"']+)["']\s*(?:\band\b)?""")


def dependencies(
    name: str, version: str, requires_dist: Sequence[str], extras: Sequence[str]
) -> list[str]:
    """Requires-Dist as PDM records it for one entry: without extras, what is always
    needed; for an extras entry, the release itself and what those extras add."""
    wanted = {canonical_name(e) for e in extras}
    out = [f"{name}=={version}"] if wanted else []
    for text in requires_dist:
        try:
            requirement = Pep508(text)
        except InvalidRequirement:
            continue
        marker = str(requirement.marker) if requirement.marker is not None else ""
        named = {canonical_name(e) for e in _EXTRA.findall(marker)}
        if bool(named) != bool(wanted) or (named and not named & wanted):
            continue
        rest = _EXTRA.sub(" ", marker).strip()
        rest = re.sub(r"^(and|or)\s+|\s+(and|or)$", "", rest).strip("() ").strip()
        requirement.marker = None
        out.append(f"{requirement}; {rest}" if rest else str(requirement))
    return out


def render(
    path: Path,
    name: str,
    version: str,
    files: list[ReleaseFile],
    metadata: tuple[tuple[str, ...], str | None] | None,
    keep: Mapping[str, Any],
    groups: list[str],
) -> str:
    requires_dist, requires_python = release_or_refuse(str(path), name, version, files, metadata)
    shown = str(keep.get("name", name))
    extras = [str(e) for e in keep.get("extras") or ()]
    lines = ["[[package]]", f"name = {value(shown)}", f"version = {value(version)}"]
    if extras:
        lines.append(f"extras = {value(extras)}")
    lines.append(f"requires_python = {value(requires_python or '')}")
    lines.append(f"summary = {value(str(keep.get('summary', '')))}")
    lines.append(f"groups = {value(list(keep.get('groups') or groups))}")
    if isinstance(keep.get("marker"), str):
        lines.append(f"marker = {value(keep['marker'])}")
    deps = dependencies(shown, version, requires_dist, extras)
    if deps:
        lines.append("dependencies = [")
        lines += [f"    {value(d)}," for d in deps]
        lines.append("]")
    lines.append("files = [")
    lines += [
        f"    {{file = {value(f.filename)}, hash = {value('sha256:' + f.sha256)}}},"
        for f in sorted(files, key=lambda f: f.filename)
    ]
    lines.append("]")
    return "\n".join(lines) + "\n"


def rewrite(
    path: Path,
    text: str,
    moved: Mapping[str, str],
    added: Mapping[str, tuple[str, list[str]]],
    files: Files,
    metadata: Metadata,
    roots: Sequence[str] = (),
) -> str:
    data = tomllib.loads(text)
    lock_version = str((data.get("metadata") or {}).get("lock_version", ""))
    if not lock_version.startswith("4."):
        raise InputError(
            str(path),
            f"pdm.lock lock_version {lock_version or '(none)'} is not 4.x: re-lock it with "
            "PDM 2.8+ before --fix can write it",
        )
    return rewrite_packages(
        str(path),
        text,
        moved=moved,
        added=added,
        render=lambda name, version, keep, groups: render(
            path, name, version, files(name, version), metadata.get(name), keep, groups
        ),
        groups=["default"],
        reachable=(lambda data: _reachable(data, roots)) if roots else None,
    )


def _reachable(data: dict[str, Any], roots: Sequence[str]) -> set[str]:
    """Every package a root reaches through the entries' `dependencies`, markers
    ignored; `name[extra]` goes through the entry locked with that extra."""
    entries: dict[tuple[str, frozenset[str]], list[str]] = {}
    for entry in data.get("package") or ():
        name = canonical_name(str(entry.get("name")))
        extras = frozenset(canonical_name(e) for e in entry.get("extras") or ())
        entries[(name, extras)] = [str(d) for d in entry.get("dependencies") or ()]
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = list(roots)
    while pending:
        try:
            requirement = Pep508(pending.pop())
        except InvalidRequirement:
            continue
        name = canonical_name(requirement.name)
        states: list[tuple[str, frozenset[str]]] = [(name, frozenset())]
        if requirement.extras:
            states.append((name, frozenset(canonical_name(e) for e in requirement.extras)))
        for state in states:
            if state in seen or state not in entries:
                continue
            seen.add(state)
            pending.extend(entries[state])
    return {name for name, _ in seen}
