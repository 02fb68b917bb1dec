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
    return main(["--progress-spinner", "off", *(["--offline"] if offline else []), *args])
