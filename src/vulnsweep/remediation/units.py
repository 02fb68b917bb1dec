"""Which files a fix re-resolves as a whole, and what each project declares.

A unit is one file that pins a whole installation: a lock file, or a requirements
file compiled with hashes or `# via` comments. Its releases are re-resolved together
(a fix can need a new dependency or drop an old one); what the project itself asks
for comes from beside it: `requirements.in` for `requirements.txt`, pyproject.toml
for uv, poetry, pdm and pylock.toml, Pipfile for Pipfile.lock.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
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
    marked: set[str] = field(default_factory=set)  # pins with an environment marker


def units_of(result: AuditResult) -> tuple[list[FixUnit], set[str]]:
    """The units with something to fix, and every file they cover (single-pin fixes
    leave those alone)."""
    from vulnsweep.sources.lockfiles import lock_format

    kinds: dict[str, str | None] = {}
    units: dict[str, FixUnit] = {}

    def kind(path: str) -> str | None:
        if path not in kinds:
            found = lock_format(Path(path))
            # A `.in` is what a compiler reads, never what it wrote: not a unit.
            if found is None and Path(path).suffix == ".txt" and Path(path).is_file():
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
            unit.marked = {b.name for b in blocks if b.name and ";" in b.lines[0].split("#", 1)[0]}
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
    if unit.declared.index_url is None:
        index = _project_index(unit)
        if index:
            unit.declared = replace(unit.declared, index_url=index)


def _project_index(unit: FixUnit) -> str | None:
    """The index the project itself says it installs from, so the plan resolves (and
    reads hashes) where the lock tool would: Pipfile's first [[source]], Poetry's
    primary source, PDM's `pypi` source, uv's default index, the index most pylock
    entries name, or a compiled file's own `--index-url`. None: the command line's."""
    import os
    from collections import Counter

    from vulnsweep.sources.text import parse_toml, read_file

    directory = unit.path.parent
    try:
        if unit.format == "requirements":
            text = unit.path.read_text(encoding="utf-8", errors="replace")
            found = re.search(r"^\s*(?:--index-url|-i)[=\s]+(\S+)", text, re.M)
            return found.group(1) if found else None
        if unit.format == "pylock.toml":
            data = parse_toml(str(unit.path), read_file(unit.path))
            counts = Counter(
                str(p["index"])
                for p in data.get("packages") or ()
                if isinstance(p, dict) and isinstance(p.get("index"), str)
            )
            return counts.most_common(1)[0][0] if counts else None
        if unit.format == "Pipfile.lock":
            pipfile = directory / "Pipfile"
            if not pipfile.is_file():
                return None
            sources = parse_toml(str(pipfile), read_file(pipfile)).get("source") or []
            first = sources[0] if isinstance(sources, list) and sources else {}
            url = first.get("url") if isinstance(first, dict) else None
            return os.path.expandvars(url) if isinstance(url, str) else None
        pyproject = directory / "pyproject.toml"
        if not pyproject.is_file():
            return None
        tool = parse_toml(str(pyproject), read_file(pyproject)).get("tool") or {}
        if unit.format == "poetry.lock":
            for source in (tool.get("poetry") or {}).get("source") or ():
                if isinstance(source, dict) and source.get("priority") in ("primary", "default"):
                    return str(source.get("url")) if source.get("url") else None
        elif unit.format == "pdm.lock":
            for source in (tool.get("pdm") or {}).get("source") or ():
                if isinstance(source, dict) and source.get("name") == "pypi" and source.get("url"):
                    return os.path.expandvars(str(source["url"]))
        elif unit.format == "uv.lock":
            uv = tool.get("uv") or {}
            for index in uv.get("index") or ():
                if isinstance(index, dict) and index.get("default") and index.get("url"):
                    return str(index["url"])
            if isinstance(uv.get("index-url"), str):
                return str(uv["index-url"])
    except (VulnsweepError, OSError, AttributeError, TypeError):
        return None
    return None


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
