"""Poetry's own tables in PEP 621 / PEP 735 shapes, so a Poetry project resolves as
`poetry install` would install it: `[tool.poetry.dependencies]` (caret, tilde and
wildcard constraints, `python` restrictions as markers, extras, optional packages
behind `[tool.poetry.extras]`), `[tool.poetry.group.<name>.dependencies]` and the
legacy `[tool.poetry.dev-dependencies]`.

What has no PEP 508 form is named instead of guessed: a path, git or directory
dependency (its version is only known by building it), and a version constraint with
`||` (a union of ranges no PEP 440 specifier can state).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vulnsweep.model import canonical_name

_SPEC = re.compile(r"(===|==|!=|<=|>=|~=|<|>)(.*)")
_OPERATOR = re.compile(r"^(===|==|!=|<=|>=|~=|<|>|\^|~|=)?\s*(.+)$")


class Inexpressible(ValueError):
    """A Poetry constraint with no PEP 440 equivalent."""


@dataclass
class PoetryTables:
    """What the converter made of a Poetry project."""

    name: str
    version: str | None
    dependencies: list[str] = field(default_factory=list)
    extras: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


def read_poetry(tool: dict[str, Any]) -> PoetryTables | None:
    """Poetry's tables as requirement strings; None when there are none."""
    poetry = tool.get("poetry")
    if not isinstance(poetry, dict) or not isinstance(poetry.get("dependencies"), dict):
        return None
    version = poetry.get("version")
    tables = PoetryTables(
        name=str(poetry.get("name") or ""),
        version=str(version) if isinstance(version, str) else None,
    )
    optional: dict[str, list[str]] = {}
    for name, spec in poetry["dependencies"].items():
        if canonical_name(name) == "python":
            continue  # the project's own Requires-Python
        for requirement, is_optional in _requirements(tables, name, spec):
            if is_optional:
                optional.setdefault(canonical_name(name), []).append(requirement)
            else:
                tables.dependencies.append(requirement)
    for extra, members in (poetry.get("extras") or {}).items():
        tables.extras[extra] = [r for m in members for r in optional.get(canonical_name(m), [])]
    groups = dict(poetry.get("group") or {})
    if isinstance(poetry.get("dev-dependencies"), dict):
        groups.setdefault("dev", {}).setdefault("dependencies", {})
        merged = {**poetry["dev-dependencies"], **groups["dev"]["dependencies"]}
        groups["dev"] = {**groups["dev"], "dependencies": merged}
    for group, body in groups.items():
        if not isinstance(body, dict):
            continue
        listed = tables.groups.setdefault(group, [])
        for name, spec in (body.get("dependencies") or {}).items():
            listed += [r for r, _ in _requirements(tables, name, spec)]
    return tables


def _requirements(tables: PoetryTables, name: str, spec: Any) -> list[tuple[str, bool]]:
    """One dependency's requirement strings (a list of constraints gives several, each
    under its own markers), each with whether it is optional."""
    out: list[tuple[str, bool]] = []
    for one in spec if isinstance(spec, list) else [spec]:
        try:
            requirement = _requirement(name, one)
        except Inexpressible as why:
            tables.unusable.append((name, str(why)))
            continue
        out.append((requirement, isinstance(one, dict) and one.get("optional") is True))
    return out


def _requirement(name: str, spec: Any) -> str:
    if isinstance(spec, str):
        return f"{name}{specifier(spec)}"
    if not isinstance(spec, dict):
        raise Inexpressible(f"the constraint {spec!r} is not a string or a table")
    for kind in ("path", "git", "url", "file", "directory"):
        if kind in spec:
            raise Inexpressible(
                f"a {kind} dependency ({spec[kind]!r}): its version is only known by "
                "building it, which vulnsweep never does"
            )
    extras = spec.get("extras") or []
    text = name + (f"[{','.join(str(e) for e in extras)}]" if extras else "")
    text += specifier(str(spec.get("version", "*")))
    markers = []
    if spec.get("python"):
        markers.append(python_marker(str(spec["python"])))
    if spec.get("markers"):
        markers.append(f"({spec['markers']})")
    if spec.get("platform"):
        markers.append(f'sys_platform == "{spec["platform"]}"')
    return f"{text} ; {' and '.join(markers)}" if markers else text


