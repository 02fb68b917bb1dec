"""pip requirements files, read the way pip reads them, without running pip.

Lines are joined (backslash continuations), stripped of comments, env-expanded
(`${NAME}` only), then split into the requirement and its per-line options.
Only exact pins (`==`, `===`) are audited; everything else is skipped with a reason.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vulnsweep.errors import InputError, LineError
from vulnsweep.model import (
    Dependency,
    Origin,
    RequirementLine,
    ResolutionRequest,
    SkippedDependency,
    canonical_name,
)
from vulnsweep.sources import Collected, PinBatch
from vulnsweep.sources.text import read_bytes, read_text

if TYPE_CHECKING:
    from packaging.requirements import Requirement

log = logging.getLogger(__name__)

STDIN = "-"

# name[extras] == version, nothing else: the shape of almost every line in a pinned
# file, parsed without importing packaging.requirements (which costs ~70 ms).
# Lines with [extras] take the full parser: resolution needs the extras.
_SIMPLE_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?P<op>===?)\s*(?P<version>[A-Za-z0-9._+!-]+)\s*$"
)
# The same pin followed only by --hash options (pip-compile --generate-hashes).
_HASHED_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?P<op>===?)\s*(?P<version>[A-Za-z0-9._+!-]+)(?:\s+--hash[=\s]\S+)+\s*$"
)
_PIN_AND_MARKER = re.compile(r"^(?P<pin>[^;@]+?)\s*;\s*(?P<marker>[^;]+)$")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{(?P<var>[A-Z0-9_]+)\}")

MAX_INCLUDE_DEPTH = 100  # -r/-c nesting; deeper is a clear error, not a RecursionError

# Global options pip accepts on their own line; value-taking ones consume an argument.
_GLOBAL_WITH_VALUE = {
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
_GLOBAL_FLAGS = {"--pre", "--no-index", "--prefer-binary", "--require-hashes", "--always-unzip"}
_INCLUDE = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
_EDITABLE = {"-e", "--editable"}
# Options that may follow a requirement on the same line.
_PER_REQUIREMENT = {"--hash", "--global-option", "--install-option", "--config-settings", "-C"}


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    text: str


@dataclass
class _Entry:
    """A parsed requirement line before pins and constraints are settled."""

    origin: Origin
    text: str
    hashes: list[str]
    requirement: Requirement | None = None
    name: str = ""
    pinned_version: str | None = None


@dataclass
class _FileState:
    # Plain pins as (name, version, path, line) tuples, (..., True) when hash-pinned;
    # everything else as _Entry.
    requirements: list[_Entry | tuple[str, str, str, int] | tuple[str, str, str, int, bool]] = (
        field(default_factory=list)
    )
    constraints: dict[str, _Entry] = field(default_factory=dict)
    # Every constraint as (text, path, line), should the file need resolving.
    constraint_lines: list[tuple[str, str, int | None]] = field(default_factory=list)
    skipped: list[SkippedDependency] = field(default_factory=list)
    require_hashes: bool = False
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    pre: bool = False
    unpinned: bool = False  # some requirement is not an exact pin


class RequirementsSource:
    """One or more requirements files (or `-` for stdin), with their includes."""

    def __init__(
        self,
        paths: Sequence[str],
        *,
        require_hashes: bool = False,
        marker_environment: dict[str, str] | None = None,
        resolve: bool = False,
        unresolved: str = "--no-deps turns resolution off",
        resolve_pins: bool = False,
    ) -> None:
        self.paths = list(paths)
        self.require_hashes = require_hashes
        self.marker_environment = marker_environment
        self.resolve = resolve  # unpinned requirements: resolve the set, don't skip
        self.unresolved = unresolved  # why an unpinned line is skipped otherwise
        # Resolve even when every line is pinned: a hand-written pin list rarely pins
        # what its packages depend on (pip-audit's default without --no-deps).
        self.resolve_pins = resolve and resolve_pins

    def collect(self) -> Iterator[Collected]:
        state = _FileState(require_hashes=self.require_hashes)
        visited: set[str] = set()
        for path in self.paths:
            self._parse_file(path, state, chain=(), constraint=False, visited=visited)
        yield from state.skipped
        yield from self._settle(state)

    # -- reading -----------------------------------------------------------------

    def _parse_file(
        self,
        path: str,
        state: _FileState,
        *,
        chain: tuple[str, ...],
        constraint: bool,
        visited: set[str],
    ) -> None:
        if path == STDIN:
            display, identity = "<stdin>", "<stdin>"
            text = read_text(display, sys.stdin.buffer.read())
        else:
            display = path
            identity = _identity(path)
            if identity in chain:
                # pip would recurse forever; the file's pins are already being read.
                log.warning(
                    "%s: include cycle (the file is already being read); not following it again",
                    path,
                )
                return
            if identity in visited:
                return
            text = read_text(display, _read_bytes(path))
        visited.add(identity)
        before = _entries(state)
        invalid: list[int] = []
        for line in self._scan(text, display, state, constraint):
            try:
                self._parse_line(
                    line,
                    display,
                    state,
                    chain=(*chain, identity),
                    constraint=constraint,
                    visited=visited,
                )
            except LineError as exc:
                # One bad line should not hide the rest of the file: report it as a
                # skipped entry (fatal under --strict).
                invalid.append(line.number)
                state.skipped.append(
                    SkippedDependency(
                        name=line.text[:80],
                        reason=str(exc),
                        origins=(Origin(display, line.number),),
                    )
                )
        if invalid and not chain and _entries(state) == before + len(invalid):
            # Nothing but lines that are not requirements: auditing "nothing" and saying
            # "no known vulnerabilities" would be a false clean (README.md, /etc/shadow).
            raise InputError(
                display,
                f"no requirement found, and {len(invalid)} lines are not requirements (the "
                f"first at line {invalid[0]}): is this a requirements file?",
            )

    def _scan(self, text: str, path: str, state: _FileState, constraint: bool) -> Iterator[_Line]:
        """Record plain `name==version` lines directly; yield the rest, joined and
        stripped of comments, for full parsing.

        Most lines of a pinned file are plain pins; handling them here without the
        general machinery keeps a 100,000-line monorepo well under a second.
        """
        match = _SIMPLE_PIN.match
        target = state.requirements
        buffer: list[str] = []
        start = 0
        for number, raw in enumerate(text.splitlines(), start=1):
            if not buffer:
                simple = match(raw)
                if simple is not None:
                    if constraint:
                        name = simple["name"]
                        key = canonical_name(name)
                        if key not in state.constraints:
                            state.constraints[key] = _Entry(
                                Origin(path, number),
                                raw,
                                [],
                                name=name,
                                pinned_version=simple["version"],
                            )
                        state.constraint_lines.append((raw.strip(), path, number))
                    else:
                        name, _, version = simple.group("name", "op", "version")
                        target.append((name, version, path, number))
                    continue
                start = number
                # pip: a comment line ending in a backslash does not continue.
                if raw.lstrip().startswith("#"):
                    continue
            if raw.endswith("\\"):
                # pip's rule: any trailing backslash continues the line, and every
                # backslash at either end of it is dropped (`bar == 4.5\\` + `.6`).
                buffer.append(raw.strip("\\"))
                continue
            if buffer:
                buffer.append(raw)
                raw = "".join(buffer)
                buffer = []
            line = _strip_comment(raw)
            if not line:
                continue
            plain = match(line) or (None if constraint else _HASHED_PIN.match(line))
            if plain is not None and not constraint:
                if plain.re is _HASHED_PIN:
                    target.append((plain["name"], plain["version"], path, start, True))
                else:
                    target.append((plain["name"], plain["version"], path, start))
                continue
            yield _Line(start, _expand_env(line))
        if buffer:
            line = _strip_comment("".join(buffer))
            if line:
                yield _Line(start, _expand_env(line))

    def _parse_line(
        self,
        line: _Line,
        path: str,
        state: _FileState,
        *,
        chain: tuple[str, ...],
        constraint: bool,
        visited: set[str],
    ) -> None:
        origin = Origin(path, line.number)
        text = line.text
        simple = _SIMPLE_PIN.match(text)
        if simple is not None:  # the common case, without options or markers
            entry = _Entry(
                origin=origin,
                text=text,
                hashes=[],
                name=simple["name"],
                pinned_version=simple["version"],
            )
            if constraint:
                state.constraints.setdefault(canonical_name(entry.name), entry)
                state.constraint_lines.append((text, path, line.number))
            else:
                state.requirements.append(entry)
            return
        if text.startswith("-"):
            self._parse_option(
                line, path, state, chain=chain, constraint=constraint, visited=visited
            )
            return
        requirement_text, options = _split_options(text)
        hashes: list[str] = []
        idx = 0
        while idx < len(options):
            option, value, idx = _take_option(options, idx, path, line.number)
            if option == "--hash":
                if value is None:
                    raise InputError(path, "--hash needs a value", line.number)
                hashes.append(value)
            elif option not in _PER_REQUIREMENT:
                raise LineError(path, f"unknown option {option!r} after a requirement", line.number)
        entry = _Entry(origin=origin, text=requirement_text, hashes=hashes)
        if not self._read_requirement(entry, state):
            return
        if constraint:
            if entry.pinned_version is not None:
                state.constraints.setdefault(canonical_name(entry.name), entry)
            state.constraint_lines.append((entry.text, entry.origin.path, entry.origin.line))
        else:
            state.unpinned = state.unpinned or entry.pinned_version is None
            state.requirements.append(entry)

    def _parse_option(
        self,
        line: _Line,
        path: str,
        state: _FileState,
        *,
        chain: tuple[str, ...],
        constraint: bool,
        visited: set[str],
    ) -> None:
        tokens = line.text.split()
        idx = 0
        first = tokens[0]
        while idx < len(tokens):
            if not tokens[idx].startswith("-"):
                self._ignored_after_option(tokens[idx:], first, line, path, state)
                return
            option, value, idx = _take_option(tokens, idx, path, line.number)
            self._apply_option(
                option,
                value,
                line,
                path,
                state,
                chain=chain,
                constraint=constraint,
                visited=visited,
            )
            if option in _EDITABLE:
                return

    @staticmethod
    def _ignored_after_option(
        leftover: list[str], option: str, line: _Line, path: str, state: _FileState
    ) -> None:
        """pip reads an option line with optparse and drops its positional arguments
        (`--only-binary=all nuimo==0.1.0` installs nothing): so do we, out loud."""
        text = " ".join(leftover)
        log.warning(
            "%s:%d: %r follows the option %s on the same line; pip ignores it, and so does "
            "vulnsweep",
            path,
            line.number,
            text,
            option.partition("=")[0],
        )
        simple = _SIMPLE_PIN.match(leftover[0])
        state.skipped.append(
            SkippedDependency(
                name=simple["name"] if simple else leftover[0][:80],
                version=simple["version"] if simple else None,
                reason=f"{text!r} follows the option {option.partition('=')[0]} on the same "
                "line, so pip never installs it",
                origins=(Origin(path, line.number),),
            )
        )

    def _apply_option(
        self,
        option: str,
        value: str | None,
        line: _Line,
        path: str,
        state: _FileState,
        *,
        chain: tuple[str, ...],
        constraint: bool,
        visited: set[str],
    ) -> None:
        if option in _INCLUDE:
            if value is None:
                raise InputError(path, f"{option} needs a file name", line.number)
            if "://" in value:
                raise InputError(
                    path,
                    f"remote include {value!r} is not supported; download it and pass it with -r",
                    line.number,
                )
            if len(chain) >= MAX_INCLUDE_DEPTH:
                raise InputError(
                    path, f"includes nested more than {MAX_INCLUDE_DEPTH} levels deep", line.number
                )
            base = Path.cwd() if path == "<stdin>" else Path(path).parent
            target = str(base / value)
            if not os.path.exists(target):
                raise InputError(path, f"included file not found: {value}", line.number)
            self._parse_file(
                target,
                state,
                chain=chain,
                constraint=constraint or _INCLUDE[option] == "constraint",
                visited=visited,
            )
        elif option in _EDITABLE:
            state.skipped.append(
                SkippedDependency(
                    name=_editable_name(value or ""),
                    reason=f"editable requirement {_redact_text(value or '')!r} is a local "
                    "project, not a release on an index: cannot be audited",
                    origins=(Origin(path, line.number),),
                )
            )
        elif option in _GLOBAL_FLAGS:
            if option == "--require-hashes":
                state.require_hashes = True
            elif option == "--pre":
                state.pre = True
        elif option in _GLOBAL_WITH_VALUE:
            if value is None:
                raise InputError(path, f"{option} needs a value", line.number)
            if option in ("-i", "--index-url"):
                state.index_url = value
            elif option == "--extra-index-url":
                state.extra_index_urls.append(value)
        else:
            raise LineError(path, f"unknown option {option!r}", line.number)

    def _read_requirement(self, entry: _Entry, state: _FileState) -> bool:
        """Fill name/pin from the requirement text; False when it is not auditable."""
        parsed = parse_requirement(entry.text, entry.origin, self.marker_environment)
        if parsed is None:
            return False
        if isinstance(parsed, SkippedDependency):
            state.skipped.append(parsed)
            return False
        entry.name, entry.pinned_version, entry.requirement = parsed
        if entry.requirement is not None and entry.text.endswith(".whl"):
            entry.text = str(entry.requirement)  # a bare wheel path: its pin, for resolving
        return True

    # -- settling ----------------------------------------------------------------

    def _settle(self, state: _FileState) -> Iterator[Collected]:
        if self.resolve_pins and state.requirements:
            yield self._resolution_request(state)
            return
        if (
            self.resolve
            and state.unpinned
            and any(
                type(e) is _Entry
                and e.pinned_version is None
                and not self._constraint_pin(e, state)
                for e in state.requirements
            )
        ):
            yield self._resolution_request(state)
            return
        batch: list[tuple[str, str, str, int]] = []
        for entry in state.requirements:
            if type(entry) is tuple:
                if len(entry) == 4:  # plain pin, no --hash
                    if state.require_hashes:
                        plain_name, plain_version, path, number = entry
                        raise InputError(
                            path,
                            f"hashes are required but {plain_name}=={plain_version} has no --hash",
                            number,
                        )
                    batch.append(entry)
                else:
                    batch.append(entry[:4])
                continue
            if batch:
                yield PinBatch(batch)
                batch = []
            assert isinstance(entry, _Entry)
            origins: tuple[Origin, ...] = (entry.origin,)
            version = entry.pinned_version
            if version is None:
                pin = self._constraint_pin(entry, state)
                if pin is not None:
                    version = pin.pinned_version
                    origins = (entry.origin, pin.origin)
            if version is None:
                yield SkippedDependency(
                    name=entry.name,
                    origins=(entry.origin,),
                    reason=f"requirement {entry.text!r} is not pinned with == or ===, and "
                    f"{self.unresolved}",
                )
                continue
            if state.require_hashes and not entry.hashes:
                raise InputError(
                    entry.origin.path,
                    f"hashes are required but {entry.name}=={version} has no --hash",
                    entry.origin.line,
                )
            yield Dependency(name=entry.name, version=version, origins=origins)
        if batch:
            yield PinBatch(batch)

    @staticmethod
    def _constraint_pin(entry: _Entry, state: _FileState) -> _Entry | None:
        """The -c pin that makes an unpinned requirement exact, if there is one."""
        pin = state.constraints.get(canonical_name(entry.name))
        if (
            pin is not None
            and pin.pinned_version is not None
            and _allows(entry, pin.pinned_version)
        ):
            return pin
        return None

    def _resolution_request(self, state: _FileState) -> ResolutionRequest:
        lines = []
        for entry in state.requirements:
            if type(entry) is tuple:
                name, version, path, number = entry[:4]
                lines.append(RequirementLine(f"{name}=={version}", Origin(path, number)))
                continue
            assert isinstance(entry, _Entry)
            if entry.requirement is not None and entry.requirement.url:
                # A direct reference with an exact version: resolve that release.
                text = f"{entry.name}=={entry.pinned_version}"
            else:
                text = entry.text
            lines.append(RequirementLine(text, entry.origin))
        return ResolutionRequest(
            label=", ".join("<stdin>" if p == STDIN else p for p in self.paths),
            requirements=tuple(lines),
            constraints=tuple(
                RequirementLine(text, Origin(path, number))
                for text, path, number in state.constraint_lines
            ),
            index_url=state.index_url,
            extra_index_urls=tuple(state.extra_index_urls),
            pre=state.pre,
        )


def parse_requirement(
    text: str, origin: Origin, marker_environment: dict[str, str] | None
) -> tuple[str, str | None, Requirement | None] | SkippedDependency | None:
    """(name, exact pin or None, parsed requirement); a skip; None if the marker is false.

    Raises LineError for text that is not a PEP 508 requirement.
    """
    match = _SIMPLE_PIN.match(text)
    if match:
        return match["name"], match["version"], None
    with_marker = _PIN_AND_MARKER.match(text)
    if with_marker is not None:
        match = _SIMPLE_PIN.match(with_marker["pin"])
        if match is not None:
            # The common `name==1.0 ; python_version < "3.9"`: only the marker needs
            # packaging, and a tree repeats the same few markers thousands of times.
            if not _marker_holds(with_marker["marker"], marker_environment):
                log.info(
                    "%s: %s not audited: marker %s is false for the target environment",
                    origin,
                    match["name"],
                    with_marker["marker"],
                )
                return None
            return match["name"], match["version"], None
    from packaging.requirements import InvalidRequirement

    try:
        requirement = _requirement(text)
    except InvalidRequirement as exc:
        wheel = _bare_wheel(text)
        if wheel is not None:
            # `./dist/numpy-1.9.2-cp34-none-win32.whl` or a wheel URL on its own: pip
            # installs that release, and its file name says which one.
            wheel_name, wheel_version = wheel
            return wheel_name, wheel_version, _requirement(f"{wheel_name}=={wheel_version}")
        if _looks_like_reference(text):
            return SkippedDependency(
                name=_editable_name(text),
                origins=(origin,),
                reason=f"direct reference {text!r} has no name and version to audit",
            )
        first = str(exc).splitlines()[0]
        raise LineError(
            origin.path, f"invalid requirement {text!r}: {first}", origin.line
        ) from None
    if requirement.marker is not None and not requirement.marker.evaluate(marker_environment):
        log.info(
            "%s: %s not audited: marker %s is false for the target environment",
            origin,
            requirement.name,
            requirement.marker,
        )
        return None
    if requirement.url:
        version = _version_from_url(requirement.url, requirement.name)
        if version is None:
            return SkippedDependency(
                name=requirement.name,
                origins=(origin,),
                reason=f"direct reference to {_redact(requirement.url)} carries no exact "
                "version to audit",
            )
        return requirement.name, version, requirement
    return requirement.name, _exact_pin(requirement), requirement


def _marker_holds(marker: str, environment: dict[str, str] | None) -> bool | None:
    key = tuple(sorted(environment.items())) if environment is not None else None
    return _marker_cached(marker.strip(), key)


@functools.lru_cache(maxsize=4096)
def _marker_cached(marker: str, environment: tuple[tuple[str, str], ...] | None) -> bool | None:
    """True/False, or None when the marker is invalid."""
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison

    try:
        return Marker(marker).evaluate(dict(environment) if environment is not None else None)
    except (InvalidMarker, UndefinedComparison):
        return None


@functools.lru_cache(maxsize=4096)
def _requirement(text: str) -> Requirement:
    """Parsed once per distinct text: a monorepo repeats the same lines many times."""
    from packaging.requirements import Requirement

    return Requirement(text)


def requirement_to_pin(
    text: str,
    origin: Origin,
    marker_environment: dict[str, str] | None,
    *,
    resolving: bool = False,
) -> Collected | RequirementLine | None:
    """One PEP 508 string (pyproject, SBOM, ...) as an auditable pin or a skip; when
    `resolving`, an unpinned requirement comes back as a line to resolve."""
    try:
        parsed = parse_requirement(text, origin, marker_environment)
    except LineError as exc:
        return SkippedDependency(name=text[:80], origins=(origin,), reason=str(exc))
    if parsed is None or isinstance(parsed, SkippedDependency):
        return parsed
    name, version, _ = parsed
    if version is None and resolving:
        return RequirementLine(text, origin)
    if version is None:
        return SkippedDependency(
            name=name,
            origins=(origin,),
            reason=f"requirement {text!r} is not pinned with == or ===; pin it or audit a "
            "lock file",
        )
    return Dependency(name=name, version=version, origins=(origin,))


def _read_bytes(path: str) -> bytes:
    try:
        return read_bytes(path)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a requirements file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _identity(path: str) -> str:
    """Device and inode: one stat call, and symlinks or hard links to one file agree."""
    try:
        info = os.stat(path)
    except OSError:
        return os.path.abspath(path)
    return f"{info.st_dev}:{info.st_ino}"


def _entries(state: _FileState) -> int:
    return (
        len(state.requirements)
        + len(state.constraints)
        + len(state.constraint_lines)
        + len(state.skipped)
    )


def _strip_comment(line: str) -> str:
    return (_COMMENT.sub("", line) if "#" in line else line).strip()


def _expand_env(line: str) -> str:
    if "${" not in line:
        return line
    return _ENV_VAR.sub(lambda m: os.environ.get(m["var"], m.group(0)), line)


def _split_options(text: str) -> tuple[str, list[str]]:
    """pip's split: the requirement runs until the first token that starts with '-'."""
    tokens = text.split()
    for idx, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:idx]), tokens[idx:]
    return text, []


