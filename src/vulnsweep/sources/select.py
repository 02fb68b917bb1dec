"""From command-line inputs to sources: which reader handles which path."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vulnsweep.errors import InputError
from vulnsweep.sources import ChainSource, DependencySource, TolerantSource
from vulnsweep.sources.lockfiles import GroupSelection, LockFileSource, lock_format
from vulnsweep.sources.text import prefetch
from vulnsweep.sources.tree import in_shard, walk

log = logging.getLogger(__name__)


@dataclass
class InputOptions:
    requirements: Sequence[str] = ()
    paths: Sequence[str] = ()
    sboms: Sequence[str] = ()
    site_paths: Sequence[str] = ()
    python: str | None = None
    local_only: bool = False
    recursive: bool = False
    excludes: Sequence[str] = ()
    shard: tuple[int, int] | None = None  # K of N: only that shard's projects
    include_sboms: bool = False
    follow_links: bool = False
    locked: bool = False
    extras: Sequence[str] = ()
    groups: Sequence[str] = ()
    all_extras: bool = False
    no_dev: bool = False
    skip_editable: bool = False
    require_hashes: bool = False
    python_version: str | None = None
    platform: str | None = None
    marker_file: str | None = None
    resolve: bool = True  # unpinned requirements are resolved (off with --no-deps)
    resolve_pins: bool = False  # fully pinned sets are resolved too (--resolve-pins)
    marker_environment: dict[str, str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.python_version is None and self.platform is None and self.marker_file is None:
            return  # this interpreter's own environment (the common case: nothing to load)
        from vulnsweep.target import target_environment

        self.marker_environment = target_environment(
            self.python_version, self.platform, self.marker_file
        )


def build_sources(options: InputOptions) -> list[DependencySource]:
    from vulnsweep.sources.requirements.source import RequirementsSource

    sources: list[DependencySource] = []
    group_selection = GroupSelection(no_dev=options.no_dev, groups=tuple(options.groups))
    requirement_files = list(options.requirements)
    for raw in options.paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(raw, "no such file or directory")
        if path.is_dir():
            if options.recursive:
                found_files = list(
                    walk(
                        path,
                        excludes=options.excludes,
                        include_sboms=options.include_sboms,
                        follow_links=options.follow_links,
                    )
                )
                if options.shard is not None:
                    shard = options.shard
                    found_files = [f for f in found_files if in_shard(f.path, path, shard)]
                prefetch(f.path for f in found_files)
                for found in found_files:
                    source = _file_source(found.path, found.kind, options, group_selection)
                    sources.append(TolerantSource(source, str(found.path)))
                continue
            sources.append(_project_source(path, options, group_selection))
            continue
        kind = _kind_of(path)
        if kind == "requirements" and not looks_like_requirements(path):
            # Mining x.py or notes.md for words would send them to the index as project
            # names: a named file must say what it is (or be passed with -r).
            raise InputError(
                raw,
                "not a requirements file, lock file, pyproject.toml or SBOM by its name "
                "(requirements files end in .txt or .in); pass it with -r to read it as one",
            )
        if kind == "requirements":
            requirement_files.append(raw)
        else:
            sources.append(_file_source(path, kind, options, group_selection))
    if requirement_files:
        sources.insert(
            0,
            RequirementsSource(
                requirement_files,
                require_hashes=options.require_hashes,
                marker_environment=options.marker_environment,
                resolve=options.resolve,
                resolve_pins=options.resolve_pins,
            ),
        )
    for sbom in options.sboms:
        from vulnsweep.sources.sbom import SbomSource

        sources.append(SbomSource(Path(sbom)))
    nothing_named = not (options.requirements or options.paths or options.sboms)
    if options.site_paths or options.python or nothing_named:
        from vulnsweep.sources.environment import EnvironmentSource, site_dirs_from_args

        dirs = site_dirs_from_args(options.site_paths, options.python, options.local_only)
        sources.append(EnvironmentSource(dirs, skip_editable=options.skip_editable))
    return sources


_REQUIREMENTS_SUFFIXES = (".txt", ".in", ".pip", "")


def looks_like_requirements(path: Path) -> bool:
    """What pip-tools, pip and the corpora name requirement files: *.txt, *.in, or a
    name that says so (requirements, constraints, reqs) whatever its suffix."""
    name = path.name.lower()
    if path.suffix.lower() in _REQUIREMENTS_SUFFIXES:
        return True
    return any(word in name for word in ("requirement", "constraint", "reqs"))


def _kind_of(path: Path) -> str:
    from vulnsweep.sources.lockfiles import sniff_lock_format
    from vulnsweep.sources.sbom import looks_like_sbom

    if path.name == "pyproject.toml":
        return "pyproject"
    if lock_format(path):
        return "lock"
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if looks_like_sbom(path, head):
        return "sbom"
    if path.suffix in (".lock", ".toml", ".json") and sniff_lock_format(path, head):
        return "lock"
    return "requirements"


def _file_source(
    path: Path, kind: str, options: InputOptions, group_selection: GroupSelection
) -> DependencySource:
    if kind == "lock":
        return LockFileSource(path, selection=group_selection)
    if kind == "sbom":
        from vulnsweep.sources.sbom import SbomSource

        return SbomSource(path)
    if kind == "pyproject":
        if options.locked:
            return _locked(path.parent, group_selection)
        from vulnsweep.sources.pyproject import ProjectSelection, PyprojectSource

        return PyprojectSource(
            path,
            selection=ProjectSelection(
                extras=tuple(options.extras),
                groups=tuple(options.groups),
                all_extras=options.all_extras,
                no_dev=options.no_dev,
            ),
            marker_environment=options.marker_environment,
            resolve=options.resolve,
            resolve_pins=options.resolve_pins,
        )
    from vulnsweep.sources.requirements.source import RequirementsSource

    return RequirementsSource(
        [str(path)],
        require_hashes=options.require_hashes,
        marker_environment=options.marker_environment,
        **_resolution_for(path, options),
    )


def _resolution_for(path: Path, options: InputOptions) -> dict[str, Any]:
    if path.name.lower().startswith("constraints"):
        # A constraints file found in a tree limits versions; it asks for nothing.
        return {"resolve": False, "unresolved": "a constraints file is not resolved on its own"}
    return {"resolve": options.resolve, "resolve_pins": options.resolve_pins}


def _project_source(
    directory: Path, options: InputOptions, group_selection: GroupSelection
) -> DependencySource:
    if options.locked:
        return _locked(directory, group_selection)
    pyproject = directory / "pyproject.toml"
    if not pyproject.exists():
        raise InputError(
            str(directory),
            "no pyproject.toml here; use -R to audit every supported file below this directory",
        )
    return _file_source(pyproject, "pyproject", options, group_selection)


def _locked(directory: Path, group_selection: GroupSelection) -> DependencySource:
    candidates = sorted(p for p in directory.iterdir() if p.is_file() and lock_format(p))
    if not candidates:
        raise InputError(
            str(directory),
            "--locked: no uv.lock, poetry.lock, pdm.lock, Pipfile.lock or pylock.toml here",
        )
    return ChainSource(LockFileSource(p, selection=group_selection) for p in candidates)