def specifier(constraint: str) -> str:
    """A Poetry version constraint as a PEP 440 specifier ("" for any version)."""
    constraint = constraint.strip()
    if "||" in constraint or "|" in constraint:
        raise Inexpressible(f"the constraint {constraint!r} is a union of ranges")
    clauses = [c for part in constraint.split(",") for c in _clauses(part)]
    out = [s for clause in clauses for s in _clause(clause)]
    return ",".join(out)


def python_marker(constraint: str) -> str:
    """A Poetry `python` restriction (`~2.7 || ^3.4`) as a PEP 508 marker."""
    alternatives = []
    for part in constraint.split("||"):
        clauses = [c for piece in part.split(",") for c in _clauses(piece)]
        specs = [s for clause in clauses for s in _clause(clause)]
        if not specs:
            return 'python_version >= "0"'  # any Python
        terms = []
        for spec in specs:
            split = _SPEC.match(spec)
            assert split is not None, "_clause only makes PEP 440 clauses"
            operator, version = split.groups()
            field_name = "python_full_version" if version.count(".") >= 2 else "python_version"
            terms.append(f'{field_name} {operator} "{version}"')
        alternatives.append(" and ".join(terms))
    if len(alternatives) == 1:
        return f"({alternatives[0]})"
    return "(" + " or ".join(f"({a})" for a in alternatives) + ")"


def _clauses(part: str) -> list[str]:
    """`>= 1.2 < 2.0` (space-separated, as Poetry allows) as two clauses."""
    part = part.strip()
    if not part:
        return []
    pieces = re.findall(r"(?:===|==|!=|<=|>=|~=|<|>|\^|~|=)?\s*[^\s,<>=!~^]+", part)
    return [p.strip() for p in pieces] or [part]


def _clause(clause: str) -> list[str]:
    if clause in ("*", ""):
        return []
    match = _OPERATOR.match(clause)
    if match is None:
        raise Inexpressible(f"the constraint {clause!r} is not one Poetry defines")
    operator, version = match.group(1) or "", match.group(2).strip()
    if operator in ("", "=", "=="):
        if version.endswith(".*"):
            return [f"=={version}"]
        return [f"=={version}"]
    if operator == "^":
        return [f">={version}", f"<{_caret_ceiling(version)}"]
    if operator == "~":
        return [f">={version}", f"<{_tilde_ceiling(version)}"]
    return [f"{operator}{version}"]


def _release(version: str) -> list[int]:
    from packaging.version import InvalidVersion, Version

    try:
        release = list(Version(version).release)
    except InvalidVersion:
        raise Inexpressible(f"{version!r} is not a version") from None
    written = len(version.split("+")[0].split("-")[0].rstrip(".*").split("."))
    return release[: max(1, min(written, len(release)))]


def _caret_ceiling(version: str) -> str:
    """^1.2.3 -> 2.0.0, ^0.2.3 -> 0.3.0, ^0.0.3 -> 0.0.4, ^0.0 -> 0.1, ^0 -> 1."""
    parts = _release(version)
    for index, number in enumerate(parts):
        if number != 0 or index == len(parts) - 1:
            bumped = [*parts[:index], number + 1] + [0] * (len(parts) - index - 1)
            return ".".join(map(str, bumped))
    return "1"  # not reached


def _tilde_ceiling(version: str) -> str:
    """~1.2.3 -> 1.3.0, ~1.2 -> 1.3, ~1 -> 2."""
    parts = _release(version)
    if len(parts) == 1:
        return str(parts[0] + 1)
    bumped = [parts[0], parts[1] + 1] + [0] * (len(parts) - 2)
    return ".".join(map(str, bumped))
