"""Whole directory trees: find every supported file and pick its source.

Skips VCS, virtualenv, build and cache directories and anything `--exclude` names;
symlinked directories are followed only once (by real path), so loops end. A symlink
whose target lies outside the walk's root is not followed (`ln -s /usr`, or
`/proc/self/root`, would audit the machine instead of the tree): it is named once, and
`--follow-links` follows it.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from vulnsweep.errors import InputError
from vulnsweep.sources.lockfiles import lock_format

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "site-packages",
        "__pycache__",
        ".tox",
        ".nox",
        "build",
        "dist",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
_REQUIREMENTS = re.compile(r"^(requirements|constraints)[\w.-]*\.(txt|in)$", re.I)
_SBOM = re.compile(r"(\.cdx\.(json|xml)|\.spdx\.json|^bom\.(json|xml))$", re.I)


@dataclass(frozen=True)
class Found:
    path: Path
    kind: str  # "requirements" | "pyproject" | "lock" | "sbom"


def classify_name(name: str, parent: str, *, include_sboms: bool = False) -> str | None:
    """What a file is, from its name (and its directory's): cheap enough for huge trees."""
    if name.endswith((".txt", ".in")):
        if parent == "requirements" or _REQUIREMENTS.match(name):
            return "requirements"
        return None
    if name == "pyproject.toml":
        return "pyproject"
    if name.endswith((".lock", ".toml")) and lock_format(Path(name)):
        return "lock"
    if include_sboms and _SBOM.search(name):
        return "sbom"
    return None


def walk(
    root: Path,
    *,
    excludes: Sequence[str] = (),
    include_sboms: bool = False,
    follow_links: bool = False,
) -> Iterator[Found]:
    """Supported files under root, in a stable order; a pyproject.toml next to a lock
    file is left to the lock file (it pins what the pyproject only constrains)."""
    if not root.is_dir():
        raise InputError(str(root), "not a directory")
    seen_dirs: set[str] = set()
    inside = os.path.realpath(root)
    stack = [root]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        if real in seen_dirs:
            log.warning("%s: already walked (symlink loop or alias); skipped", directory)
            continue
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except PermissionError:
            raise InputError(str(directory), "permission denied: cannot list directory") from None
        except OSError as exc:
            raise InputError(str(directory), f"cannot list directory: {exc.strerror}") from None
        found: list[Found] = []
        subdirs: list[Path] = []
        for entry in entries:
            if excludes:
                relative = os.path.relpath(entry.path, root)
                if any(
                    fnmatch.fnmatch(relative, g) or fnmatch.fnmatch(entry.name, g) for g in excludes
                ):
                    continue
            try:
                is_dir = entry.is_dir()
                linked = entry.is_symlink()
            except OSError:
                continue
            if linked and not follow_links and not _within(os.path.realpath(entry.path), inside):
                log.warning(
                    "%s: a symlink out of the tree (to %s); not followed (--follow-links "
                    "follows it)",
                    entry.path,
                    os.path.realpath(entry.path),
                )
                continue
            if is_dir:
                if entry.name not in SKIP_DIRS:
                    subdirs.append(Path(entry.path))
                continue
            kind = classify_name(entry.name, directory.name, include_sboms=include_sboms)
            if kind is not None:
                found.append(Found(Path(entry.path), kind))
        if any(f.kind == "lock" for f in found):
            found = [f for f in found if f.kind != "pyproject"]
        # pip-tools: `x.in` holds the intent, `x.txt` beside it what is installed. The
        # .txt is audited; a .in with no compiled .txt is resolved as pip would.
        compiled = {f.path.with_suffix("") for f in found if f.path.suffix == ".txt"}
        found = [
            f for f in found if f.path.suffix != ".in" or f.path.with_suffix("") not in compiled
        ]
        yield from found
        stack.extend(reversed(subdirs))


# Files that make a directory a project: the pinning files it groups under it.
PROJECT_MARKERS = frozenset(
    {
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "uv.lock",
        "poetry.lock",
        "Pipfile",
        "Pipfile.lock",
        "pdm.lock",
        "pylock.toml",
    }
)
_PROJECT_MARKER = re.compile(r"^(requirements[\w.-]*\.txt|pylock\.[\w-]+\.toml)$", re.I)


@functools.cache
def is_project(directory: Path) -> bool:
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    return any(n in PROJECT_MARKERS or _PROJECT_MARKER.match(n) for n in names)


def project_directory(file: Path, root: Path) -> Path:
    """The project a pinning file belongs to: the nearest directory from the file's
    own up to the root that has a project marker (else the file's directory)."""
    directory = file.resolve().parent
    for candidate in (directory, *directory.parents):
        if not candidate.is_relative_to(root):
            break
        if is_project(candidate):
            return candidate
        if candidate == root:
            break
    return directory


def shard_of(project: str, shards: int) -> int:
    """Which of `shards` a project (its path relative to the root) belongs to, 1-based:
    from a hash of the path alone, so adding a project never moves another."""
    import hashlib

    digest = hashlib.sha256(project.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1


def in_shard(file: Path, root: Path, shard: tuple[int, int]) -> bool:
    resolved = root.resolve()
    directory = project_directory(file, resolved)
    try:
        project = directory.relative_to(resolved).as_posix() or "."
    except ValueError:
        project = directory.as_posix()
    return shard_of(project, shard[1]) == shard[0]


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
