"""Which files a fix re-resolves as a whole, and what each project declares.

A unit is one file that pins a whole installation: a lock file, or a requirements
file compiled with hashes or `# via` comments. Its releases are re-resolved together
(a fix can need a new dependency or drop an old one); what the project itself asks
for comes from beside it: `requirements.in` for `requirements.txt`, pyproject.toml
for uv, poetry, pdm and pylock.toml, Pipfile for Pipfile.lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from vulnsweep.errors import VulnsweepError
from vulnsweep.model import (
    AuditResult,
    Dependency,
    Origin,
    RequirementLine,
    ResolutionRequest,
    Vulnerability,
)
from vulnsweep.remediation import compiled

log = logging.getLogger(__name__)


@dataclass
class FixUnit:
    path: Path
    format: str  # "requirements" or a lock file name
    locked: dict[str, Dependency] = field(default_factory=dict)  # canonical name -> pin
    vulnerable: dict[str, list[Vulnerability]] = field(default_factory=dict)
    declared: ResolutionRequest | None = None  # None: every locked release is a root
    declared_from: str | None = None
    via: dict[str, list[str]] = field(default_factory=dict)  # compiled files' `# via`


def units_of(result: AuditResult) -> tuple[list[FixUnit], set[str]]:
    """The units with something to fix, and every file they cover (single-pin fixes
    leave those alone)."""
    from vulnsweep.sources.lockfiles import lock_format

    kinds: dict[str, str | None] = {}
    units: dict[str, FixUnit] = {}

    def kind(path: str) -> str | None:
        if path not in kinds:
            found = lock_format(Path(path))
            if found is None and Path(path).suffix in (".txt", ".in") and Path(path).is_file():
                try:
                    text = Path(path).read_text(encoding="utf-8", errors="replace")
                except OSError:
                    text = ""
                found = "requirements" if compiled.is_compiled(text) else None
            kinds[path] = found
        return kinds[path]

    for dep, findings in result.audited:
        if dep.paths:
            continue  # resolved from ranges: its input file is not a lock
        vulns = [f.vulnerability for f in findings if not f.ignored]
        for origin in dep.origins:
            found = kind(origin.path)
            if found is None:
                continue
            unit = units.setdefault(origin.path, FixUnit(Path(origin.path), found))
            unit.locked[dep.canonical_name] = dep
            if vulns:
                unit.vulnerable[dep.canonical_name] = vulns
    chosen = [u for u in units.values() if u.vulnerable]
    for unit in chosen:
        _declare(unit)
    return chosen, {str(u.path) for u in chosen}


def _declare(unit: FixUnit) -> None:
    directory = unit.path.parent
    try:
        if unit.format == "requirements":
            blocks = compiled.read_blocks(unit.path.read_text(encoding="utf-8"))
            unit.via = {b.name: b.via for b in blocks if b.name is not None}
            source = _source_of(unit.path, blocks)
            if source is not None:
                unit.declared, unit.declared_from = _from_requirements(source), str(source)
            else:
                unit.declared = _bare(unit, compiled.roots(blocks))
                unit.declared_from = f"{unit.path} (# via)"
        elif unit.format == "Pipfile.lock":
            pipfile = directory / "Pipfile"
            if pipfile.is_file():
                unit.declared, unit.declared_from = _from_pipfile(pipfile), str(pipfile)
        else:
            pyproject = directory / "pyproject.toml"
            if pyproject.is_file():
                unit.declared, unit.declared_from = _from_pyproject(pyproject), str(pyproject)
    except VulnsweepError as exc:
        log.warning("%s: its declared requirements cannot be read (%s); every locked "
                    "release is kept as a requirement", unit.path, exc)  # fmt: skip
        unit.declared = None
    if unit.declared is None:
        unit.declared = _bare(unit, list(unit.locked))
        unit.declared_from = unit.declared_from or f"{unit.path} (every locked release)"


def _source_of(path: Path, blocks: list[compiled.Block]) -> Path | None:
    """The input it was compiled from: `requirements.in` beside `requirements.txt`,
    else the one file its `# via -r FILE` comments name (beside it, or as written)."""
    beside = path.with_suffix(".in")
    if beside.is_file() and beside != path:
        return beside
    named = {
        item[2:].strip()
        for block in blocks
        for item in block.via
        if item.startswith("-r ") and item[2:].strip()
    }
    if len(named) != 1:
        return None
    (name,) = named
    for candidate in (path.parent / name, Path(name)):
        if candidate.is_file() and candidate.resolve() != path.resolve():
            return candidate
    return None


def _bare(unit: FixUnit, names: list[str]) -> ResolutionRequest:
    return ResolutionRequest(
        label=str(unit.path),
        requirements=tuple(
            RequirementLine(name, Origin(str(unit.path), None)) for name in names if name
        ),
    )


def _from_requirements(path: Path) -> ResolutionRequest | None:
    from vulnsweep.sources.requirements.source import RequirementsSource

    for item in RequirementsSource([str(path)], resolve=True, resolve_pins=True).collect():
        if isinstance(item, ResolutionRequest):
            return item
    return None


def _from_pyproject(path: Path) -> ResolutionRequest | None:
    from vulnsweep.sources.pyproject import PyprojectSource

    for item in PyprojectSource(path, resolve=True, resolve_pins=True).collect():
        if isinstance(item, ResolutionRequest):
            return item
    return None


def _from_pipfile(path: Path) -> ResolutionRequest:
    """Pipfile's [packages] and [dev-packages]: `"*"`, a specifier, or a table with one."""
    from vulnsweep.sources.text import parse_toml, read_file

    text = read_file(path)
    data = parse_toml(str(path), text)
    lines = text.splitlines()
    out = []
    for table in ("packages", "dev-packages"):
        section = data.get(table)
        for name, spec in section.items() if isinstance(section, dict) else ():
            version = spec.get("version", "*") if isinstance(spec, dict) else spec
            if not isinstance(version, str):
                continue
            text_spec = "" if version.strip() == "*" else version.strip()
            line = next(
                (i for i, row in enumerate(lines, 1) if row.strip().startswith(f"{name} ")
                 or row.strip().startswith(f"{name}=") or row.strip().startswith(f'"{name}"')),
                None,
            )  # fmt: skip
            out.append(RequirementLine(f"{name}{text_spec}", Origin(str(path), line)))
    return ResolutionRequest(label=str(path), requirements=tuple(out))
