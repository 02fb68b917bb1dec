"""Lock files, read directly (tomllib / JSON): no locking tool is run or needed.

uv.lock, poetry.lock, Pipfile.lock, pdm.lock and pylock.toml (PEP 751). Packages from
an index, and git and URL sources, are audited at their locked version; local path and
directory sources (the organisation's own code) are skipped with a reason. Every
package of every group is audited unless `--no-dev` or `--group` narrows it. Markers
are not evaluated: a lock file covers every platform it was locked for, and a missed
advisory is worse than an extra one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vulnsweep.errors import InputError
from vulnsweep.model import Dependency, Origin, SkippedDependency, canonical_name
from vulnsweep.sources import Collected
from vulnsweep.sources.text import parse_toml, read_file

LOCK_FORMATS = ("uv.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "pylock.toml")


@dataclass(frozen=True)
class GroupSelection:
    """Which dependency groups to audit; the default is all of them."""

    no_dev: bool = False
    groups: tuple[str, ...] = ()

    @property
    def narrowed(self) -> bool:
        return self.no_dev or bool(self.groups)

    def wants(self, group: str, *, main_names: Sequence[str] = ("main", "default")) -> bool:
        if group in main_names:
            return True
        if self.groups:
            return group in self.groups
        return not self.no_dev


def lock_format(path: Path) -> str | None:
    """The lock format a file name announces (`pylock.*.toml` included)."""
    name = path.name
    if name in ("uv.lock", "poetry.lock", "Pipfile.lock", "pdm.lock"):
        return name
    if name == "pylock.toml" or re.fullmatch(r"pylock\.[^.]+\.toml", name):
        return "pylock.toml"
    return None


def sniff_lock_format(path: Path, text: str) -> str | None:
    """For a lock file with an unusual name: decide from its content."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return "Pipfile.lock" if '"_meta"' in text[:2000] else None
    if re.search(r"^lock-version\s*=", text, re.M) and "[[packages]]" in text:
        return "pylock.toml"
    if re.search(r"^revision\s*=", text, re.M) or "[[distribution]]" in text:
        return "uv.lock"
    if re.search(r"^lock_version\s*=", text, re.M):
        return "pdm.lock"
    if "[metadata]" in text and ("content-hash" in text or "lock-version" in text):
        return "poetry.lock"
    if re.search(r"^version\s*=\s*1\s*$", text, re.M) and "[[package]]" in text:
        return "uv.lock"
    return None