def _take_option(tokens: list[str], idx: int, path: str, line: int) -> tuple[str, str | None, int]:
    """Read one option at tokens[idx]: `--opt=v`, `--opt v`, `-rfile` or `-r file`."""
    token = tokens[idx]
    if token.startswith("--"):
        name, eq, value = token.partition("=")
        if eq:
            return name, value, idx + 1
        if name in _PER_REQUIREMENT | _GLOBAL_WITH_VALUE | set(_INCLUDE) | _EDITABLE:
            if idx + 1 >= len(tokens):
                raise InputError(path, f"{name} needs a value", line)
            return name, tokens[idx + 1], idx + 2
        return name, None, idx + 1
    short = token[:2]
    if len(token) > 2:
        return short, token[2:].lstrip("="), idx + 1
    if short in _GLOBAL_WITH_VALUE | set(_INCLUDE) | _EDITABLE | _PER_REQUIREMENT:
        if idx + 1 >= len(tokens):
            raise InputError(path, f"{short} needs a value", line)
        return short, tokens[idx + 1], idx + 2
    return short, None, idx + 1


def _exact_pin(requirement: Requirement) -> str | None:
    for spec in requirement.specifier:
        if spec.operator == "===" or (spec.operator == "==" and "*" not in spec.version):
            return spec.version
    return None


