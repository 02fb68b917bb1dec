"""TOML lock files edited as text: split into one piece per package entry (so what is
not rewritten stays byte for byte) and values rendered as TOML."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
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


def rewrite_packages(
    path: str,
    text: str,
    *,
    moved: Mapping[str, str],
    added: Mapping[str, tuple[str, list[str]]],
    render: Callable[[str, str, Mapping[str, Any], list[str]], str],
    groups: list[str],
    reachable: Callable[[dict[str, Any]], set[str]] | None,
    keep_new: Mapping[str, Any] | None = None,
    before: str = "",
) -> str:
    """A `[[package]]` lock (poetry.lock, pdm.lock) rewritten: each moved entry
    rendered anew (name, version, what to keep of it, its groups) from its old table
    in `groups`, each added one inserted in name order from `keep_new`, with the
    groups of the packages that need it (else `groups`), the result checked to be
    TOML, and (with `reachable`) every package the roots reached before and no
    longer reach dropped."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from vulnsweep.errors import InputError

    data = tomllib.loads(text)
    tables = [p for p in data.get("package") or () if isinstance(p, dict)]
    groups_of: dict[str, list[str]] = {}
    for table in tables:
        for group in table.get("groups") or ():
            found = groups_of.setdefault(canonical_name(str(table.get("name"))), [])
            if group not in found:
                found.append(str(group))
    out: list[str] = []
    for name, body in split_packages(text, "package"):
        if name is not None and name in moved:
            old = tomllib.loads(body)["package"][0]
            trailing = body[len(body.rstrip("\n")) :]
            body = render(name, moved[name], old, groups) + trailing[1:]
        out.append(body)
    for name, (version, needed_by) in sorted(added.items()):
        wanted: list[str] = []
        for parent in needed_by:
            for group in groups_of.get(canonical_name(parent), ()):
                if group not in wanted:
                    wanted.append(group)
        rendered = render(name, version, keep_new or {}, wanted or groups)
        insert_package(out, name, rendered + "\n", before=before)
    after = "".join(out)
    try:
        new_data = tomllib.loads(after)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"the rewritten lock would not be valid TOML: {exc}") from None
    if reachable is not None:
        gone = reachable(data) - reachable(new_data)
        if gone:
            pieces = split_packages(after, "package")
            after = "".join(body for name, body in pieces if name not in gone)
    return after
