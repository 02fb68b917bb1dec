"""The requirements-file reader: the include walker (each file once, cycles and
depth bounded, one bad line reported without hiding the rest), then settling what was
read into pins, skips, or one set to resolve when something is not pinned."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence

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
from vulnsweep.sources.requirements.lines import (
    Line,
    file_identity,
    read_requirements_bytes,
    scan,
)
from vulnsweep.sources.requirements.options import (
    PER_REQUIREMENT,
    parse_option,
    split_options,
    take_option,
)
from vulnsweep.sources.requirements.pep508 import SIMPLE_PIN, parse_requirement
from vulnsweep.sources.requirements.state import Entry, FileState, Include, allows, entries
from vulnsweep.sources.text import read_text

log = logging.getLogger("vulnsweep.sources.requirements")

STDIN = "-"


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
        state = FileState(require_hashes=self.require_hashes)
        for path in self.paths:
            self.read_file(path, state, Include())
        yield from state.skipped
        yield from self._settle(state)

    def read_file(self, path: str, state: FileState, at: Include) -> None:
        """One file of the include walk (each file once, cycles stopped)."""
        if path == STDIN:
            display, identity = "<stdin>", "<stdin>"
            text = read_text(display, sys.stdin.buffer.read())
        else:
            display = path
            identity = file_identity(path)
            if identity in at.chain:
                # pip would recurse forever; the file's pins are already being read.
                log.warning(
                    "%s: include cycle (the file is already being read); not following it again",
                    path,
                )
                return
            if identity in state.visited:
                return
            text = read_text(display, read_requirements_bytes(path))
        state.visited.add(identity)
        before = entries(state)
        invalid: list[int] = []
        inside = Include((*at.chain, identity), at.constraint)
        for line in scan(text, display, state, at.constraint):
            try:
                self._parse_line(line, display, state, inside)
            except LineError as exc:
                # One bad line should not hide the rest of the file: report it as a
                # skipped entry (fatal under --strict).
                invalid.append(line.number)
                state.skipped.append(
                    SkippedDependency(
                        name=line.text[:80],
                        reason=str(exc),
                        origins=(Origin(display, line.number),),
                        error=True,
                    )
                )
        if invalid and not at.chain and entries(state) == before + len(invalid):
            # Nothing but lines that are not requirements: auditing "nothing" and saying
            # "no known vulnerabilities" would be a false clean (README.md, /etc/shadow).
            first = state.skipped[-len(invalid)]
            raise InputError(
                display,
                f"no requirement found, and {len(invalid)} lines are not requirements (the "
                f"first: {first.reason}): is this a requirements file?",
            )

    def _parse_line(self, line: Line, path: str, state: FileState, at: Include) -> None:
        constraint = at.constraint
        origin = Origin(path, line.number)
        text = line.text
        simple = SIMPLE_PIN.match(text)
        if simple is not None:  # the common case, without options or markers
            entry = Entry(
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
            parse_option(self, line, path, state, at)
            return
        requirement_text, options = split_options(text)
        hashes: list[str] = []
        idx = 0
        while idx < len(options):
            option, value, idx = take_option(options, idx, path, line.number)
            if option == "--hash":
                if value is None:
                    raise InputError(path, "--hash needs a value", line.number)
                hashes.append(value)
            elif option not in PER_REQUIREMENT:
                raise LineError(path, f"unknown option {option!r} after a requirement", line.number)
        entry = Entry(origin=origin, text=requirement_text, hashes=hashes)
        if not self._read_requirement(entry, state):
            return
        if constraint:
            if entry.pinned_version is not None:
                state.constraints.setdefault(canonical_name(entry.name), entry)
            state.constraint_lines.append((entry.text, entry.origin.path, entry.origin.line))
        else:
            state.unpinned = state.unpinned or entry.pinned_version is None
            state.requirements.append(entry)

    def _read_requirement(self, entry: Entry, state: FileState) -> bool:
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

    def _settle(self, state: FileState) -> Iterator[Collected]:
        if self.resolve_pins and state.requirements:
            yield self._resolution_request(state)
            return
        if (
            self.resolve
            and state.unpinned
            and any(
                type(e) is Entry and e.pinned_version is None and not self._constraint_pin(e, state)
                for e in state.requirements
            )
        ):
            yield self._resolution_request(state)
            return
        batch: list[tuple[str, str, str, int, int | None]] = []
        for entry in state.requirements:
            if type(entry) is tuple:
                plain_name, plain_version, path, number, column, hashed = entry
                if state.require_hashes and not hashed:
                    raise InputError(
                        path,
                        f"hashes are required but {plain_name}=={plain_version} has no --hash",
                        number,
                    )
                batch.append((plain_name, plain_version, path, number, column))
                continue
            if batch:
                yield PinBatch(batch)
                batch = []
            assert isinstance(entry, Entry)
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
    def _constraint_pin(entry: Entry, state: FileState) -> Entry | None:
        """The -c pin that makes an unpinned requirement exact, if there is one."""
        pin = state.constraints.get(canonical_name(entry.name))
        if pin is not None and pin.pinned_version is not None and allows(entry, pin.pinned_version):
            return pin
        return None

    def _resolution_request(self, state: FileState) -> ResolutionRequest:
        lines = []
        for entry in state.requirements:
            if type(entry) is tuple:
                name, version, path, number = entry[:4]
                lines.append(RequirementLine(f"{name}=={version}", Origin(path, number)))
                continue
            assert isinstance(entry, Entry)
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
