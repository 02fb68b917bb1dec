"""Resolution: requirement sets that are not all pinned become the exact releases pip
would install, from index metadata alone (no package code ever runs).

Each set resolves with resolvelib in its own worker thread over one shared
PackageIndex, so sets share pages, metadata and round trips; a prefetcher on the
event loop fetches what the resolvers will ask for next. Every resolved dependency
keeps the requirement lines that pulled it in and the chains that reached it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from vulnsweep.errors import InputError, ServiceError, UsageError
from vulnsweep.model import (
    Dependency,
    Origin,
    RequirementLine,
    ResolutionRequest,
    SkippedDependency,
    canonical_name,
    parse_version,
)
from vulnsweep.redact import redact_url
from vulnsweep.resolution import MAX_ROUNDS
from vulnsweep.resolution.graph import trace
from vulnsweep.resolution.provider import (
    PYTHON,
    Candidate,
    IndexView,
    Options,
    Provider,
    Requirement,
    dependencies_of,
    likely_pick,
    parse_requirement,
)
from vulnsweep.target import TargetEnvironment
from vulnsweep.url import Url, reveal

if TYPE_CHECKING:
    import anyio.abc

    from vulnsweep.cache import Cache
    from vulnsweep.index.client import Metadata, PackageIndex
    from vulnsweep.index.pages import Distribution, Releases
    from vulnsweep.net.http import HttpClient, Timeouts
    from vulnsweep.net.session import Network

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

log = logging.getLogger(__name__)
T = TypeVar("T")

RESOLVER_THREADS = 8  # requirement sets resolving at once (the rest wait their turn)


class ResolutionError(InputError):
    """Requirements that cannot all be met: explained the way pip explains it."""


class OutOfRounds(ResolutionError):
    """The resolver's budget ran out: not wrong input, an audit left incomplete."""


@dataclass
class ResolverSettings:
    cache: Cache
    index_url: str | Url = "https://pypi.org/simple"
    extra_index_urls: Sequence[str | Url] = ()
    target: TargetEnvironment = field(default_factory=TargetEnvironment)
    pre: bool = False
    max_rounds: int = MAX_ROUNDS
    concurrency: int = 32
    timeouts: Timeouts | None = None
    deadline: float | None = None  # seconds for every resolution together
    network: Network | None = None  # the run's loop and connection pool


@dataclass
class Resolved:
    dependencies: list[Dependency] = field(default_factory=list)
    skipped: list[SkippedDependency] = field(default_factory=list)
    requests_sent: int = 0
    # Re-resolved locks only (`--fix` explains each move): per set label, per project,
    # who asked for it and what they asked ("requests 2.32.0", "urllib3<3,>=1.21.1").
    wanted_by: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    # ... and each chosen release's own Requires-Dist (markers and all) and
    # Requires-Python, for lock formats that record them.
    metadata: dict[str, dict[str, tuple[tuple[str, ...], str | None]]] = field(default_factory=dict)


def resolve_all(requests: Sequence[ResolutionRequest], settings: ResolverSettings) -> Resolved:
    from vulnsweep.net.session import run_once

    def resolution() -> Awaitable[Resolved]:
        return resolve_async(requests, settings)

    try:
        if settings.network is not None:
            return settings.network.run(resolution)
        return run_once(resolution)
    except BaseExceptionGroup as group:  # task groups wrap what a resolution raised
        raise _first_error(group) from None


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    from vulnsweep.errors import VulnsweepError

    return next((e for e in leaves if isinstance(e, VulnsweepError)), leaves[0])


