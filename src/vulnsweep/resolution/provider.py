"""resolvelib provider: pip's candidate rules over index data fetched ahead of time.

The resolver runs in a worker thread and asks for pages and metadata synchronously;
each answer also starts fetching what the resolver will most likely ask next, on the
event loop, so resolution costs a few round trips per level of the tree, not per step.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from resolvelib import AbstractProvider

from vulnsweep.index.client import Metadata
from vulnsweep.index.pages import Distribution, Memo, Releases, pick_file
from vulnsweep.model import Origin, canonical_name
from vulnsweep.target import TargetEnvironment

if TYPE_CHECKING:
    from packaging.requirements import Requirement as Pep508
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
    from resolvelib.structs import RequirementInformation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Requirement:
    name: str  # canonical
    extras: frozenset[str]
    specifier: SpecifierSet
    text: str  # as written, for explanations
    origin: Origin | None = None  # root requirements: the line that asked for it

    @property
    def identifier(self) -> str:
        return identifier(self.name, self.extras)

    @property
    def pinned(self) -> bool:
        return any(s.operator in ("==", "===") and "*" not in s.version for s in self.specifier)


PYTHON = "<python>"  # the target interpreter, as a dependency a release can declare


@dataclass(frozen=True)
class Candidate:
    name: str  # canonical
    version: Version
    distribution: Distribution | None  # None only for the PYTHON candidate
    extras: frozenset[str] = frozenset()

    @property
    def identifier(self) -> str:
        return identifier(self.name, self.extras)

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras} {self.version}"


def identifier(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def parse_requirement(text: str, origin: Origin | None = None) -> Requirement:
    """Raises packaging's InvalidRequirement for text that is not PEP 508."""
    from packaging.requirements import Requirement as Pep508

    parsed = Pep508(text)
    return Requirement(
        canonical_name(parsed.name),
        frozenset(canonical_name(e) for e in parsed.extras),
        parsed.specifier,
        text,
        origin,
    )


@dataclass
class Options:
    target: TargetEnvironment
    pre: bool = False
    constraints: Mapping[str, Sequence[Requirement]] = field(default_factory=dict)
    user_order: Mapping[str, int] = field(default_factory=dict)
    # The project being audited (a pyproject's canonical name): when something in its
    # dependency groups requires it back (llm's dev group has llm-echo, which requires
    # llm), that is this local project, as pip and uv install it, not an index release.
    local_project: str | None = None
    # Its own version, when static: a requirement on it must agree with it (a sibling
    # distribution pinning `core==3.2.2` is not met by a local core 3.2.0).
    local_version: Version | None = None
    # Locked versions to keep (`--fix`): that version first, then upward one release at
    # a time (the smallest move), then downward; unlocked projects newest first, as pip.
    preferred: Mapping[str, Version] = field(default_factory=dict)


class IndexView:
    """What the provider knows about projects. The resolver runs in a worker thread;
    each answer is fetched from the event loop once and then kept here, so the many
    repeated lookups of a resolution cost no thread hop."""

    def __init__(
        self,
        fetch_releases: Callable[[str], Releases],
        fetch_metadata: Callable[[Distribution], Metadata],
        on_dependencies: Callable[[list[Requirement]], None],
        target: TargetEnvironment,
        on_backtrack: Callable[[list[Distribution]], None] = lambda dists: None,
        ready_metadata: Callable[[Distribution], Metadata | None] = lambda dist: None,
        ready_releases: Callable[[str], Releases | None] = lambda name: None,
        preload: Callable[[list[Distribution]], None] = lambda dists: None,
    ) -> None:
        self._preload = preload
        self._ready_releases = ready_releases
        self._ready = ready_metadata  # what the event loop already has: no thread hop
        self._fetch_releases = fetch_releases
        self._fetch_metadata = fetch_metadata
        self._on_dependencies = on_dependencies
        self._on_backtrack = on_backtrack
        self.target = target
        self._releases: dict[str, Releases] = {}
        self._metadata: dict[Distribution, Metadata] = {}
        self._warmed: set[tuple[str, str, frozenset[str]]] = set()
        self._ahead: set[Distribution] = set()
        self._misses: dict[str, int] = {}
        self._looked_up: set[Distribution] = set()

    @property
    def asked(self) -> list[str]:
        """Every project the resolver looked at."""
        return list(self._releases)

    def releases(self, name: str) -> Releases:
        found = self._releases.get(name) or self._ready_releases(name)
        if found is None:
            found = self._fetch_releases(name)
        self._releases[name] = found
        return found

    def fetch_metadata(self, dist: Distribution) -> Metadata:
        found = self._metadata.get(dist) or self._ready(dist) or self._from_cache(dist)
        if found is None:
            self._walking_down(dist)
            found = self._fetch_metadata(dist)
        self._metadata[dist] = found
        return found

    def _from_cache(self, dist: Distribution) -> Metadata | None:
        """A project whose page the cache held before may have the metadata of many of
        its releases there too: read this one and the next older ones in one go."""
        releases = self._releases.get(dist.project)
        if releases is None or not releases.seen or dist in self._looked_up:
            return None
        chunk = [dist, *_older(releases, dist, BACKTRACK_AHEAD - 1)]
        self._looked_up.update(chunk)
        self._preload(chunk)
        return self._ready(dist)

    def _walking_down(self, dist: Distribution) -> None:
        """A second release of one project that has to be fetched (the cache has
        neither) means the resolver is walking down its versions: fetch the next older
        ones ahead, together, instead of one round trip per release it tries."""
        self._misses[dist.project] = misses = self._misses.get(dist.project, 0) + 1
        if misses < 2:
            return
        releases = self._releases.get(dist.project)
        if releases is None:
            return
        self.fetch_ahead(_older(releases, dist, BACKTRACK_AHEAD))

    def on_dependencies(self, requirements: list[Requirement]) -> None:
        """Tell the prefetcher, once per distinct requirement."""
        new = []
        for requirement in requirements:
            key = (requirement.name, str(requirement.specifier), requirement.extras)
            if key not in self._warmed:
                self._warmed.add(key)
                new.append(requirement)
        if new:
            self._on_dependencies(new)

    def fetch_ahead(self, dists: list[Distribution]) -> None:
        """Backtracking: the metadata of the next candidates, fetched concurrently."""
        new = [d for d in dists if d not in self._ahead and d not in self._metadata]
        if new:
            self._ahead.update(new)
            self._on_backtrack(new)


