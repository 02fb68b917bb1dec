"""`vulnsweep-pre-commit`: the pre-commit hook's entry point. pre-commit passes the
changed requirements, pyproject and lock files; only those are audited. When the
offline advisory database exists (`vulnsweep db sync`), the hook uses it and needs no
network, unless a vulnerability service is chosen explicitly."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def pre_commit(argv: Sequence[str] | None = None) -> int:
    from vulnsweep.cache import advisorydb, cache_dir
    from vulnsweep.cli import main

    args = list(sys.argv[1:] if argv is None else argv)
    chosen = any(
        a in ("--offline", "-s") or a.startswith(("--vulnerability-service", "-s")) for a in args
    )
    directory = None
    for index, arg in enumerate(args):
        if arg == "--cache-dir" and index + 1 < len(args):
            directory = args[index + 1]
        elif arg.startswith("--cache-dir="):
            directory = arg.partition("=")[2]
    offline = not chosen and advisorydb.db_path(cache_dir(directory)).exists()
    files = [a for a in args if not a.startswith("-") and a.endswith("pyproject.toml")]
    tool_only = [f for f in files if not _declares_dependencies(f)]
    if tool_only:
        # pre-commit passes every changed pyproject.toml; one that only configures tools
        # ([tool.ruff]) pins nothing, and must not block the commit.
        args = [a for a in args if a not in tool_only]
        if not any(not a.startswith("-") for a in args):
            return 0
    return main(["--progress-spinner", "off", *(["--offline"] if offline else []), *args])


def _declares_dependencies(path: str) -> bool:
    """A pyproject with a [project] table (or Poetry's dependencies) is audited; a
    broken one is too, so its error is shown."""
    from pathlib import Path

    from vulnsweep.errors import InputError
    from vulnsweep.sources.text import parse_toml, read_file

    try:
        data = parse_toml(path, read_file(Path(path)))
    except (InputError, OSError):
        return True
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    return "project" in data or (isinstance(poetry, dict) and "dependencies" in poetry)
