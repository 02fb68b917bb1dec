"""Plans written back: each format by whoever writes it best.

- compiled requirements files: written here (the format is text; hashes from the
  index), the way pip-compile and `uv pip compile` write them;
- uv.lock: handed to uv (`uv lock --upgrade-package name==version`), which owns the
  format and its universal resolution, run on a copy of the project with builds off
  (`--no-build`) so no package code runs; the lock it writes replaces the old one only
  if it holds the planned versions;
- pylock.toml: written here (a standard with no owning tool; every field from the
  index's PEP 691 page);
- poetry.lock: written here (Poetry cannot lock one package at a chosen version
  without editing pyproject.toml; see poetrylock.py);
- pdm.lock: written here likewise (pdmlock.py);
- Pipfile.lock: written here (pipfilelock.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from vulnsweep.model import Dependency, canonical_name, version_key
from vulnsweep.remediation import compiled
from vulnsweep.remediation.pins import Rewrite
from vulnsweep.remediation.planner import Planned
from vulnsweep.remediation.releases import ReleaseFile, ReleaseFiles

Hashes = Callable[[Sequence[tuple[str, str]]], Mapping[tuple[str, str], Sequence[str]]]
UV_TIMEOUT = 600.0


Pages = Callable[[Sequence[str]], Mapping[str, ReleaseFiles]]


def _moves(planned: Planned) -> tuple[dict[str, str], dict[str, tuple[str, list[str]]]]:
    """What the plan moves (name -> version) and adds (name -> version, who needs it)."""
    moved: dict[str, str] = {}
    added: dict[str, tuple[str, list[str]]] = {}
    for change in planned.plan.changes:
        if change.new_version is None:
            continue
        if change.old_version is not None:
            moved[change.name] = change.new_version
        else:
            who = [w.split(" ")[0] for w, _ in planned.wanted_by.get(change.name, [])]
            added[change.name] = (change.new_version, who)
    return moved, added


def _files(pages: Pages) -> Callable[[str, str], list[ReleaseFile]]:
    def files(name: str, version: str) -> list[ReleaseFile]:
        found = pages([name]).get(name)
        return found.files.get(version_key(version), []) if found is not None else []

    return files


def _locked_now(planned: Planned, after: str) -> None:
    """What a rewritten lock now holds, read back by the lock reader."""
    planned.actual = {
        item.canonical_name: item.version
        for item in _read_lock(planned.unit.path, after)
        if isinstance(item, Dependency)
    }


def write_requirements(planned: Planned, hashes: Hashes) -> Rewrite | None:
    path = planned.unit.path
    before = path.read_bytes().decode("utf-8")
    moved, needed = _moves(planned)
    added = {n: (v, sorted(set(who))) for n, (v, who) in needed.items()}  # `# via`, sorted
    wanted = [*moved.items(), *((n, v) for n, (v, _) in added.items())]
    known = hashes(wanted) if "--hash" in before and wanted else {}
    removed = {c.name: None for c in planned.plan.changes if c.new_version is None}
    after = compiled.rewrite(path, before, {**moved, **removed}, added, known)
    return Rewrite(path, before, after) if after != before else None


def write_pylock(planned: Planned, pages: Pages) -> Rewrite | None:
    from vulnsweep.remediation import pylock

    path = planned.unit.path
    moved, added = _moves(planned)
    before = path.read_bytes().decode("utf-8")
    versions = {name: version for name, (version, _) in added.items()}
    after = pylock.rewrite(path, before, moved, versions, _files(pages))
    return Rewrite(path, before, after) if after != before else None


def write_poetry_lock(planned: Planned, pages: Pages) -> Rewrite | None:
    from vulnsweep.remediation import poetrylock

    return _write_toml_lock(planned, pages, poetrylock.rewrite)


def write_pdm_lock(planned: Planned, pages: Pages) -> Rewrite | None:
    from vulnsweep.remediation import pdmlock

    return _write_toml_lock(planned, pages, pdmlock.rewrite)


def _write_toml_lock(planned: Planned, pages: Pages, rewrite: Callable[..., str]) -> Rewrite | None:
    """poetry.lock and pdm.lock: rendered here from the index and the metadata the
    plan's resolution read, then read back to say what the file now locks."""
    path = planned.unit.path
    moved, added = _moves(planned)
    declared = planned.unit.declared
    roots = [line.text for line in declared.requirements] if declared else []
    before = path.read_bytes().decode("utf-8")
    after = rewrite(path, before, moved, added, _files(pages), planned.metadata, roots)
    _locked_now(planned, after)
    return Rewrite(path, before, after) if after != before else None


