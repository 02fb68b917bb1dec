"""Pipfile.lock written directly (JSON, in pipenv's own layout: four-space indent,
sorted keys): a moved entry gets its new `version` and the sha256 of every file of
the new release from the index; a needed package is added to the section of what
needs it; `_meta.hash` stays valid as Pipfile is untouched. Pipfile.lock keeps no
dependency graph, so an entry the new resolution no longer reaches is dropped only
when its markers (if any) hold here and Pipfile does not name it."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from vulnsweep.errors import InputError
from vulnsweep.model import canonical_name

Hashes = Callable[[str, str], list[str]]


def rewrite(
    path: Path,
    text: str,
    moved: Mapping[str, str],
    added: Mapping[str, tuple[str, list[str]]],
    hashes: Hashes,
    reached: Collection[str],
    declared: Collection[str],
) -> str:
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError as exc:
        raise InputError(str(path), f"not JSON: {exc}") from None

    def pinned(name: str, version: str) -> list[str]:
        found = hashes(name, version)
        if not found:
            raise InputError(
                str(path),
                f"the index lists no hashes for {name}=={version}: refusing to write a "
                "lock entry without them",
            )
        return [f"sha256:{h}" for h in found]

    where: dict[str, str] = {}
    for section in ("default", "develop"):
        entries = data.get(section)
        if not isinstance(entries, dict):
            continue
        for name in list(entries):
            entry = entries[name]
            canonical = canonical_name(name)
            where.setdefault(canonical, section)
            if not isinstance(entry, dict) or "version" not in entry:
                continue  # a VCS, path or editable entry: not an index release
            if canonical in moved:
                entry["version"] = f"=={moved[canonical]}"
                entry["hashes"] = pinned(canonical, moved[canonical])
            elif (
                reached
                and canonical not in reached
                and canonical not in declared
                and _applies_here(entry.get("markers"))
            ):
                del entries[name]
    for name, (version, needed_by) in sorted(added.items()):
        section = next(
            (where[canonical_name(p)] for p in needed_by if canonical_name(p) in where),
            "default",
        )
        data.setdefault(section, {})[name] = {
            "hashes": pinned(name, version),
            "version": f"=={version}",
        }
        index = _index_of(data, needed_by, where)
        if index is not None:
            data[section][name]["index"] = index
    return json.dumps(data, indent=4, sort_keys=True) + "\n"


def _applies_here(markers: object) -> bool:
    """An entry without markers, or whose markers hold here (pipenv writes a
    `python_version >= '3.7'` for most): the resolution just made covers it; one for
    another platform or interpreter is not this resolution's to drop."""
    if markers is None:
        return True
    from packaging.markers import InvalidMarker, Marker

    try:
        return Marker(str(markers)).evaluate()
    except InvalidMarker:
        return False


def _index_of(data: dict[str, Any], parents: list[str], where: dict[str, str]) -> str | None:
    for parent in parents:
        section = data.get(where.get(canonical_name(parent), ""), {})
        for name, entry in section.items() if isinstance(section, dict) else ():
            if canonical_name(name) == canonical_name(parent) and isinstance(entry, dict):
                index = entry.get("index")
                return str(index) if isinstance(index, str) else None
    return None