CONFLICT_PRIORITY_THRESHOLD = 5  # pip's: conflicts before a project is resolved early
BACKTRACK_AHEAD = 64  # candidates whose metadata is fetched ahead while backtracking


def _older(releases: Releases, dist: Distribution, count: int) -> list[Distribution]:
    """The files standing for the next `count` releases below `dist`'s, newest first
    (built for those releases alone)."""
    older = (pick_file(releases.files(v)) for v in releases.versions if v < dist.version)
    return list(itertools.islice(older, count))


def allowed_versions(
    releases: Releases, requirements: Sequence[Requirement], pre: bool
) -> Memo[tuple[Version, Distribution]]:
    """pip's rules: every specifier holds; pre-releases only with --pre, a specifier that
    names one, or when nothing else matches; yanked releases (PEP 592) only when an
    exact pin can be met by nothing but yanked releases. Versions are matched at once;
    files are read only as far as the resolver goes down the list."""
    from packaging.specifiers import SpecifierSet

    specifier = SpecifierSet()
    for requirement in requirements:
        specifier &= requirement.specifier
    matching = list(specifier.filter(releases.versions, prereleases=True if pre else None))
    files = releases.files
    # Only an exact pin may take a yanked release, and it matches a handful at most.
    yanked_allowed = any(r.pinned for r in requirements) and all(
        all(f.yanked is not None for f in files(v)) for v in matching
    )

    def allowed() -> Iterator[tuple[Version, Distribution]]:
        for version in matching:
            found = files(version)
            if yanked_allowed or any(f.yanked is None for f in found):
                yield version, pick_file(found)

    return Memo(allowed())


def likely_pick(releases: Releases, requirement: Requirement, pre: bool) -> Distribution | None:
    """The release the resolver will most likely try first, for prefetching: the
    newest that matches and is not yanked (a final release unless pre-releases are
    allowed). Stops at the first hit, where allowed_versions would filter them all."""
    specifier = requirement.specifier
    finals_only = not (pre or specifier.prereleases)
    for version in releases.versions:
        if finals_only and version.is_prerelease:
            continue
        if specifier.contains(version, prereleases=True):
            dist = pick_file(releases.files(version))  # built for this release alone
            if dist.yanked is None:
                return dist
    return None


@functools.lru_cache(maxsize=8192)
def _pep508(text: str) -> Pep508 | None:
    """Parsed once per distinct string: the prefetcher and the resolver both read them."""
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508

    try:
        return Pep508(text)
    except InvalidRequirement:
        return None