def write_pipfile_lock(planned: Planned, pages: Pages) -> Rewrite | None:
    from vulnsweep.remediation import pipfilelock

    path = planned.unit.path
    moved, added = _moves(planned)

    def hashes(name: str, version: str) -> list[str]:
        return [f.sha256 for f in _files(pages)(name, version)]

    declared = planned.unit.declared
    named = set()
    for line in declared.requirements if declared else ():
        found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.text)
        if found:
            named.add(canonical_name(found.group(1)))
    before = path.read_bytes().decode("utf-8")
    after = pipfilelock.rewrite(path, before, moved, added, hashes, set(planned.versions), named)
    _locked_now(planned, after)
    return Rewrite(path, before, after) if after != before else None


def _read_lock(path: Path, text: str) -> list[object]:
    """A rewritten lock read back by the lock reader, from a scratch copy."""
    from vulnsweep.sources.lockfiles import LockFileSource

    with tempfile.TemporaryDirectory(prefix="vulnsweep-lock-") as scratch:
        copy = Path(scratch) / path.name
        copy.write_text(text, encoding="utf-8")
        return list(LockFileSource(copy).collect())


def find_uv() -> str | None:
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    return shutil.which("uv") or (str(beside) if beside.is_file() else None)


def write_uv_lock(planned: Planned) -> tuple[Rewrite | None, str | None]:
    """The new uv.lock from uv itself, or why not (one line)."""
    from vulnsweep.sources.lockfiles import LockFileSource

    uv = find_uv()
    path = planned.unit.path
    upgrades = [c for c in planned.plan.changes if c.closes and c.new_version]
    if not upgrades:
        return None, None
    if uv is None:
        return (
            None,
            "uv is not installed: lock the planned versions with `uv lock --upgrade-package`",
        )
    project = path.parent
    with tempfile.TemporaryDirectory(prefix="vulnsweep-uv-") as scratch:
        for name in ("pyproject.toml", "uv.lock", "uv.toml", ".python-version", "README.md"):
            if (project / name).is_file():
                shutil.copy2(project / name, Path(scratch) / name)
        command = [uv, "lock", "--no-build", "--quiet"]
        for change in upgrades:
            command += ["--upgrade-package", f"{change.name}=={change.new_version}"]
        try:
            done = subprocess.run(
                command, cwd=scratch, capture_output=True, text=True, timeout=UV_TIMEOUT,
                check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"uv lock could not run: {exc}"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
            from vulnsweep.redact import redact_text

            # uv names index URLs in its errors: never print their credentials.
            return None, f"uv lock refused the planned versions: {redact_text(last)}"
        after = (Path(scratch) / "uv.lock").read_text(encoding="utf-8")
        locked = {
            item.canonical_name: item.version
            for item in LockFileSource(Path(scratch) / "uv.lock").collect()
            if isinstance(item, Dependency)
        }
    for change in upgrades:
        got = locked.get(canonical_name(change.name))
        if got is None or version_key(got) != version_key(str(change.new_version)):
            return None, f"uv locked {change.name} {got}, not the planned {change.new_version}"
    planned.actual = locked
    before = path.read_text(encoding="utf-8")
    return (Rewrite(path, before, after) if after != before else None), None
