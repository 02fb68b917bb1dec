"""Option lines and per-requirement options, as pip's optparse reads them: global
options (index URLs, --pre, --require-hashes), includes (-r/-c, followed by the
include walker in source.py), editables (skipped: local projects), and the options a
requirement may carry (--hash)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from vulnsweep.errors import InputError, LineError
from vulnsweep.model import Origin, SkippedDependency
from vulnsweep.redact import redact_text
from vulnsweep.sources.requirements.lines import Line
from vulnsweep.sources.requirements.pep508 import SIMPLE_PIN, editable_name
from vulnsweep.sources.requirements.state import FileState, Include

if TYPE_CHECKING:
    from vulnsweep.sources.requirements.state import FileReader

log = logging.getLogger("vulnsweep.sources.requirements")

MAX_INCLUDE_DEPTH = 100  # -r/-c nesting; deeper is a clear error, not a RecursionError

# Global options pip accepts on their own line; value-taking ones consume an argument.
GLOBAL_WITH_VALUE = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
    "--use-feature",
    "--progress-bar",
    "-Z",
    "--config-settings",
    "-C",
}

GLOBAL_FLAGS = {"--pre", "--no-index", "--prefer-binary", "--require-hashes", "--always-unzip"}

INCLUDE = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}

EDITABLE = {"-e", "--editable"}

# Options that may follow a requirement on the same line.
PER_REQUIREMENT = {"--hash", "--global-option", "--install-option", "--config-settings", "-C"}


def parse_option(reader: FileReader, line: Line, path: str, state: FileState, at: Include) -> None:
    """An option line: pip reads it with optparse, option after option."""
    tokens = line.text.split()
    idx = 0
    first = tokens[0]
    while idx < len(tokens):
        if not tokens[idx].startswith("-"):
            ignored_after_option(tokens[idx:], first, line, path, state)
            return
        option, value, idx = take_option(tokens, idx, path, line.number)
        apply_option(reader, option, value, line, path, state, at)
        if option in EDITABLE:
            return


def ignored_after_option(
    leftover: list[str], option: str, line: Line, path: str, state: FileState
) -> None:
    """pip reads an option line with optparse and drops its positional arguments
    (`--only-binary=all nuimo==0.1.0` installs nothing): so do we, out loud."""
    text = " ".join(leftover)
    log.warning(
        "%s:%d: %r follows the option %s on the same line; pip ignores it, and so does vulnsweep",
        path,
        line.number,
        text,
        option.partition("=")[0],
    )
    simple = SIMPLE_PIN.match(leftover[0])
    state.skipped.append(
        SkippedDependency(
            name=simple["name"] if simple else leftover[0][:80],
            version=simple["version"] if simple else None,
            reason=f"{text!r} follows the option {option.partition('=')[0]} on the same "
            "line, so pip never installs it",
            origins=(Origin(path, line.number),),
        )
    )


def apply_option(
    reader: FileReader,
    option: str,
    value: str | None,
    line: Line,
    path: str,
    state: FileState,
    at: Include,
) -> None:
    if option in INCLUDE:
        if not value:  # `-r` alone, or `-c=`
            raise InputError(path, f"{option} needs a file name", line.number)
        if "://" in value:
            raise InputError(
                path,
                f"remote include {value!r} is not supported; download it and pass it with -r",
                line.number,
            )
        if len(at.chain) >= MAX_INCLUDE_DEPTH:
            raise InputError(
                path, f"includes nested more than {MAX_INCLUDE_DEPTH} levels deep", line.number
            )
        base = Path.cwd() if path == "<stdin>" else Path(path).parent
        target = str(base / value)
        if not os.path.exists(target):
            raise InputError(path, f"included file not found: {value}", line.number)
        if os.path.isdir(target):
            raise InputError(path, f"included path is a directory: {value}", line.number)
        constraint = at.constraint or INCLUDE[option] == "constraint"
        reader.read_file(target, state, Include(at.chain, constraint))
    elif option in EDITABLE:
        state.skipped.append(
            SkippedDependency(
                name=editable_name(value or ""),
                reason=f"editable requirement {redact_text(value or '')!r} is a local "
                "project, not a release on an index: cannot be audited",
                origins=(Origin(path, line.number),),
            )
        )
    elif option in GLOBAL_FLAGS:
        if option == "--require-hashes":
            state.require_hashes = True
        elif option == "--pre":
            state.pre = True
    elif option in GLOBAL_WITH_VALUE:
        if value is None:
            raise InputError(path, f"{option} needs a value", line.number)
        if option in ("-i", "--index-url"):
            state.index_url = value
        elif option == "--extra-index-url":
            state.extra_index_urls.append(value)
    else:
        raise LineError(path, f"unknown option {option!r}", line.number)


def split_options(text: str) -> tuple[str, list[str]]:
    """pip's split: the requirement runs until the first token that starts with '-'."""
    tokens = text.split()
    for idx, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:idx]), tokens[idx:]
    return text, []


def take_option(tokens: list[str], idx: int, path: str, line: int) -> tuple[str, str | None, int]:
    """Read one option at tokens[idx]: `--opt=v`, `--opt v`, `-rfile` or `-r file`."""
    token = tokens[idx]
    if token.startswith("--"):
        name, eq, value = token.partition("=")
        if eq:
            return name, value, idx + 1
        if name in PER_REQUIREMENT | GLOBAL_WITH_VALUE | set(INCLUDE) | EDITABLE:
            if idx + 1 >= len(tokens):
                raise InputError(path, f"{name} needs a value", line)
            return name, tokens[idx + 1], idx + 2
        return name, None, idx + 1
    short = token[:2]
    if len(token) > 2:
        return short, token[2:].lstrip("="), idx + 1
    if short in GLOBAL_WITH_VALUE | set(INCLUDE) | EDITABLE | PER_REQUIREMENT:
        if idx + 1 >= len(tokens):
            raise InputError(path, f"{short} needs a value", line)
        return short, tokens[idx + 1], idx + 2
    return short, None, idx + 1
