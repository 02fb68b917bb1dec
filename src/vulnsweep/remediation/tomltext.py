"""TOML lock files edited as text: split into one piece per package entry (so what is
not rewritten stays byte for byte) and values rendered as TOML."""

from __future__ import annotations

import json
import re
from typing import Any

from vulnsweep.model import canonical_name

_HEADER = re.compile(r"^\s*\[")


def split_packages(text: str, array: str) -> list[tuple[str | None, str]]:
    """(canonical package name, or None for anything else; text) pieces of a lock
    whose entries are `[[array]]` tables (sub-tables `[array.x]` stay with theirs).
    Joined, the pieces are `text` exactly."""
    pieces: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == f"[[{array}]]":
            pieces.append(("", [line]))
        elif _HEADER.match(line) and not stripped.startswith((f"[[{array}.", f"[{array}.")):
            pieces.append((None, [line]))
        else:
            pieces[-1][1].append(line)
    out: list[tuple[str | None, str]] = []
    for name, lines in pieces:
        body = "".join(lines)
        if name == "":
            found = re.search(r"^name\s*=\s*['\"]([^'\"]+)['\"]", body, re.M)
            name = canonical_name(found.group(1)) if found else None
        out.append((name, body))
    return out


def value(item: Any) -> str:
    """A TOML value on one line (JSON's string escapes are TOML's)."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, str):
        return json.dumps(item)
    if isinstance(item, list):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{" + ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items()) + "}"
    raise TypeError(item)


def key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def insert_package(pieces: list[str], name: str, block: str, *, before: str = "") -> None:
    """A new `[[package]]` piece before the first whose name sorts after it (or before
    the first piece starting with `before`, such as `[metadata]`), else at the end."""
    for index, piece in enumerate(pieces):
        found = re.match(r"\[\[package\]\]\nname = \"([^\"]+)\"", piece)
        if (found and canonical_name(found.group(1)) > name) or (
            before and piece.startswith(before)
        ):
            pieces.insert(index, block)
            return
    pieces.append("\n" + block)


def release_or_refuse(
    path: str, name: str, version: str, files: list[Any], metadata: Any
) -> tuple[tuple[str, ...], str | None]:
    """A lock entry needs the release's files (with hashes) and its metadata: without
    either, the write is refused rather than guessed. Returns (Requires-Dist,
    Requires-Python)."""
    from vulnsweep.errors import InputError

    if not files:
        raise InputError(
            path,
            f"the index lists no files with hashes for {name}=={version}: refusing to "
            "write a lock entry without them",
        )
    if metadata is None:
        raise InputError(
            path, f"no metadata for {name}=={version}: refusing to guess its dependencies"
        )
    return metadata  # type: ignore[no-any-return]
