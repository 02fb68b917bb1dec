"""pyproject.toml: PEP 621 dependencies, optional dependencies and PEP 735 groups, and
Poetry's own tables when there is no [project] (sources/poetry.py).

Nothing is built: `dynamic` dependencies are reported as skipped, since computing
them would mean running the project's build backend.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulnsweep.errors import InputError
from vulnsweep.model import (
    Dependency,
    Origin,
    RequirementLine,
    ResolutionRequest,
    SkippedDependency,
    canonical_name,
)
from vulnsweep.sources import Collected
from vulnsweep.sources.poetry import read_poetry
from vulnsweep.sources.requirements.pep508 import requirement_to_pin
from vulnsweep.sources.text import parse_toml, read_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectSelection:
    """Empty: everything. Otherwise the main dependencies plus what is named."""

    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    all_extras: bool = False
    no_dev: bool = False

    @property
    def narrowed(self) -> bool:
        return bool(self.extras or self.groups or self.all_extras or self.no_dev)


class PyprojectSource:
    def __init__(
        self,
        path: Path,
        *,
        selection: ProjectSelection | None = None,
        marker_environment: dict[str, str] | None = None,
        resolve: bool = False,
        resolve_pins: bool = False,
    ) -> None:
        self.path = path
        self.selection = selection or ProjectSelection()
        self.marker_environment = marker_environment
        self.resolve = resolve
        self.resolve_pins = resolve and resolve_pins

    def collect(self) -> Iterator[Collected]:
        display = str(self.path)
        text = read_file(self.path)
        data = parse_toml(display, text)
        lines = text.splitlines()
        project = data.get("project")
        tool = data.get("tool")
        poetry = (
            read_poetry(tool) if isinstance(tool, dict) and not isinstance(project, dict) else None
        )
        if poetry is not None:
            # Poetry's own tables, read as the PEP 621 / 735 tables they stand for.
            for name, why in poetry.unusable:
                yield SkippedDependency(
                    name=name, origins=(Origin(display),), reason=why, unresolved=True
                )
            project = {
                "name": poetry.name or self.path.parent.name,
                "version": poetry.version,
                "dependencies": poetry.dependencies,
                "optional-dependencies": poetry.extras,
            }
            data = {**data, "dependency-groups": poetry.groups}
        if not isinstance(project, dict):
            raise InputError(display, "no [project] table (PEP 621) to read dependencies from")
        dynamic = set(project.get("dynamic") or ())
        hooked = _hatch_requirement_files(tool, self.path.parent)
        if "dependencies" in dynamic and hooked:
            # hatch-requirements-txt: the dynamic dependencies are these files, static
            # data read as pip reads requirements files.
            from vulnsweep.sources.requirements.source import RequirementsSource

            dynamic.discard("dependencies")
            yield from RequirementsSource(
                [str(f) for f in hooked],
                marker_environment=self.marker_environment,
                resolve=self.resolve,
                resolve_pins=self.resolve_pins,
            ).collect()
        pdm = (tool.get("pdm") or {}) if isinstance(tool, dict) else {}
        if isinstance(pdm, dict) and isinstance(pdm.get("dev-dependencies"), dict):
            # PDM's own groups, before PEP 735 existed: the same meaning.
            groups = {**pdm["dev-dependencies"], **(data.get("dependency-groups") or {})}
            data = {**data, "dependency-groups": groups}
        for field_name in ("dependencies", "optional-dependencies"):
            if field_name in dynamic:
                yield SkippedDependency(
                    name=str(project.get("name", display)),
                    origins=(Origin(display),),
                    reason=f"[project] {field_name} are dynamic (computed by the build "
                    "backend); vulnsweep never runs build code, so they are not audited",
                    unresolved=True,
                )
        pins: list[Collected] = []
        wanted: list[RequirementLine] = []  # everything, should the set need resolving
        needs_resolution = False
        for requirement, group in self._selected(display, project, data):
            if not isinstance(requirement, str):
                raise InputError(display, f"dependency in {group} is not a string: {requirement!r}")
            origin = Origin(display, _line_of(lines, requirement))
            pin = requirement_to_pin(
                requirement, origin, self.marker_environment, resolving=self.resolve
            )
            if pin is None:
                continue
            if isinstance(pin, Dependency):
                wanted.append(RequirementLine(f"{pin.name}=={pin.version}", origin))
            elif isinstance(pin, RequirementLine):
                wanted.append(pin)
                needs_resolution = True
                continue
            pins.append(pin)
        if needs_resolution or (self.resolve_pins and wanted):
            # Something is a range: resolve the whole set, as installing the project would.
            yield from (p for p in pins if type(p) is not Dependency)
            version = project.get("version")
            yield ResolutionRequest(
                label=display,
                requirements=tuple(wanted),
                project=str(project.get("name") or self.path.parent.name),
                project_version=str(version) if isinstance(version, str) else None,
            )
        else:
            yield from pins

    def _selected(
        self,
        path: str,
        project: dict[str, Any],
        data: dict[str, Any],
    ) -> Iterator[tuple[Any, str]]:
        sel = self.selection
        extras = project.get("optional-dependencies") or {}
        own = SelfReferences(path, str(project.get("name") or ""), extras)
        yield from own.expand(project.get("dependencies") or (), "[project] dependencies")
        known_extras = {canonical_name(k): k for k in extras}
        for wanted in sel.extras:
            if canonical_name(wanted) not in known_extras:
                raise InputError(path, f"--extra {wanted}: no such optional-dependencies group")
        for name, requirements in extras.items():
            if (
                not sel.narrowed
                or sel.all_extras
                or canonical_name(name) in {canonical_name(e) for e in sel.extras}
            ):
                yield from own.expand(requirements, f"optional-dependencies {name}")
        groups = data.get("dependency-groups") or {}
        for wanted in sel.groups:
            if wanted not in groups:
                raise InputError(path, f"--group {wanted}: no such dependency group")
        for name in groups:
            if not sel.narrowed or name in sel.groups:
                yield from own.expand(
                    _expand_group(path, groups, name, ()), f"dependency-groups {name}"
                )


class SelfReferences:
    """A requirement on the project itself (`pip-audit[doc,test]` in pip-audit's own
    `dev` extra) stands for those extras of this project, as pip and uv install it:
    expanded recursively, each extra once (cycles end), the self-reference's marker
    carried onto what it brings in."""

    def __init__(self, path: str, name: str, extras: dict[str, Any]) -> None:
        self.path = path
        self.name = canonical_name(name) if name else None
        self.extras = {canonical_name(k): v for k, v in extras.items()}

    def expand(self, requirements: Iterable[Any], group: str) -> Iterator[tuple[Any, str]]:
        for requirement in requirements:
            yield from self._one(requirement, group, frozenset(), None)

    def _one(
        self, requirement: Any, group: str, seen: frozenset[str], marker: str | None
    ) -> Iterator[tuple[Any, str]]:
        own = self._own_extras(requirement)
        if own is None:
            yield (_with_marker(requirement, marker) if marker else requirement), group
            return
        extras, inner = own
        combined = f"({marker}) and ({inner})" if marker and inner else (marker or inner)
        for extra in extras:
            if extra in seen:
                continue  # a cycle through the project's own extras
            if extra not in self.extras:
                raise InputError(
                    self.path,
                    f"{requirement!r} in {group} names extra {extra!r}, which "
                    f"[project.optional-dependencies] does not define",
                )
            for item in self.extras[extra]:
                yield from self._one(item, f"{group} -> {extra}", seen | {extra}, combined)

    def _own_extras(self, requirement: Any) -> tuple[list[str], str | None] | None:
        """(extras, marker) when this requirement names the project itself."""
        if self.name is None or not isinstance(requirement, str):
            return None
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            parsed = Requirement(requirement)
        except InvalidRequirement:
            return None  # reported where it is read
        if canonical_name(parsed.name) != self.name or parsed.url:
            return None
        marker = str(parsed.marker) if parsed.marker is not None else None
        return sorted(canonical_name(e) for e in parsed.extras), marker


def _with_marker(requirement: Any, marker: str) -> Any:
    if not isinstance(requirement, str):
        return requirement
    base, _, inner = requirement.partition(";")
    inner = inner.strip()
    both = f"({inner}) and ({marker})" if inner else marker
    return f"{base.strip()} ; {both}"


def _hatch_requirement_files(tool: Any, directory: Path) -> list[Path]:
    """`[tool.hatch.metadata.hooks.requirements_txt] files = [...]`, as paths."""
    found: Any = tool
    for key in ("hatch", "metadata", "hooks", "requirements_txt", "files"):
        found = found.get(key) if isinstance(found, dict) else None
    return [directory / str(f) for f in found] if isinstance(found, list) else []


def _expand_group(
    path: str, groups: dict[str, Any], name: str, chain: tuple[str, ...]
) -> Iterator[Any]:
    if name in chain:
        raise InputError(path, f"dependency group include cycle: {' -> '.join([*chain, name])}")
    if name not in groups:
        raise InputError(path, f"include-group {name!r}: no such dependency group")
    for item in groups[name]:
        if isinstance(item, dict) and "include-group" in item:
            yield from _expand_group(path, groups, str(item["include-group"]), (*chain, name))
        else:
            yield item


def _line_of(lines: list[str], requirement: str) -> int | None:
    for quote in ('"', "'"):
        needle = f"{quote}{requirement}{quote}"
        for number, line in enumerate(lines, start=1):
            if needle in line:
                return number
    return None