class LockFileSource:
    def __init__(
        self, path: Path, *, fmt: str | None = None, selection: GroupSelection | None = None
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.selection = selection or GroupSelection()

    def collect(self) -> Iterator[Collected]:
        display = str(self.path)
        text = read_file(self.path)
        fmt = self.fmt or lock_format(self.path) or sniff_lock_format(self.path, text)
        if fmt is None:
            raise InputError(
                display, f"not a lock file vulnsweep recognises ({', '.join(LOCK_FORMATS)})"
            )
        reader = _READERS[fmt]
        yield from reader(display, text, self.selection)


# -- helpers ----------------------------------------------------------------------


def _table_lines(text: str, header: str) -> list[int]:
    """1-based line of each `[[header]]`, in order: the line of each array entry."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(header)}\s*\]\]\s*(#.*)?$")
    return [n for n, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]


def _entries(
    path: str,
    text: str,
    data: dict[str, Any],
    key: str,
) -> Iterator[tuple[dict[str, Any], Origin]]:
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise InputError(path, f"`{key}` is not an array of tables")
    lines = _table_lines(text, key)
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InputError(path, f"`{key}` entry {index + 1} is not a table")
        line = lines[index] if index < len(lines) and len(lines) == len(entries) else None
        yield entry, Origin(path, line)


def _pin(entry: dict[str, Any], origin: Origin, *, kind: str = "package") -> Collected:
    name = entry.get("name")
    version = entry.get("version")
    if not isinstance(name, str) or not name:
        return SkippedDependency(
            name="<unnamed>", origins=(origin,), reason=f"{kind} entry has no name"
        )
    if not isinstance(version, str) or not version:
        return SkippedDependency(
            name=name, origins=(origin,), reason=f"{kind} entry has no version"
        )
    return Dependency(name=name, version=version, origins=(origin,))


def _skip(name: str, origin: Origin, reason: str) -> SkippedDependency:
    return SkippedDependency(name=name, origins=(origin,), reason=reason)


def _remote(entry: dict[str, Any], origin: Origin, kind: str) -> Collected:
    """A git or URL source: the lock records the version it resolved to, so it is
    audited at that version, as a direct reference is; without one, only a build could
    tell, and the run exits 3. (A local path or directory is the organisation's own
    code, not a release any advisory names; what it depends on is locked beside it.)"""
    version = entry.get("version")
    if isinstance(version, str) and version:
        return _pin(entry, origin)
    return SkippedDependency(
        name=str(entry.get("name") or "<unnamed>"),
        origins=(origin,),
        reason=f"locked from a {kind} source with no version: only a build could tell it; "
        "not audited",
        unresolved=True,
    )


def _check_version(path: str, label: str, value: Any, supported: Sequence[str]) -> None:
    if value is None:
        raise InputError(path, f"no {label}: not a lock file vulnsweep can trust")
    text = str(value) if value is not None else ""
    major = text.split(".")[0]
    if major not in supported:
        raise InputError(
            path,
            f"unsupported {label} {value!r} (supported: {', '.join(s + '.x' for s in supported)})",
        )


# -- uv.lock ----------------------------------------------------------------------

_UV_LOCAL = ("editable", "virtual")
_UV_NOT_AUDITABLE = {
    "path": "a local path",
    "directory": "a local directory",
    "git": "a git checkout",
    "url": "a direct URL",
}


def _read_uv(path: str, text: str, selection: GroupSelection) -> Iterator[Collected]:
    data = parse_toml(path, text)
    _check_version(path, "uv.lock version", data.get("version"), ("1",))
    key = "package" if "package" in data else "distribution"
    entries: list[tuple[dict[str, Any], Origin] | None] = list(_entries(path, text, data, key))
    wanted = _uv_reachable([e[0] for e in entries if e], selection) if selection.narrowed else None
    data.clear()
    for index, item in enumerate(entries):
        # Each parsed table is let go once read: a 200,000-package lock then never
        # holds its whole parse and every Dependency made from it at once.
        entries[index] = None
        assert item is not None
        entry, origin = item
        name = str(entry.get("name", ""))
        source = entry.get("source") or {}
        if any(k in source for k in _UV_LOCAL):
            continue  # the project itself or a workspace member: not a dependency
        if wanted is not None and (canonical_name(name), entry.get("version")) not in wanted:
            continue
        if "git" in source or "url" in source:
            yield _remote(entry, origin, "git" if "git" in source else "URL")
            continue
        local = next((label for k, label in _UV_NOT_AUDITABLE.items() if k in source), None)
        if local is not None:
            yield _skip(name, origin, f"locked from {local}, not an index: cannot be audited")
            continue
        yield _pin(entry, origin)


def _uv_reachable(entries: list[dict[str, Any]], selection: GroupSelection) -> set[tuple[str, Any]]:
    """Packages reachable from the workspace members through the selected groups."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_name.setdefault(canonical_name(str(entry.get("name", ""))), []).append(entry)

    def targets(dep: dict[str, Any]) -> list[dict[str, Any]]:
        candidates = by_name.get(canonical_name(str(dep.get("name", ""))), [])
        if "version" in dep:
            candidates = [c for c in candidates if c.get("version") == dep["version"]] or candidates
        return candidates

    seen: set[tuple[str, Any]] = set()
    stack: list[dict[str, Any]] = []
    for entry in entries:
        source = entry.get("source") or {}
        if any(k in source for k in _UV_LOCAL):
            edges = list(entry.get("dependencies") or [])
            for extra_deps in (entry.get("optional-dependencies") or {}).values():
                edges += extra_deps
            for group, deps in (entry.get("dev-dependencies") or {}).items():
                if selection.wants(group, main_names=()):
                    edges += deps
            for dep in edges:
                stack.extend(targets(dep))
    while stack:
        entry = stack.pop()
        key = (canonical_name(str(entry.get("name", ""))), entry.get("version"))
        if key in seen:
            continue
        seen.add(key)
        edges = list(entry.get("dependencies") or [])
        for extra_deps in (entry.get("optional-dependencies") or {}).values():
            edges += extra_deps
        for dep in edges:
            stack.extend(targets(dep))
    return seen


# -- poetry.lock ------------------------------------------------------------------


def _read_poetry(path: str, text: str, selection: GroupSelection) -> Iterator[Collected]:
    data = parse_toml(path, text)
    metadata = data.get("metadata") or {}
    _check_version(
        path, "poetry.lock lock-version", metadata.get("lock-version", "1.0"), ("1", "2")
    )
    for entry, origin in _entries(path, text, data, "package"):
        name = str(entry.get("name", ""))
        groups = entry.get("groups")
        if groups is None:
            groups = ["dev" if entry.get("category") == "dev" else "main"]
        if not any(selection.wants(str(g)) for g in groups):
            continue
        source = entry.get("source") or {}
        kind = source.get("type")
        if kind in ("git", "url"):
            yield _remote(entry, origin, str(kind))
            continue
        if kind in ("directory", "file"):
            yield _skip(
                name, origin, f"locked from a {kind} source, not an index: cannot be audited"
            )
            continue
        yield _pin(entry, origin)


# -- pdm.lock ---------------------------------------------------------------------


def _read_pdm(path: str, text: str, selection: GroupSelection) -> Iterator[Collected]:
    data = parse_toml(path, text)
    metadata = data.get("metadata") or {}
    if "lock_version" in metadata:
        _check_version(path, "pdm.lock lock_version", metadata["lock_version"], ("3", "4"))
    for entry, origin in _entries(path, text, data, "package"):
        name = str(entry.get("name", ""))
        groups = entry.get("groups") or entry.get("sections") or ["default"]
        if not any(selection.wants(str(g)) for g in groups):
            continue
        if "git" in entry or "url" in entry:
            yield _remote(entry, origin, "git" if "git" in entry else "URL")
            continue
        local = next((k for k in ("path", "editable") if k in entry), None)
        if local is not None:
            yield _skip(
                name, origin, f"locked from a {local} source, not an index: cannot be audited"
            )
            continue
        yield _pin(entry, origin)


# -- Pipfile.lock -----------------------------------------------------------------


def _read_pipfile(path: str, text: str, selection: GroupSelection) -> Iterator[Collected]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, dict):
        raise InputError(path, "Pipfile.lock is not a JSON object")
    spec = (data.get("_meta") or {}).get("pipfile-spec")
    if spec is not None and spec != 6:
        raise InputError(path, f"unsupported Pipfile.lock pipfile-spec {spec!r} (supported: 6)")
    lines = text.splitlines()
    for section in ("default", "develop"):
        if not selection.wants("default" if section == "default" else "dev"):
            continue
        packages = data.get(section) or {}
        if not isinstance(packages, dict):
            raise InputError(path, f"`{section}` is not an object")
        section_line = _json_key_line(lines, section, 0)
        for name, entry in packages.items():
            origin = Origin(path, _json_key_line(lines, name, section_line or 0))
            if not isinstance(entry, dict):
                yield _skip(name, origin, "entry is not an object")
                continue
            if "git" in entry and "version" not in entry:
                yield _remote(entry, origin, "git")
                continue
            local = next((k for k in ("git", "path", "file", "editable") if k in entry), None)
            if local is not None and "version" not in entry:
                yield _skip(
                    name, origin, f"locked from a {local} source, not an index: cannot be audited"
                )
                continue
            version = str(entry.get("version", ""))
            if not version.startswith("=="):
                yield _skip(name, origin, f"version {version!r} is not an exact pin")
                continue
            yield Dependency(name=name, version=version[2:].lstrip("="), origins=(origin,))


