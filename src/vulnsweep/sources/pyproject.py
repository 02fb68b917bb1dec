"""pyproject.toml: PEP 621 dependencies, optional dependencies and PEP 735 groups.

Nothing is built: `dynamic` dependencies are reported as skipped, since computing
them would mean running the project's build backend.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
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
        if not isinstance(project, dict):
            if "poetry" in (data.get("tool") or {}):
                yield SkippedDependency(
                    name=self.path.parent.name or display,
                    origins=(Origin(display),),
                    reason="Poetry project without [project] metadata: its constraints are "
                    "ranges; audit its poetry.lock (--locked)",
                )
                return
            raise InputError(display, "no [project] table (PEP 621) to read dependencies from")
        dynamic = set(project.get("dynamic") or ())
        for field_name in ("dependencies", "optional-dependencies"):
            if field_name in dynamic:
                yield SkippedDependency(
                    name=str(project.get("name", display)),
                    origins=(Origin(display),),
                    reason=f"[project] {field_name} are dynamic (computed by the build "
                    "backend); vulnsweep never runs build code",
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
            yield ResolutionRequest(
                label=display,
                requirements=tuple(wanted),
                project=str(project.get("name") or self.path.parent.name),
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
        for requirement in project.get("dependencies") or ():
            yield requirement, "[project] dependencies"
        extras = project.get("optional-dependencies") or {}
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
                for requirement in requirements:
                    yield requirement, f"optional-dependencies {name}"
        groups = data.get("dependency-groups") or {}
        for wanted in sel.groups:
            if wanted not in groups:
                raise InputError(path, f"--group {wanted}: no such dependency group")
        for name in groups:
            if not sel.narrowed or name in sel.groups:
                for requirement in _expand_group(path, groups, name, ()):
                    yield requirement, f"dependency-groups {name}"


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