async def resolve_async(
    requests: Sequence[ResolutionRequest], settings: ResolverSettings
) -> Resolved:
    import anyio

    from vulnsweep.index.auth import with_credentials
    from vulnsweep.index.client import ACCEPT, LazyHttp, PackageIndex

    def client() -> HttpClient:
        from vulnsweep.net.http import HttpClient

        return HttpClient(
            "package index",
            timeouts=settings.timeouts,
            concurrency=settings.concurrency,
            headers={"Accept": ACCEPT},
            network=settings.network,
        )

    resolved = Resolved()
    indexes: dict[tuple[str, ...], PackageIndex] = {}
    http = LazyHttp(client)
    # Resolver threads have slots of their own: were they to take every default
    # worker slot, the cache reads they wait on could never run (a deadlock at 40+).
    threads = anyio.CapacityLimiter(RESOLVER_THREADS)
    try:
        with anyio.move_on_after(settings.deadline) as deadline:
            async with anyio.create_task_group() as prefetches:
                async with anyio.create_task_group() as resolutions:
                    for request in requests:
                        urls = tuple(with_credentials(u) for u in _index_urls(request, settings))
                        index = indexes.get(urls)
                        if index is None:
                            index = indexes[urls] = PackageIndex(
                                http, settings.cache, urls, settings.target
                            )
                        resolutions.start_soon(
                            _resolve_one, request, index, settings, prefetches, resolved, threads
                        )
                prefetches.cancel_scope.cancel()
        if deadline.cancelled_caught:
            raise ServiceError(
                "package index",
                settings.index_url,
                f"--deadline of {settings.deadline:g}s exceeded while resolving",
            )
    finally:
        resolved.requests_sent = http.requests_sent
        for index in indexes.values():
            await index.cancel_pending()
        await http.aclose()
        for index in indexes.values():
            await index.persist_async()
    return resolved


def _index_urls(request: ResolutionRequest, settings: ResolverSettings) -> list[str]:
    """The indexes a set resolves from (its file's own lines win), each checked to be
    something this client can ask: an http(s) URL."""
    from urllib.parse import urlsplit

    # The package index client is the registry's transport: the flags' Url values are
    # revealed here, where they join the file's own lines, and go nowhere but requests.
    flag_index, flag_extras = (
        reveal(settings.index_url),
        [reveal(u) for u in settings.extra_index_urls],
    )
    from_file = [*filter(None, [request.index_url]), *request.extra_index_urls]
    from_flags = [*([] if request.index_url else [flag_index]), *flag_extras]
    for url, from_request in [(u, True) for u in from_file] + [(u, False) for u in from_flags]:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            continue
        message = f"package index {str(Url(url))!r} is not an http(s) URL"
        if from_request:
            raise InputError(request.label, message)
        raise UsageError(f"--index-url/--extra-index-url: {message}")
    return [request.index_url or flag_index, *flag_extras, *request.extra_index_urls]


