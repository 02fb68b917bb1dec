"""Single pins in hand-written files (requirements lines, pyproject strings): each
vulnerable pin moves to the smallest version that fixes every known advisory for it.

The candidate is checked by auditing it too, round after round, until it is clean or
no fix exists. Rewrites touch only the version on the pinning line (extras, markers,
comments, order and layout stay); hash-pinned lines get the new release's hashes from
the index (PEP 691), never stale ones. All files are prepared before any is replaced.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from vulnsweep.errors import InputError
from vulnsweep.model import (
    AuditResult,
    Dependency,
    Origin,
    Vulnerability,
    canonical_name,
    parse_version,
)

MAX_ROUNDS = 10
# Answers the advisories of candidate pins (the audit's own service, cache and all).
Auditor = Callable[[list[Dependency]], dict[tuple[str, str], list[Vulnerability] | None]]
# Returns {version: [sha256, ...]} for a project, from the index.
HashSource = Callable[[list[tuple[str, str]]], dict[tuple[str, str], list[str]]]


@dataclass
class Fix:
    dependency: Dependency
    new_version: str | None = None
    skip_reason: str | None = None
    files: list[str] = field(default_factory=list)


def plan(result: AuditResult, auditor: Auditor) -> list[Fix]:
    """The target version of every dependency with a reported (non-ignored) finding."""
    fixes: dict[tuple[str, str], Fix] = {}
    pending: dict[tuple[str, str], tuple[Dependency, Version, list[Vulnerability]]] = {}
    for dep, findings in result.audited:
        vulns = [f.vulnerability for f in findings if not f.ignored]
        if not vulns:
            continue
        current = parse_version(dep.version)
        if current is None:
            fixes[dep.key] = Fix(dep, skip_reason=f"version {dep.version!r} is not PEP 440")
            continue
        fixes[dep.key] = Fix(dep)
        pending[dep.key] = (dep, current, vulns)
    for _ in range(MAX_ROUNDS):
        if not pending:
            break
        candidates: dict[tuple[str, str], Dependency] = {}
        target_of: dict[tuple[str, str], Version] = {}
        for key, (dep, floor, vulns) in pending.items():
            target, blocker = smallest_fix(floor, vulns)
            if target is None:
                fixes[key].skip_reason = f"{blocker} has no fix version above {floor}"
                continue
            candidates[key] = Dependency(dep.name, str(target))
            target_of[key] = target
        answers = auditor(list(candidates.values()))
        pending_next = {}
        for key, candidate in candidates.items():
            found = answers.get(candidate.key)
            if found is None:
                fixes[key].skip_reason = f"could not audit candidate {candidate.version}"
            elif not found:
                fixes[key].new_version = candidate.version
            else:
                pending_next[key] = (pending[key][0], target_of[key], found)
        pending = pending_next
    for key in pending:
        fixes[key].skip_reason = f"no clean version found within {MAX_ROUNDS} rounds"
    return list(fixes.values())


def smallest_fix(
    current: Version,
    vulns: Sequence[Vulnerability],
) -> tuple[Version | None, str | None]:
    target = current
    for vuln in vulns:
        above = [
            v
            for v in (parse_version(f) for f in vuln.fix_versions)
            if v is not None and v > current
        ]
        if not above:
            return None, vuln.id
        target = max(target, min(above))
    return target, None


# -- rewriting ----------------------------------------------------------------------

_PIN = r"(?P<name>{name})(?P<extras>\s*\[[^\]]*\])?(?P<op>\s*===?\s*)(?P<version>[^\s;,#\\\"']+)"


@dataclass
class Rewrite:
    path: Path
    before: str
    after: str

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path}",
                tofile=f"b/{self.path}",
            )
        )


def rewrite_files(fixes: Sequence[Fix], hashes: HashSource) -> list[Rewrite]:
    """New contents for every requirements file and pyproject.toml a fix touches."""
    edits: dict[Path, list[tuple[Origin, Fix]]] = {}
    files = _Files()
    for fix in fixes:
        if fix.new_version is None:
            continue
        resolved = bool(fix.dependency.paths)
        for origin in fix.dependency.origins:
            path = Path(origin.path)
            if origin.line is None or not path.is_file() or _not_rewritable(path):
                continue
            if resolved and not _pins(files.line(path, origin.line), fix.dependency.name):
                continue  # the line that pulled it in, not a pin of it
            edits.setdefault(path, []).append((origin, fix))
            fix.files.append(str(origin))
        if resolved and not fix.files:
            fix.skip_reason = _advice(fix, files)
            fix.new_version = None
    needed = sorted(
        {
            (f.dependency.canonical_name, f.new_version or "")
            for _, fs in edits.items()
            for _, f in fs
        }
    )
    known_hashes = hashes(needed) if any("--hash" in files.text(p) for p in edits) else {}
    rewrites = []
    for path, items in edits.items():
        # Strict UTF-8 and line endings as they are: a rewrite must not lose a byte.
        before = path.read_bytes().decode("utf-8")
        lines = before.splitlines(keepends=True)
        for origin, fix in sorted(items, key=lambda item: -(item[0].line or 0)):
            _edit(path, lines, origin, fix, known_hashes)
        after = "".join(lines)
        if after != before:
            rewrites.append(Rewrite(path, before, after))
    return rewrites


def _spelled(name: str) -> str:
    """A regex for a project name in any of its PEP 503-equal spellings (a canonical
    name is only letters, digits and single hyphens)."""
    return canonical_name(name).replace("-", "[-_.]+")


def _pin_pattern(name: str) -> re.Pattern[str]:
    return re.compile(_PIN.format(name=_spelled(name)), re.IGNORECASE)


class _Files:
    """Each file a fix looks at, read once (a tree's files hold many fixes)."""

    def __init__(self) -> None:
        self._texts: dict[Path, str] = {}

    def text(self, path: Path) -> str:
        if path not in self._texts:
            self._texts[path] = path.read_text(encoding="utf-8", errors="replace")
        return self._texts[path]

    def line(self, path: Path, number: int) -> str:
        lines = self.text(path).splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


def _pins(line: str, name: str) -> bool:
    return _pin_pattern(name).search(line) is not None


def _advice(fix: Fix, files: _Files) -> str:
    """What to change by hand when resolution, not a pinning line, chose the version."""
    dep, target = fix.dependency, fix.new_version
    declared = re.compile(
        rf"(^|[\"'\s,\[]){_spelled(dep.name)}\s*(\[[^\]]*\])?\s*([<>=!~;@\"',]|$)",
        re.IGNORECASE,
    )
    for origin in dep.origins:
        if origin.line is not None and declared.search(files.line(Path(origin.path), origin.line)):
            return (
                f"resolved from a version range, not pinned: require "
                f"{dep.canonical_name}>={target} at {origin}"
            )
    parents = dep.paths[0][:-1]
    via = " -> ".join(parents) or "another requirement"
    return (
        f"a dependency of {via}: require {dep.canonical_name}>={target} (a constraints "
        f"file will do) or upgrade {parents[-1] if parents else 'what pulls it in'}"
    )


def _not_rewritable(path: Path) -> bool:
    from vulnsweep.sources.lockfiles import lock_format

    return lock_format(path) is not None or path.suffix in (".json", ".xml")


def _edit(
    path: Path,
    lines: list[str],
    origin: Origin,
    fix: Fix,
    known_hashes: dict[tuple[str, str], list[str]],
) -> None:
    number = origin.line or 0
    index = number - 1
    if not 0 <= index < len(lines):
        raise InputError(str(path), "the pinning line moved while vulnsweep ran", number)
    line = lines[index]
    old, column = fix.dependency.version, origin.column
    if column is not None and line[column : column + len(old)] == old:
        # Where the reader found the version: no second parse of the line.
        start, end = column, column + len(old)
    else:  # pyproject strings, markers, extras, continued lines: find the pin
        match = _pin_pattern(fix.dependency.name).search(line)
        if match is None:
            raise InputError(
                str(path), f"cannot find the pin of {fix.dependency.name} to rewrite", number
            )
        start, end = match.start("version"), match.end("version")
    lines[index] = line[:start] + str(fix.new_version) + line[end:]
    # Hash options on this logical line (and its continuation lines) must follow.
    end = index
    while lines[end].rstrip("\r\n").endswith("\\") and end + 1 < len(lines):
        end += 1
    block = "".join(lines[index : end + 1])
    if "--hash" not in block:
        return
    new_hashes = known_hashes.get((fix.dependency.canonical_name, str(fix.new_version)))
    if not new_hashes:
        raise InputError(
            str(path),
            f"no hashes for {fix.dependency.canonical_name}=="
            f"{fix.new_version} on the index: refusing to leave stale hashes",
            number,
        )
    newline = "\r\n" if lines[index].endswith("\r\n") else "\n"
    first, *rest = lines[index : end + 1]
    if rest:  # hashes on continuation lines: keep their indentation, one per line
        indent = re.match(r"\s*", rest[0]).group(0)  # type: ignore[union-attr]
        head = re.sub(r"\s*--hash[=\s]\S+", "", first.rstrip("\r\n").rstrip("\\")).rstrip()
        body = [f"{head} \\{newline}"]
        body += [f"{indent}--hash=sha256:{h} \\{newline}" for h in new_hashes[:-1]]
        body.append(f"{indent}--hash=sha256:{new_hashes[-1]}{newline}")
    else:  # hashes inline on the same line
        text = first.rstrip("\r\n")
        comment = ""
        found = re.search(r"\s+#.*$", text)
        if found is not None:  # the comment keeps the spacing before it
            text, comment = text[: found.start()], found.group(0)
        head = re.sub(r"\s*--hash[=\s]\S+", "", text).rstrip()
        body = [head + "".join(f" --hash=sha256:{h}" for h in new_hashes) + comment + newline]
    lines[index : end + 1] = body


def apply(rewrites: Sequence[Rewrite]) -> None:
    """All or nothing: every new file is written in full before any replaces its old one."""
    staged: list[tuple[str, Path]] = []
    try:
        for rewrite in rewrites:
            target = rewrite.path.resolve()  # a symlinked file: fix what it points at
            fd, temp = tempfile.mkstemp(prefix=".vulnsweep-fix-", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(rewrite.after)
            os.chmod(temp, target.stat().st_mode & 0o7777)
            staged.append((temp, target))
    except BaseException:
        for temp, _ in staged:
            Path(temp).unlink(missing_ok=True)
        raise
    for temp, target in staged:
        os.replace(temp, target)