def _allows(entry: _Entry, version: str) -> bool:
    if entry.requirement is None:
        return True
    return entry.requirement.specifier.contains(version, prereleases=True)


def _version_from_url(url: str, name: str) -> str | None:
    """The exact version a wheel URL names; sdists and VCS URLs carry none we can trust."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    filename = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1]
    if not filename.endswith(".whl"):
        return None
    try:
        wheel_name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    if wheel_name != canonical_name(name):
        return None
    return str(version)


def _bare_wheel(text: str) -> tuple[str, str] | None:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    location = text.split("#", 1)[0].split("?", 1)[0].strip()
    if not location.endswith(".whl") or " " in location:
        return None
    try:
        name, version, _, _ = parse_wheel_filename(location.rsplit("/", 1)[-1])
    except InvalidWheelFilename:
        return None
    return str(name), str(version)


def _looks_like_reference(text: str) -> bool:
    return (
        "://" in text
        or text.startswith((".", "/", "~"))
        or text.endswith((".whl", ".zip", ".tar.gz", ".tgz"))
    )


def _editable_name(value: str) -> str:
    match = re.search(r"#egg=([A-Za-z0-9._-]+)", value)
    return match[1] if match else value


def _redact_text(text: str) -> str:
    from vulnsweep.redact import redact_text

    return redact_text(text)


def _redact(url: str) -> str:
    from vulnsweep.redact import redact_url

    return redact_url(url)