def _json_key_line(lines: list[str], key: str, start: int) -> int | None:
    needle = f'"{key}":'
    for number in range(start, len(lines)):
        if lines[number].lstrip().startswith(needle):
            return number + 1
    return None


# -- pylock.toml (PEP 751) --------------------------------------------------------


def _read_pylock(path: str, text: str, selection: GroupSelection) -> Iterator[Collected]:
    data = parse_toml(path, text)
    _check_version(path, "pylock lock-version", data.get("lock-version"), ("1",))
    if "packages" not in data:
        raise InputError(path, "pylock file has no `packages` array")
    all_groups = frozenset(str(g) for g in data.get("dependency-groups") or ())
    defaults = frozenset(str(g) for g in data.get("default-groups") or ())
    extras = frozenset(str(e) for e in data.get("extras") or ())
    if selection.groups:
        groups = defaults | frozenset(selection.groups)
    elif selection.no_dev:
        groups = defaults
    else:
        groups = all_groups | defaults
    for entry, origin in _entries(path, text, data, "packages"):
        name = str(entry.get("name", ""))
        marker = entry.get("marker")
        if marker and selection.narrowed and not _group_marker_holds(str(marker), groups, extras):
            continue
        if "vcs" in entry:
            yield _remote(entry, origin, "VCS")
            continue
        local = next((k for k in ("directory",) if k in entry), None)
        if local is not None:
            yield _skip(
                name, origin, f"locked from a {local} source, not an index: cannot be audited"
            )
            continue
        yield _pin(entry, origin)


def _group_marker_holds(marker: str, groups: frozenset[str], extras: frozenset[str]) -> bool:
    """Does the marker admit these groups, on some platform? Only groups are decided."""
    from packaging.markers import InvalidMarker, Marker

    if "dependency_groups" not in marker and "extras" not in marker:
        return True
    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return True
    # Decide the group clause on a neutral environment: a marker that fails only on
    # platform terms still counts (lock files cover every platform they were made for).
    for env in _NEUTRAL_ENVIRONMENTS:
        if parsed.evaluate(
            {**env, "dependency_groups": groups, "extras": extras}, context="lock_file"
        ):
            return True
    return False


_NEUTRAL_ENVIRONMENTS: list[dict[str, str]] = [
    {
        "sys_platform": p,
        "platform_system": s,
        "os_name": o,
        "python_version": v,
        "python_full_version": f"{v}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_machine": "x86_64",
        "platform_release": "",
        "platform_version": "",
        "implementation_version": f"{v}.0",
    }
    for p, s, o in (
        ("linux", "Linux", "posix"),
        ("win32", "Windows", "nt"),
        ("darwin", "Darwin", "posix"),
    )
    for v in ("3.8", "3.10", "3.12", "3.14")
]


_READERS: dict[str, Callable[[str, str, GroupSelection], Iterator[Collected]]] = {
    "uv.lock": _read_uv,
    "poetry.lock": _read_poetry,
    "pdm.lock": _read_pdm,
    "Pipfile.lock": _read_pipfile,
    "pylock.toml": _read_pylock,
}