@dataclass
class Waits:
    """How long a resolution's thread waited on the event loop, and for how many answers
    the prefetcher had not asked for yet: the overlap it missed (-vv)."""

    seconds: float = 0.0
    answers: dict[str, list[int]] = field(
        default_factory=lambda: {"pages": [0, 0], "metadata files": [0, 0]}
    )

    def timed(self, kind: str, asked: bool, fetch: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return fetch()
        finally:
            self.seconds += time.perf_counter() - started
            counts = self.answers[kind]
            counts[0] += 1
            counts[1] += not asked

    def __str__(self) -> str:
        parts = [
            f"{total} {kind} ({unasked} not asked for ahead)"
            for kind, (total, unasked) in self.answers.items()
        ]
        return f"waited {self.seconds:.2f}s for {' and '.join(parts)}"


class Prefetcher:
    """Fetches, ahead of the resolver, the page of every project it will meet and the
    metadata of the release it will most likely pick, level after level."""

    def __init__(
        self,
        index: PackageIndex,
        target: TargetEnvironment,
        pre: bool,
        group: anyio.abc.TaskGroup,
    ) -> None:
        self.index = index
        self.target = target
        self.pre = pre
        self.group = group
        self._seen: set[tuple[str, str, frozenset[str]]] = set()

    def warm(self, requirements: Sequence[Requirement]) -> None:
        for requirement in requirements:
            key = (requirement.name, str(requirement.specifier), requirement.extras)
            if key not in self._seen:
                self._seen.add(key)
                self.group.start_soon(self._warm, requirement)

    async def _warm(self, requirement: Requirement) -> None:
        try:
            releases = await self.index.releases(requirement.name)
            dist = likely_pick(releases, requirement, self.pre)
            if dist is None:
                return
            metadata = await self.index.metadata(dist)
        except ServiceError:
            return  # the resolver meets the same error when it needs the answer
        if metadata.unknown is None:
            self.warm(dependencies_of(metadata, self.target, requirement.extras, requirement.name))

    def fetch_ahead(self, dists: Sequence[Distribution]) -> None:
        """While the resolver backtracks, the metadata of the releases it will try next
        (bounded by the HTTP client's concurrency), all at once instead of one by one."""
        for dist in dists:
            self.group.start_soon(self._metadata_quietly, dist)

    async def _metadata_quietly(self, dist: Distribution) -> None:
        try:
            metadata = await self.index.metadata(dist)
        except ServiceError:
            return  # the resolver meets the same error when it needs the answer
        if metadata.unknown is None:
            # What those releases need comes next (botocore for each boto3 walked past).
            self.warm(dependencies_of(metadata, self.target, frozenset(), dist.project))


async def _resolve_one(
    request: ResolutionRequest,
    index: PackageIndex,
    settings: ResolverSettings,
    prefetches: anyio.abc.TaskGroup,
    resolved: Resolved,
    threads: anyio.CapacityLimiter,
) -> None:
    import anyio.from_thread
    import anyio.to_thread

    target = settings.target
    roots, skipped = root_requirements(request.requirements, target)
    constraints, more_skipped = root_requirements(request.constraints, target)
    resolved.skipped.extend(skipped + more_skipped)
    if not roots:
        return
    pre = settings.pre or request.pre
    fingerprint = _fingerprint(request, index, target, pre)
    reused = None if request.preferred else await _reuse(index, fingerprint)
    if reused is not None:
        resolved.dependencies.extend(reused.dependencies)
        resolved.skipped.extend(reused.skipped)
        return
    prefetcher = Prefetcher(index, target, pre, prefetches)
    loop = asyncio.get_running_loop()
    prefetcher.warm(roots)

    def hand_over(callback: Callable[[Any], None]) -> Callable[[Any], None]:
        """Prefetch requests go to the loop without the resolver waiting for it."""
        return lambda argument: void(loop.call_soon_threadsafe(callback, argument))

    waits = Waits()

    def fetch_releases(name: str) -> Releases:
        asked = index.asked_releases(name)
        return waits.timed("pages", asked, lambda: anyio.from_thread.run(index.releases, name))

    def fetch_metadata(dist: Distribution) -> Metadata:
        asked = index.asked_metadata(dist)
        return waits.timed(
            "metadata files", asked, lambda: anyio.from_thread.run(index.metadata, dist)
        )

    view = IndexView(
        fetch_releases=fetch_releases,
        fetch_metadata=fetch_metadata,
        on_dependencies=hand_over(prefetcher.warm),
        target=target,
        on_backtrack=hand_over(prefetcher.fetch_ahead),
        ready_metadata=index.ready_metadata,
        ready_releases=index.ready_releases,
        preload=lambda dists: anyio.from_thread.run(index.preload, dists),
    )
    by_name: dict[str, list[Requirement]] = {}
    for constraint in constraints:
        by_name.setdefault(constraint.name, []).append(constraint)
    user_order: dict[str, int] = {}
    for position, root in enumerate(roots):
        user_order.setdefault(root.identifier, position)
    local = canonical_name(request.project) if request.project else None
    local_version = parse_version(request.project_version) if request.project_version else None
    preferred = {
        canonical_name(n): v for n, text in request.preferred if (v := parse_version(text))
    }
    provider = Provider(
        view, Options(target, pre, by_name, user_order, local, local_version, preferred)
    )

    def run() -> Any:
        """In the worker thread, so explaining a failure may still ask the index."""
        from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep

        from vulnsweep.resolution.backjump import DedupingResolver

        started = time.perf_counter()

        class Progress(BaseReporter[Requirement, Candidate, str]):
            """A long backtrack says where it is at -vv."""

            def starting_round(self, index: int) -> None:
                if index and index % 1000 == 0:
                    seconds = time.perf_counter() - started
                    log.debug("%s: resolver round %d after %.0fs", request.label, index, seconds)

        try:
            found = DedupingResolver(provider, Progress()).resolve(
                roots, max_rounds=settings.max_rounds
            )
            seconds = time.perf_counter() - started
            log.debug("%s: resolved in %.2fs; %s", request.label, seconds, waits)
            if request.preferred:  # read here, in the worker thread, while it is at hand
                chosen = {}
                for candidate in found.mapping.values():
                    if candidate.distribution is not None and not candidate.extras:
                        meta = view.fetch_metadata(candidate.distribution)
                        chosen[candidate.name] = (meta.requires_dist, meta.requires_python)
                resolved.metadata[request.label] = chosen
            return found
        except ResolutionImpossible as exc:
            raise ResolutionError(request.label, explain(exc.causes, view)) from None
        except ResolutionTooDeep:
            raise OutOfRounds(
                request.label,
                f"resolution did not finish within {settings.max_rounds} rounds (the resolver "
                "kept backtracking; pin or constrain what it walks through, or raise "
                "--max-rounds)",
            ) from None

    try:
        result = await anyio.to_thread.run_sync(run, limiter=threads, abandon_on_cancel=True)
    except ResolutionError as error:
        give_up(request, error, resolved)
        return
    outcome = Resolved(dependencies=_dependencies(result, roots, request.project))
    origins = {r.name: r.origin for r in roots if r.origin is not None}
    chosen = {(c.name, str(c.version)) for c in result.mapping.values()}
    for (name, version), reason in provider.no_metadata.items():
        if (name, version) not in chosen:
            continue  # tried and left behind: not part of what is installed
        outcome.skipped.append(
            SkippedDependency(
                name=name,
                version=version,
                reason=f"{name} {version} is audited, but {reason}",
                origins=(origins[name],) if name in origins else (Origin(request.label),),
                unresolved=True,
            )
        )
    resolved.dependencies.extend(outcome.dependencies)
    resolved.skipped.extend(outcome.skipped)
    if request.preferred:
        resolved.wanted_by[request.label] = _wanted_by(result)
    else:
        _keep(index, fingerprint, outcome, view.asked)


def _wanted_by(result: Any) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for criterion in result.criteria.values():
        for information in criterion.information:
            requirement: Requirement = information.requirement
            parent: Candidate | None = information.parent
            if requirement.name == PYTHON:
                continue
            who = (
                f"{parent.name} {parent.version}"
                if parent is not None
                else str(requirement.origin or "the input")
            )
            entry = (who, requirement.text)
            found = out.setdefault(requirement.name, [])
            if entry not in found:
                found.append(entry)
    return out


# -- reusing a resolution ----------------------------------------------------------

RESOLUTIONS = "resolutions-1"  # cache partition of finished resolutions


def _fingerprint(
    request: ResolutionRequest, index: PackageIndex, target: TargetEnvironment, pre: bool
) -> str:
    """Everything a resolution's result depends on besides the index pages."""
    import hashlib

    import orjson

    from vulnsweep import __version__
    from vulnsweep.index.client import strip_credentials

    def lines(items: Sequence[RequirementLine]) -> list[tuple[str, str]]:
        return [(line.text, str(line.origin)) for line in items]

    facts = [
        __version__,
        request.label,
        request.project,
        request.project_version,
        lines(request.requirements),
        lines(request.constraints),
        [strip_credentials(url) for url in index.index_urls],
        sorted(target.marker_values.items()),
        target.platform,
        target.markers is None,  # this interpreter's own wheel tags
        pre,
    ]
    return hashlib.sha256(orjson.dumps(facts)).hexdigest()


def _keep(index: PackageIndex, fingerprint: str, outcome: Resolved, asked: Collection[str]) -> None:
    """Remember the result with the pages it was made from (their cache keys and
    expiry stamps): while every one of them is still in the cache unchanged, the same
    input resolves to the same releases, so a warm run skips the resolver entirely."""
    import orjson

    from vulnsweep.cache import HttpEntry, source_key

    if not asked or any(name not in index.page_stamps for name in asked):
        return  # a page not read through the cache: nothing to check a reuse against
    pages = [stamp for name in asked for stamp in index.page_stamps[name]]
    body = orjson.dumps(
        {
            "pages": pages,
            "dependencies": [
                [d.name, d.version, [[o.path, o.line] for o in d.origins], d.paths]
                for d in outcome.dependencies
            ],
            "skipped": [
                [
                    s.name,
                    s.reason,
                    [[o.path, o.line] for o in s.origins],
                    s.version,
                    s.error,
                    s.unresolved,
                ]
                for s in outcome.skipped
            ],
        }
    )
    expires = min(expires for _, _, expires in pages)
    index.remember(source_key(RESOLUTIONS), fingerprint, HttpEntry(None, expires, body))


async def _reuse(index: PackageIndex, fingerprint: str) -> Resolved | None:
    import time

    import anyio.to_thread

    from vulnsweep.cache import decoded, source_key

    cache = index.cache
    stored = (
        await anyio.to_thread.run_sync(
            lambda: cache.get_http(source_key(RESOLUTIONS), [fingerprint])
        )
    ).get(fingerprint)
    if stored is None or stored.expires <= time.time():
        return None
    data = decoded(stored.body)
    by_source: dict[str, dict[str, float]] = {}
    try:
        for source, key, expires in data["pages"]:
            by_source.setdefault(source, {})[key] = expires
        dependencies = [
            Dependency(
                name, version, tuple(Origin(p, n) for p, n in origins), tuple(map(tuple, paths))
            )
            for name, version, origins, paths in data["dependencies"]
        ]
        # The flags decide the exit code: a reused set that left something unresolved
        # exits 3 exactly as the run that resolved it did.
        skipped = [
            SkippedDependency(
                name, reason, tuple(Origin(p, n) for p, n in origins), version, error, unresolved
            )
            for name, reason, origins, version, error, unresolved in data["skipped"]
        ]
    except (KeyError, TypeError, ValueError):
        return None  # a damaged entry is a miss: resolve again

    def unchanged() -> bool:
        for source, wanted in by_source.items():
            found = cache.get_http(source, list(wanted))
            if any(
                key not in found or found[key].expires != expires for key, expires in wanted.items()
            ):
                return False
        return True

    if not await anyio.to_thread.run_sync(unchanged):
        return None
    return Resolved(dependencies=dependencies, skipped=skipped)


def void(_: object) -> None:
    return None


def root_requirements(
    lines: Sequence[RequirementLine], target: TargetEnvironment
) -> tuple[list[Requirement], list[SkippedDependency]]:
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Pep508

    roots, skipped = [], []
    for line in lines:
        try:
            parsed = Pep508(line.text)
        except InvalidRequirement as exc:
            skipped.append(
                SkippedDependency(
                    name=line.text[:80],
                    reason=f"invalid requirement {line.text!r}: {exc}",
                    origins=(line.origin,),
                )
            )
            continue
        if parsed.marker is not None and not target.evaluate(parsed.marker):
            continue
        if parsed.url:
            from vulnsweep.sources.requirements.pep508 import version_from_url

            version = version_from_url(parsed.url, parsed.name)
            if version is None:
                skipped.append(
                    SkippedDependency(
                        name=parsed.name,
                        reason=f"direct reference to {redact_url(parsed.url)}: its version is "
                        "only known by building it, which vulnsweep never does; it and what "
                        "it pulls in are not audited",
                        origins=(line.origin,),
                        unresolved=True,
                    )
                )
                continue
            # The file names the release pip installs: resolve that release, pinned.
            extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
            marker = f" ; {parsed.marker}" if parsed.marker is not None else ""
            roots.append(
                parse_requirement(f"{parsed.name}{extras}=={version}{marker}", line.origin)
            )
            continue
        roots.append(parse_requirement(line.text, line.origin))
    return roots, skipped


def explain(causes: Collection[Any], view: IndexView) -> str:
    """pip's shape: who requires what, for every requirement in the conflict."""
    parts: list[str] = []
    for cause in causes:
        requirement: Requirement = cause.requirement
        parent: Candidate | None = cause.parent
        if parent is not None:
            who = f"{parent}"
        elif requirement.origin is not None:
            who = f"{requirement.origin}"
        else:
            who = "the input"
        part = f"{who} requires {requirement.text}"
        if part not in parts:
            parts.append(part)
    if len(parts) > 6:
        parts[5:] = [f"and {len(parts) - 5} more"]
    names = sorted({cause.requirement.name for cause in causes})
    if names == [PYTHON]:
        python = view.target.python_version
        return f"{'; '.join(parts)}, but the target Python is {python}"
    if len(causes) == 1 or (len(names) == 1 and len(parts) == 1):
        name = names[0]
        releases = view.releases(name)
        excluded = _excluded(view, name, [c.requirement for c in causes])
        if not releases:
            return f"{parts[0]}, but no installable release of {name} is on the index{excluded}"
        newest = ", ".join(str(v) for v in releases.versions[:5])
        return f"{parts[0]}, but no release matches (newest: {newest}){excluded}"
    return f"conflicting requirements for {', '.join(names)}: " + "; ".join(parts)


def _excluded(view: IndexView, name: str, requirements: Sequence[Requirement]) -> str:
    """pip names what it left out: versions that match but are yanked, or that no file
    of fits the target's Python."""
    from packaging.specifiers import SpecifierSet

    specifier = SpecifierSet()
    for requirement in requirements:
        specifier &= requirement.specifier
    releases = view.releases(name)
    installable = set(releases.versions)
    unfit = releases.unfit()
    yanked, python = [], []
    for version in sorted(specifier.filter({*installable, *unfit}, prereleases=True), reverse=True):
        if version not in installable:
            python.append(f"{version} ({unfit[version] or 'no file fits the target'})")
        elif all(f.yanked is not None for f in releases.files(version)):
            yanked.append(str(version))
    notes = []
    if yanked:
        notes.append(f"yanked: {', '.join(yanked[:5])}")
    if python:
        target = view.target.python_version
        notes.append(f"not for Python {target}: {', '.join(python[:5])}")
    return f"; excluded {'; '.join(notes)}" if notes else ""


def give_up(request: ResolutionRequest, error: ResolutionError, resolved: Resolved) -> None:
    """Fatal, unless the set came from a tree walk: then one skipped entry names it.
    A set the resolver ran out of rounds on is named as not audited (exit 3), the
    rest of the run goes on: nothing about the input is known to be wrong."""
    out_of_rounds = isinstance(error, OutOfRounds)
    if not (out_of_rounds or request.tolerant):
        raise error
    resolved.skipped.append(
        SkippedDependency(
            name=request.project or request.label,
            reason=f"not resolved, so not audited: {error.message}"
            if out_of_rounds
            else f"cannot be resolved: {error.message}",
            origins=(Origin(request.label),),
            error=not out_of_rounds,
            unresolved=out_of_rounds,
        )
    )


def _dependencies(
    result: Any, roots: Sequence[Requirement], project: str | None
) -> list[Dependency]:
    """One Dependency per resolved release (name[extra] stands for name itself)."""
    mapping: dict[str, Candidate] = result.mapping
    graph = result.graph
    root_origins: dict[str, list[Origin]] = {}
    for root in roots:
        if root.origin is not None:
            root_origins.setdefault(root.identifier, []).append(root.origin)
    of = trace(
        list(graph.iter_children(None)),
        root_origins,
        graph.iter_children,
        lambda node: [p for p in graph.iter_parents(node) if p is not None],
        lambda node: node,
        (project,) if project else (),
    )
    order = {root.identifier: i for i, root in reversed(list(enumerate(roots)))}
    out = []
    for identifier, candidate in mapping.items():
        if not candidate.extras and candidate.distribution is not None:
            origins, paths = of(identifier)
            out.append(Dependency(candidate.name, str(candidate.version), origins, paths))
    # The user's requirements in their order, then what they pulled in, level by level.
    return sorted(
        out,
        key=lambda d: (
            (order.get(d.paths[0][0], len(order)), len(d.paths[0]), d.paths[0])
            if d.paths
            else (len(order), 0, (d.name,))
        ),
    )