def dependencies_of(
    metadata: Metadata, target: TargetEnvironment, extras: frozenset[str], parent: str
) -> list[Requirement]:
    """Requires-Dist entries whose markers hold for the target (and these extras)."""
    out = []
    for text in metadata.requires_dist:
        parsed = _pep508(text)
        if parsed is None:
            log.debug(
                "%s: an invalid Requires-Dist entry %r (the release is skipped)", parent, text
            )
            continue
        if parsed.marker is not None and not target.evaluate(parsed.marker, extras):
            continue
        out.append(
            Requirement(
                canonical_name(parsed.name),
                frozenset(canonical_name(e) for e in parsed.extras),
                parsed.specifier,
                f"{parsed.name}{_extras_text(parsed.extras)}{parsed.specifier}",
            )
        )
    return out


def _extras_text(extras: Iterable[str]) -> str:
    extras = sorted(extras)
    return f"[{','.join(extras)}]" if extras else ""


class Provider(AbstractProvider[Requirement, Candidate, str]):
    def __init__(self, view: IndexView, options: Options) -> None:
        self.view = view
        self.options = options
        self.no_metadata: dict[tuple[str, str], str] = {}  # (name, version) -> why
        self._warned_extras: set[tuple[str, str, str]] = set()
        self._allowed_cache: dict[
            tuple[str, frozenset[str]], Memo[tuple[Version, Distribution]]
        ] = {}
        self._candidates: dict[tuple[str, Version, frozenset[str]], Candidate] = {}
        self._dependencies: dict[tuple[str, Version, frozenset[str]], list[Requirement]] = {}
        self._conflict_counts: dict[str, int] = {}
        self._conflict_promoted: set[str] = set()
        self._invalid: dict[Distribution, bool] = {}  # releases pip would skip

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> Any:
        # pip's own order: what keeps conflicting first, then pinned, then
        # upper-bounded, then what the user listed first, then anything constrained at
        # all; the name breaks ties.
        operators = [
            (spec.operator, spec.version)
            for info in information[identifier]
            for spec in info.requirement.specifier
        ]
        pinned = any(op[:2] == "==" and "*" not in version for op, version in operators)
        upper_bounded = any(
            op in ("<", "<=", "~=") or (op == "==" and "*" in version) for op, version in operators
        )
        return (
            identifier not in self._conflict_promoted,
            not pinned,
            not upper_bounded,
            self.options.user_order.get(identifier, math.inf),
            not operators,
            identifier,
        )

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation[Requirement, Candidate]]],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> Iterable[str]:
        """pip's narrowing: the causes of the current backtrack first (a resolution
        cannot be found while they conflict), then what has kept conflicting before
        being pinned. (pip also puts its Requires-Python pseudo-project first; here
        that made backjumping forget what it had excluded and loop, and that
        requirement is only ever satisfied or not by the one target interpreter.)"""
        causes: set[str] = set()
        for info in backtrack_causes:
            names = [info.requirement.identifier]
            if info.parent is not None:
                names.append(info.parent.identifier)
            for name in names:
                causes.add(name)
                if name not in resolutions:
                    self._conflict_counts[name] = self._conflict_counts.get(name, 0) + 1
                    if self._conflict_counts[name] >= CONFLICT_PRIORITY_THRESHOLD:
                        self._conflict_promoted.add(name)
        current, promoted = [], []
        for identifier in identifiers:
            if identifier in causes:
                current.append(identifier)
            elif identifier in self._conflict_promoted:
                promoted.append(identifier)
        return current or promoted or identifiers

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Iterable[Candidate]:
        wanted = list(requirements[identifier])
        if not wanted:
            return []
        name, extras = wanted[0].name, wanted[0].extras
        if name == PYTHON:
            python = self.options.target.python_version
            if all(r.specifier.contains(python, prereleases=True) for r in wanted):
                return [Candidate(PYTHON, python, None)]
            return []
        if name == self.options.local_project:
            from packaging.version import Version

            local = Candidate(name, self.options.local_version or Version("0"), None, extras)
            return [local] if all(self.is_satisfied_by(r, local) for r in wanted) else []
        constraints = self.options.constraints.get(name, ())
        excluded = {c.version for c in incompatibilities[identifier]}
        allowed = self._allowed(name, [*wanted, *constraints])
        if excluded:
            ahead = (dist for version, dist in allowed if version not in excluded)
            self.view.fetch_ahead(list(itertools.islice(ahead, BACKTRACK_AHEAD)))

        locked = self.options.preferred.get(name)
        ordered: Iterable[tuple[Version, Distribution]] = (
            allowed if locked is None else _nearest_first(allowed, locked)
        )

        def candidates() -> Iterator[Candidate]:
            # Lazy: while backtracking, resolvelib asks again and again and mostly
            # looks at the first few; 1,500 botocore releases are not built each time.
            for version, dist in ordered:
                if version not in excluded and not self._invalid_metadata(dist):
                    yield self._candidate(name, version, dist, extras)

        return candidates  # type: ignore[return-value]  # resolvelib takes a factory

    def _allowed(
        self, name: str, requirements: Sequence[Requirement]
    ) -> Memo[tuple[Version, Distribution]]:
        """pip's candidate rules, worked out once per distinct set of specifiers."""
        # The texts stand for the specifiers (equal texts, equal specifiers), and are
        # far cheaper to hash than a SpecifierSet is to print.
        key = (name, frozenset(r.text for r in requirements))
        found = self._allowed_cache.get(key)
        if found is None:
            found = allowed_versions(self.view.releases(name), requirements, self.options.pre)
            self._allowed_cache[key] = found
        return found

    def _invalid_metadata(self, dist: Distribution) -> bool:
        """pip (24.1+) skips a release whose metadata has a Requires-Dist entry that is
        not PEP 508 ("Ignoring version X of Y since it has invalid metadata") and tries
        the next: the same here. Dropping only the entry would resolve a set pip never
        installs, and leave what the entry asks for unaudited."""
        found = self._invalid.get(dist)
        if found is None:
            metadata = self.view.fetch_metadata(dist)
            bad = next((t for t in metadata.requires_dist if _pep508(t) is None), None)
            found = self._invalid[dist] = bad is not None
            if bad is not None:
                log.warning(
                    "ignoring %s %s: its metadata has an invalid Requires-Dist entry %r "
                    "(as pip does)",
                    dist.project,
                    dist.version,
                    bad,
                )
        return found

    def _candidate(
        self, name: str, version: Version, dist: Distribution, extras: frozenset[str]
    ) -> Candidate:
        key = (name, version, extras)
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = Candidate(name, version, dist, extras)
        return found

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if candidate.distribution is None and candidate.name == self.options.local_project:
            version = self.options.local_version
            return version is None or requirement.specifier.contains(version, prereleases=True)
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        """Worked out once per candidate: backtracking asks for the same ones again
        and again, and markers are costly to evaluate."""
        key = (candidate.name, candidate.version, candidate.extras)
        found = self._dependencies.get(key)
        if found is None:
            found = self._dependencies[key] = self._read_dependencies(candidate)
        return found

    def _read_dependencies(self, candidate: Candidate) -> list[Requirement]:
        if candidate.distribution is None:
            return []
        metadata = self.view.fetch_metadata(candidate.distribution)
        deps: list[Requirement] = []
        if candidate.extras:
            # pip's shape: name[extra] pins name itself to the same version.
            from packaging.specifiers import SpecifierSet

            deps.append(
                Requirement(
                    candidate.name,
                    frozenset(),
                    SpecifierSet(f"=={candidate.version}"),
                    f"{candidate.name}=={candidate.version}",
                )
            )
        if metadata.unknown is not None:
            self.no_metadata[(candidate.name, str(candidate.version))] = (
                f"its dependencies are unknown: {metadata.unknown} (vulnsweep never builds "
                "or runs package code)"
            )
            return deps
        python = _requires_python(metadata, candidate)
        if python is not None:
            deps.append(python)
        self._warn_unknown_extras(candidate, metadata)
        found = dependencies_of(metadata, self.view.target, candidate.extras, str(candidate))
        self.view.on_dependencies(found)
        return deps + found

    def _warn_unknown_extras(self, candidate: Candidate, metadata: Metadata) -> None:
        if metadata.provides_extra is None:
            return
        for extra in sorted(candidate.extras - metadata.provides_extra):
            key = (candidate.name, str(candidate.version), extra)
            if key not in self._warned_extras:
                self._warned_extras.add(key)
                log.warning(
                    "%s %s does not provide the extra '%s'",
                    candidate.name,
                    candidate.version,
                    extra,
                )


def _nearest_first(
    allowed: Iterable[tuple[Version, Distribution]], locked: Version
) -> list[tuple[Version, Distribution]]:
    """Newest-first releases reordered around a locked version: it, then each newer
    release from the nearest up, then the older ones newest first."""
    newer = [item for item in allowed if item[0] >= locked]
    older = [item for item in allowed if item[0] < locked]
    return newer[::-1] + older


def _requires_python(metadata: Metadata, candidate: Candidate) -> Requirement | None:
    """The release's own Requires-Python (pages may leave it out): a dependency on the
    target interpreter that it alone can satisfy, so a release that excludes it is
    backtracked over exactly as pip does."""
    if not metadata.requires_python:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        specifier = SpecifierSet(metadata.requires_python)
    except InvalidSpecifier:
        log.debug("%s: ignoring an invalid Requires-Python %r", candidate, metadata.requires_python)
        return None
    return Requirement(PYTHON, frozenset(), specifier, f"Python{specifier}")
