"""poetry.lock (lock-version 2.x) written directly: Poetry has no way to lock one
package at a chosen version without editing pyproject.toml, and every field a moved
release needs is known here. `content-hash` stays valid because pyproject.toml is
not touched.

A moved package's `[[package]]` entry is rendered anew from the index (files and
sha256) and the release's own metadata (Requires-Dist as `[package.dependencies]`
and `[package.extras]`, Requires-Python as `python-versions`), keeping what belongs to
the project rather than the release (`description`, `optional`, `groups`, `markers`,
`[package.source]`). A package the fix needs is added in name order, in the groups of
the packages that need it. Lock-version 1.x files (hashes in `[metadata.files]`) are
refused: re-lock those with Poetry first.
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
    key,
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


def dependencies(requires_dist: Sequence[str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Requires-Dist as Poetry records it: `name = "spec"` or an inline table with
    `version`, `extras`, `optional` and `markers`; extras list their requirements."""
    deps: dict[str, list[dict[str, Any]]] = {}
    extras: dict[str, list[str]] = {}
    for text in requires_dist:
        try:
            requirement = Pep508(text)
        except InvalidRequirement:
            continue  # the resolver skipped such releases; nothing to write
        spec = ",".join(str(s) for s in requirement.specifier) or "*"
        marker = str(requirement.marker) if requirement.marker is not None else None
        entry: dict[str, Any] = {"version": spec}
        if requirement.extras:
            entry["extras"] = sorted(requirement.extras)
        needed_for = re.findall(r"extra\s*==\s*[\"']([^\"']+)[\"']", marker or "")
        if needed_for:
            entry["optional"] = True
            shown = requirement.name + (f" ({spec})" if spec != "*" else "")
            for extra in needed_for:
                extras.setdefault(extra, []).append(shown)
        if marker:
            entry["markers"] = marker
        deps.setdefault(requirement.name, []).append(entry)
    rendered: dict[str, Any] = {}
    for name, entries in deps.items():
        if len(entries) == 1:
            only = entries[0]
            rendered[name] = only["version"] if list(only) == ["version"] else only
        else:
            rendered[name] = entries
    return rendered, extras


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
    lines = [
        "[[package]]",
        f"name = {value(str(keep.get('name', name)))}",
        f"version = {value(version)}",
        f"description = {value(str(keep.get('description', '')))}",
        f"optional = {value(bool(keep.get('optional', False)))}",
        f"python-versions = {value(requires_python or '*')}",
        f"groups = {value(list(keep.get('groups') or groups))}",
    ]
    if isinstance(keep.get("markers"), str):
        lines.append(f"markers = {value(keep['markers'])}")
    lines.append("files = [")
    lines += [
        f"    {{file = {value(f.filename)}, hash = {value('sha256:' + f.sha256)}}},"
        for f in sorted(files, key=lambda f: f.filename)
    ]
    lines.append("]")
    deps, extras = dependencies(requires_dist)
    if deps:
        lines += ["", "[package.dependencies]"]
        lines += [f"{key(k)} = {value(v)}" for k, v in deps.items()]
    if extras:
        lines += ["", "[package.extras]"]
        lines += [f"{key(k)} = {value(v)}" for k, v in sorted(extras.items())]
    source = keep.get("source")
    if isinstance(source, dict) and source:
        lines += ["", "[package.source]"]
        lines += [f"{key(k)} = {value(v)}" for k, v in source.items()]
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
    """`moved`: name -> version; `added`: name -> (version, names of who needs it).
    With `roots` (what the project requires), a package nothing reaches any more is
    dropped: Poetry installs every locked package of a group, needed or not."""
    data = tomllib.loads(text)
    lock_version = str((data.get("metadata") or {}).get("lock-version", ""))
    if not lock_version.startswith("2."):
        raise InputError(
            str(path),
            f"poetry.lock lock-version {lock_version or '1.x'} keeps hashes apart: re-lock it "
            "with Poetry 1.5+ before --fix can write it",
        )
    packages = [p for p in data.get("package") or () if isinstance(p, dict)]
    sources = [p.get("source") for p in packages]
    shared = sources[0] if sources and all(s == sources[0] for s in sources) else None
    keep_new = {"source": shared} if isinstance(shared, dict) else {}
    return rewrite_packages(
        str(path),
        text,
        moved=moved,
        added=added,
        render=lambda name, version, keep, groups: render(
            path, name, version, files(name, version), metadata.get(name), keep, groups
        ),
        groups=["main"],
        keep_new=keep_new,
        reachable=(lambda data: _reachable(data, roots)) if roots else None,
        before="[metadata]",
    )


def _reachable(data: dict[str, Any], roots: Sequence[str]) -> set[str]:
    """Every package a root reaches through `[package.dependencies]`, markers ignored
    (a lock is for every platform: what any of them needs stays); an optional
    dependency counts only when its extra is asked for."""
    tables = {canonical_name(str(p.get("name"))): p for p in data.get("package") or ()}
    seen: set[tuple[str, str]] = set()
    pending: list[tuple[str, str]] = []
    for root in roots:
        try:
            parsed = Pep508(root)
        except InvalidRequirement:
            continue
        name = canonical_name(parsed.name)
        pending += [(name, "")] + [(name, extra) for extra in parsed.extras]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in seen or name not in tables:
            continue
        seen.add((name, extra))
        for dep, spec in (tables[name].get("dependencies") or {}).items():
            for entry in spec if isinstance(spec, list) else [spec]:
                if isinstance(entry, dict) and entry.get("optional"):
                    wanted = re.findall(
                        r"extra\s*==\s*[\"']([^\"']+)[\"']", str(entry.get("markers", ""))
                    )
                    if extra == "" or extra not in wanted:
                        continue
                elif extra:
                    continue  # the plain edges are followed from (name, "")
                pending.append((canonical_name(dep), ""))
                if isinstance(entry, dict):
                    pending += [(canonical_name(dep), e) for e in entry.get("extras") or ()]
    return {name for name, _ in seen}
