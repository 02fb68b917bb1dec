"""Project configuration: `[tool.vulnsweep]` in the nearest pyproject.toml, or a
`vulnsweep.toml` with the same keys at top level. Holds the ignore policy and defaults
for any command-line option (the command line wins)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vulnsweep.errors import InputError
from vulnsweep.model import canonical_name
from vulnsweep.policy import IgnoreRule


@dataclass
class Config:
    path: Path | None = None
    rules: list[IgnoreRule] = field(default_factory=list)
    until_fixed: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # option dest -> value
    extend: bool = True  # false: a project's config does not inherit its parents'


def find_config(start: Path) -> Path | None:
    """The nearest vulnsweep.toml, or pyproject.toml with [tool.vulnsweep], upwards."""
    for directory in (start, *start.parents):
        found = config_in(directory)
        if found is not None:
            return found
    return None


def config_in(directory: Path) -> Path | None:
    """A directory's own config file, if it has one."""
    candidate = directory / "vulnsweep.toml"
    if candidate.is_file():
        return candidate
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file() and "[tool.vulnsweep" in pyproject.read_text(
        encoding="utf-8", errors="replace"
    ):
        return pyproject
    return None


def load_config(path: Path | None, text: str | None = None) -> Config:
    """A config file, or `text` as that file (a copy a run history kept)."""
    if path is None:
        return Config()
    from vulnsweep.sources.text import parse_toml, read_file

    data = parse_toml(str(path), read_file(path) if text is None else text)
    if path.name == "pyproject.toml":
        data = (data.get("tool") or {}).get("vulnsweep") or {}
    if not isinstance(data, dict):
        raise InputError(str(path), "the vulnsweep configuration must be a table")
    config = Config(path=path)
    where = str(path)
    for key, value in data.items():
        if key == "ignore":
            config.rules = [
                _rule(where, i, entry) for i, entry in enumerate(_list(where, key, value))
            ]
        elif key == "ignore-until-fixed":
            config.until_fixed = [str(v) for v in _list(where, key, value)]
        elif key == "ignore-packages":
            config.packages = [canonical_name(str(v)) for v in _list(where, key, value)]
        elif key == "extend":
            if not isinstance(value, bool):
                raise InputError(where, "`extend` must be true or false")
            config.extend = value
        else:
            config.options[key.replace("-", "_")] = value
    _check_gate(path, config.options)
    return config


SEVERITIES = ("low", "medium", "high", "critical")
_FLAGS = ("only_fixable", "ignore_unknown_severity")


def _check_gate(path: Path, options: dict[str, Any]) -> None:
    """The options a project's own config may set are checked in every config file,
    nested ones included, exactly as the run's own: the same error, the same exit 2."""
    severity = options.get("min_severity")
    if severity is not None and (
        not isinstance(severity, str) or severity.lower() not in SEVERITIES
    ):
        raise InputError(
            str(path),
            f"min-severity = {severity!r}: choose from {', '.join(SEVERITIES)}",
            _line_of(path, "min-severity", "min_severity"),
        )
    for key in _FLAGS:
        value = options.get(key)
        if value is not None and not isinstance(value, bool):
            name = key.replace("_", "-")
            raise InputError(
                str(path), f"{name} = {value!r}: must be true or false", _line_of(path, name, key)
            )


def _line_of(path: Path, *keys: str) -> int | None:
    """Where a key is set, for the error's file:line (TOML parsers keep no lines)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:  # a stored copy of a file that is gone
        return None
    for number, line in enumerate(lines, start=1):
        if line.strip().split("=", 1)[0].strip() in keys:
            return number
    return None


def _list(path: str, key: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(path, f"`{key}` must be an array")
    return value


def _rule(path: str, index: int, entry: Any) -> IgnoreRule:
    label = f"[[ignore]] entry {index + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise InputError(path, f"{label} needs an `id`")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InputError(path, f"{label} ({entry['id']}) needs a `reason`")
    until = entry.get("until")
    if until is not None and not isinstance(until, dt.date):
        if isinstance(until, str):
            try:
                until = dt.date.fromisoformat(until)
            except ValueError:
                raise InputError(
                    path, f"{label} ({entry['id']}): `until` must be a date like 2026-12-31"
                ) from None
        else:
            raise InputError(path, f"{label} ({entry['id']}): `until` must be a date")
    if isinstance(until, dt.datetime):
        until = until.date()
    package = entry.get("package")
    unknown = set(entry) - {"id", "reason", "until", "package"}
    if unknown:
        raise InputError(path, f"{label} ({entry['id']}): unknown keys {sorted(unknown)}")
    return IgnoreRule(
        id=entry["id"],
        reason=reason.strip(),
        package=canonical_name(package) if isinstance(package, str) else None,
        until=until,
        source=Path(path).name,
    )
