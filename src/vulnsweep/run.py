"""One audit run: the Run owns what must be closed (the cache, the network, the run
history) and the stages are plain functions over it, in pipeline order:

    collect -> resolve -> audit (+ status) -> fix -> report -> remember

The network (event loop and connection pool) opens only when a stage first needs it,
so a run the cache answers entirely never imports aiohttp.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from vulnsweep.cache import cache_dir
from vulnsweep.errors import (
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_USAGE,
    InputError,
    ServiceError,
    UsageError,
)
from vulnsweep.settings import Settings

if TYPE_CHECKING:
    from vulnsweep.audit import AuditOutcome
    from vulnsweep.cache import Cache
    from vulnsweep.history.store import FileFacts, RunRecord, StateStore
    from vulnsweep.model import (
        AuditResult,
        Dependency,
        ResolutionRequest,
        SkippedDependency,
        Vulnerability,
    )
    from vulnsweep.net.session import Network
    from vulnsweep.policy.config import Config
    from vulnsweep.policy.projects import ScopedPolicy
    from vulnsweep.resolution.resolve import ResolverSettings
    from vulnsweep.services import VulnerabilityService
    from vulnsweep.target import TargetEnvironment
    from vulnsweep.triage import Signals

log = logging.getLogger("vulnsweep")


class Run:
    """A context manager: whatever a stage raises, everything opened is closed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = dt.datetime.now(dt.timezone.utc)
        self.store: StateStore | None = None
        self.store_failed = False  # --state named a database that could not be reached
        self.fix_failed = False  # --fix could not reach what planning needs
        self.fix_error: InputError | None = None  # --fix refused to write a file
        self._cache: Cache | None = None
        self._network: Network | None = None

    def __enter__(self) -> Run:
        if self.settings.state:
            from vulnsweep.errors import ServiceError
            from vulnsweep.history.store import StateStore

            # A recheck re-audits a history: it never starts an empty one by mistake.
            try:
                self.store = StateStore(self.settings.state, create=not self.settings.recheck)
            except ServiceError as exc:
                if self.settings.recheck:
                    raise  # nothing to re-audit without the history
                # A shard whose database is down still audits and writes its report; the
                # run then exits 3, as nothing of it could be recorded.
                log.error("%s; auditing without it, nothing will be recorded", exc)
                self.store_failed = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._network is not None:
                self._network.close()
        finally:
            if self._cache is not None:
                self._cache.close()
            if self.store is not None:
                self.store.close()

    @property
    def cache(self) -> Cache:
        if self._cache is None:
            from vulnsweep.cache import Cache

            s = self.settings
            self._cache = Cache(None if s.no_cache else cache_dir(s.cache_dir), ttl=s.cache_ttl)
        return self._cache

    @property
    def network(self) -> Network:
        """The process's one event loop and the run's one connection pool, on first use."""
        if self._network is None:
            from vulnsweep.net.session import Network

            s = self.settings
            self._network = Network(ca_bundle=s.cert, connections=max(s.concurrency, 64) + 16)
        return self._network


@dataclass
class Collected:
    dependencies: list[Dependency]
    skipped: list[SkippedDependency]
    requests: list[ResolutionRequest] = field(default_factory=list)
    root: Path | None = None  # where a monorepo's projects are found
    previous: list[RunRecord] = field(default_factory=list)  # stored runs compared with
    files: FileFacts | None = None  # a recheck: each file's project and owners, as stored
    markers: dict[str, str] | None = None  # the target environment's marker values


def execute(run: Run) -> int:
    """The audit command: every stage in order; the exit code."""
    from vulnsweep import job
    from vulnsweep.output.summary import summarize

    s = run.settings
    previous = _previous_runs(run)
    baseline = job.baseline_for(s, run.store, previous)  # a bad one fails before any work
    collected = collect(run, previous)
    resolve(run, collected)
    if s.dry_run and not s.fix:
        print(
            f"Dry run: would audit {len(collected.dependencies)} packages "
            f"({len(collected.skipped)} skipped)",
            file=sys.stderr,
        )
        from vulnsweep.output.summary import say_unreadable

        return EXIT_USAGE if say_unreadable(collected.skipped) else EXIT_OK
    service = build_service(run)
    if s.recheck and run.store is not None and hasattr(service, "preload"):
        service.preload(run.store.records())
    stored = run.store.configs(collected.previous) if s.recheck and run.store else None
    policy = job.run_policy(
        s, s.argv, _config(s), collected.root, baseline, run.started.date(),
        collected.files.projects if collected.files else None, stored,
    )  # fmt: skip
    if s.vex:
        from vulnsweep.triage.vex import Vex, read_vex

        policy.vex = Vex(statement for path in s.vex for statement in read_vex(path))
    policy.prepare(itertools.chain(collected.dependencies, collected.skipped))
    outcome = report(run, collected, service, policy)
    code = summarize(outcome, policy, s.strict)
    if run.fix_error is not None:
        # The report is whole; no file was rewritten, and the run fails on the input.
        from vulnsweep.redact import shown

        print(f"vulnsweep: error: {shown(str(run.fix_error), 2000)}", file=sys.stderr)
        code = run.fix_error.exit_code
    remember(run, collected, outcome.result, service, code, _applied(s, policy))
    return EXIT_SERVICE if run.store_failed or run.fix_failed else code


def _applied(settings: Settings, policy: ScopedPolicy) -> dict[str, str]:
    """The policy files this run applied, kept with it in the run history."""
    applied = dict(policy.projects.loaded) if policy.projects is not None else {}
    path = settings.config.path if settings.config is not None else None
    if path is not None and str(path.resolve()) not in applied:
        with contextlib.suppress(OSError):
            applied[str(path.resolve())] = path.read_text(encoding="utf-8", errors="replace")
    return applied


def _config(settings: Settings) -> Config:
    from vulnsweep.policy.config import Config

    return settings.config or Config()


def _previous_runs(run: Run) -> list[RunRecord]:
    if run.store is None:
        if run.settings.recheck:
            raise UsageError("recheck needs --state PATH (the run history to re-audit)")
        return []
    latest = run.store.latest()
    if not run.settings.recheck:  # the previous run of these same inputs, if any
        from vulnsweep import job
        from vulnsweep.history.store import inputs_key

        key = inputs_key(job.job_inputs(run.settings))
        return [r for r in latest if r.inputs_key == key]
    if not latest:
        raise UsageError(f"--state {run.store.label}: no run recorded yet; nothing to recheck")
    return latest


def collect(run: Run, previous: list[RunRecord]) -> Collected:
    """Every source's pins, deduplicated; or, for a recheck, the stored runs' pins."""
    from vulnsweep import job
    from vulnsweep.audit import collect as gather

    s = run.settings
    if s.recheck:
        from vulnsweep.history.store import FileFacts

        if s.paths or s.requirements or s.sbom or s.site_paths:
            raise UsageError("recheck re-audits the runs stored in --state; it takes no inputs")
        assert run.store is not None
        store, files = run.store, FileFacts()
        dependencies, skipped = gather(
            itertools.chain(store.pins(r, files), store.skipped(r, files)) for r in previous
        )
        roots = [Path(r.root) for r in previous if r.root]
        root = Path(os.path.commonpath(roots)) if roots else None
        return Collected(dependencies, skipped, [], root, previous, files)
    from vulnsweep.sources.select import build_sources

    requests: list[ResolutionRequest] = []
    inputs = s.inputs()
    sources = build_sources(inputs)
    dependencies, skipped = gather((source.collect() for source in sources), requests)
    return Collected(
        dependencies,
        skipped,
        requests,
        job.walk_root(s),
        previous,
        markers=inputs.marker_environment,
    )


def resolve(run: Run, collected: Collected) -> None:
    """Unpinned requirement sets -> the releases pip would install, merged with the
    pins that needed no resolving; then what `--skip-editable` and `--strict` say."""
    s = run.settings
    requests = collected.requests
    if requests and not s.dry_run and s.service_name == "offline":
        from vulnsweep.cache import advisorydb

        # Before resolving (which can take a while), not after: no database, no audit.
        advisorydb.connect(advisorydb.db_path(cache_dir(s.cache_dir))).close()
    if requests:
        from vulnsweep.sources import deduplicate
        from vulnsweep.target import TargetEnvironment, platform_of

        markers = collected.markers
        target = TargetEnvironment(markers, s.platform or platform_of(markers))
        if s.resolver == "uv":
            from vulnsweep.resolution.uv import resolve_with_uv

            resolved = resolve_with_uv(requests, s.index_url, s.extra_index_url, target, s.pre)
        else:
            from vulnsweep.resolution.resolve import resolve_all

            resolved = resolve_all(
                requests,
                resolver_settings(run, target),
            )
        log.info(
            "resolved %d requirement sets to %d releases", len(requests), len(resolved.dependencies)
        )
        collected.dependencies, collected.skipped = deduplicate(
            [*collected.dependencies, *resolved.dependencies, *collected.skipped, *resolved.skipped]
        )
    if s.skip_editable:
        collected.skipped = [x for x in collected.skipped if "editable" not in x.reason]
    if s.strict and collected.skipped:
        first = collected.skipped[0]
        where = f" ({first.origins[0]})" if first.origins else ""
        raise UsageError(
            f"--strict: {len(collected.skipped)} dependencies cannot be audited; first: "
            f"{first.name}{where}: {first.reason}"
        )


def resolver_settings(run: Run, target: TargetEnvironment) -> ResolverSettings:
    """How this run resolves: its index, cache, pool and limits."""
    from vulnsweep.resolution.resolve import ResolverSettings

    s = run.settings
    return ResolverSettings(
        cache=run.cache,
        index_url=s.index_url,
        extra_index_urls=s.extra_index_url,
        target=target,
        pre=s.pre,
        max_rounds=s.max_rounds,
        concurrency=min(s.concurrency, 64),
        timeouts=s.timeouts,
        deadline=s.deadline,
        network=run.network,
    )


def build_service(run: Run) -> VulnerabilityService:
    s = run.settings
    if s.service_name == "offline":
        from vulnsweep.cache import advisorydb
        from vulnsweep.services.offline import OfflineService

        return OfflineService(advisorydb.db_path(cache_dir(s.cache_dir)), max_age_days=s.max_db_age)
    # The network is handed over unopened: a fully cached audit never opens it.
    network = run.network
    if s.service_name == "pypi":
        from vulnsweep.services.pypi import PypiService

        return PypiService(
            s.pypi_url,
            run.cache,
            concurrency=s.concurrency,
            timeouts=s.timeouts,
            deadline=s.deadline,
            network=network,
        )
    from vulnsweep.services.osv import BATCH_READ_TIMEOUT, OsvService

    return OsvService(
        s.osv_url,
        run.cache,
        concurrency=s.concurrency,
        timeouts=s.timeouts,
        batch_read_timeout=s.timeout if s.timeout is not None else BATCH_READ_TIMEOUT,
        deadline=s.deadline,
        hydrate=s.hydrate,
        network=network,
    )


def report(
    run: Run, collected: Collected, service: VulnerabilityService, policy: ScopedPolicy
) -> AuditOutcome:
    """Audit, enrich with project status, fix, and write the report. The report is
    open from the start so a streaming format (ndjson) can write each finding as it is
    known; a file still only replaces the old one when complete."""
    from vulnsweep.audit import audit
    from vulnsweep.output import OutputOptions, open_output, resolve_toggle
    from vulnsweep.output.writers import writer_for

    s = run.settings
    progress = None
    if s.progress_spinner == "on" and sys.stderr.isatty():
        from vulnsweep.output.progress import TerminalProgress

        progress = TerminalProgress()

    def options_for(fmt: str, to_terminal: bool) -> OutputOptions:
        return OutputOptions(
            desc=resolve_toggle(s.desc, fmt),
            aliases=resolve_toggle(s.aliases, fmt),
            cyclonedx_version=s.cyclonedx_version,
            hyperlinks=to_terminal and sys.stdout.isatty() and not os.environ.get("CI"),
            group_by=s.group_by,
        )

    signals = exploitation_signals(s)
    writer = writer_for(s.format, options_for(s.format, s.output is None))
    with open_output(s.output) as stream:
        stream_findings = getattr(writer, "findings", None)
        on_findings = (
            (lambda dep, findings: stream_findings(stream, findings))
            if stream_findings is not None
            else None
        )
        try:
            outcome = audit(
                collected.dependencies,
                collected.skipped,
                service,
                policy,
                progress,
                on_findings,
                fresh=s.recheck,
                network=run.network,
                # No data consulted: nothing to add, and no pass over every answer.
                annotate=signals.annotate if signals.describe() is not None else None,
            )
        finally:
            if progress is not None:
                progress.close()
        if s.check_status:
            enrich(run, outcome)
        if s.fix:
            from vulnsweep.target import TargetEnvironment, platform_of

            markers = collected.markers
            target = TargetEnvironment(markers, s.platform or platform_of(markers))
            try:
                fix(run, outcome.result, service, target)
            except InputError as exc:  # a file --fix refuses to write: said after the report
                run.fix_error = exc
            except ServiceError as exc:
                from vulnsweep.redact import shown

                # The audit stands and is reported in full; nothing was rewritten.
                print(
                    f"vulnsweep: error: --fix could not plan ({shown(str(exc))}); "
                    "nothing was rewritten",
                    file=sys.stderr,
                )
                run.fix_failed = True
        policy.finish(outcome.result, _owners(collected))
        now = dt.datetime.now(dt.timezone.utc)
        outcome.result.generated_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        if s.sort == "risk":
            by_risk(outcome.result)
        outcome.result.exploitation = signals.describe()
        writer.write(outcome.result, stream)
    for fmt, path in s.report:  # the same run, in every other format asked for
        with open_output(path) as extra:
            writer_for(fmt, options_for(fmt, False)).write(outcome.result, extra)
    return outcome


def exploitation_signals(s: Settings) -> Signals:
    """KEV and EPSS for this run; a gate that needs data it does not have is a usage
    error before any work, never a silent pass."""
    from vulnsweep.triage import load_signals

    signals = load_signals(
        cache_dir(s.cache_dir), s.kev, s.epss, s.max_db_age if s.service_name == "offline" else None
    )
    if s.fail_on == "kev" and signals.kev is None:
        raise UsageError(
            "--fail-on kev needs CISA's KEV catalogue: run `vulnsweep db sync` or pass --kev FILE"
        )
    if s.min_epss is not None and signals.epss is None:
        raise UsageError(
            "--min-epss needs EPSS scores: run `vulnsweep db sync` or pass --epss FILE"
        )
    return signals


def by_risk(result: AuditResult) -> None:
    """`--sort risk`: each dependency's findings, and the dependencies by their most
    urgent finding (malicious, known exploited, EPSS, severity)."""
    from vulnsweep.triage import risk_key

    ordered = []
    for dep, findings in result.audited:
        findings = sorted(findings, key=lambda f: risk_key(f.vulnerability))
        ordered.append((dep, findings))
    worst = (2, 2, 0.0, 0)
    ordered.sort(key=lambda item: risk_key(item[1][0].vulnerability) if item[1] else worst)
    result.audited = ordered


def enrich(run: Run, outcome: AuditOutcome) -> None:
    """`--check-status`: PEP 792 project status and yanked releases from the index."""
    from vulnsweep.index.status import check

    s = run.settings
    audited = [dep for dep, _ in outcome.result.audited]
    statuses, errors = run.network.run(
        lambda: check(
            audited,
            s.index_url,
            concurrency=min(s.concurrency, 32),
            timeouts=s.timeouts,
            network=run.network,
        )
    )
    outcome.result.statuses = statuses
    outcome.errors += errors


def fix(
    run: Run, result: AuditResult, service: VulnerabilityService, target: TargetEnvironment
) -> None:
    """`--fix`: re-resolve each lock with the fixes as floors (each candidate audited
    too), write every file or none, and say what moved and why."""
    from vulnsweep.audit import answers_for
    from vulnsweep.index.status import project_pages
    from vulnsweep.remediation import pins
    from vulnsweep.remediation.engine import remediate
    from vulnsweep.remediation.planner import Resolution
    from vulnsweep.remediation.releases import ReleaseFiles, read_page
    from vulnsweep.resolution.resolve import resolve_all
    from vulnsweep.url import reveal

    s = run.settings
    audited: dict[tuple[str, str], list[Vulnerability] | None] = {}

    def auditor(candidates: list[Dependency]) -> dict[tuple[str, str], list[Vulnerability] | None]:
        missing = [d for d in candidates if d.key not in audited]
        if missing:
            audited.update(answers_for(service, missing, network=run.network)[0])
        return {d.key: audited.get(d.key) for d in candidates}

    read: dict[tuple[str, str], ReleaseFiles] = {}

    def pages(names: Sequence[str], index: str | None) -> dict[str, ReleaseFiles]:
        """Each project's page, from the project's own index when it names one."""
        base = (index or reveal(s.index_url)).rstrip("/")
        wanted = [n for n in dict.fromkeys(names) if (base, n) not in read]
        if wanted:
            found, errors = run.network.run(
                lambda: project_pages(wanted, base, timeouts=s.timeouts, network=run.network)
            )
            if errors:
                raise errors[0]
            # Each file URL is made absolute and loses any credentials here.
            read.update({(base, n): read_page(page, f"{base}/{n}/") for n, page in found.items()})
        return {n: read[(base, n)] for n in names if (base, n) in read}

    def resolver(request: ResolutionRequest) -> Resolution:
        resolved = resolve_all([request], resolver_settings(run, target))
        return Resolution(
            {d.canonical_name: d.version for d in resolved.dependencies},
            resolved.wanted_by.get(request.label, {}),
            resolved.metadata.get(request.label, {}),
        )

    remedy = remediate(result, resolver, auditor, pages, write=not s.dry_run or s.diff)
    if remedy.refused:  # all or nothing: the other files are not written either
        remedy.plans = [
            replace(p, written=False, note=p.note or "not written: a file was refused")
            for p in remedy.plans
        ]
    result.plans = remedy.plans
    result.fixes = remedy.fixes
    if s.diff:
        sys.stderr.write("".join(r.diff() for r in remedy.rewrites))
    if remedy.refused:
        run.fix_error = remedy.refused[0]  # all or nothing: no file is replaced
    elif not s.dry_run:
        pins.apply(remedy.rewrites)
    verb = "Would fix" if s.dry_run or remedy.refused else "Fixed"
    for p in remedy.single:
        if p.new_version and not p.files:
            print(
                f"Cannot fix {p.dependency.canonical_name} {p.dependency.version} here: no "
                f"file --fix can rewrite pins it (it needs {p.new_version})",
                file=sys.stderr,
            )
        elif p.new_version:
            print(
                f"{verb} {p.dependency.canonical_name}: {p.dependency.version} -> "
                f"{p.new_version} in {', '.join(p.files)}",
                file=sys.stderr,
            )
        else:
            print(
                f"Cannot fix {p.dependency.canonical_name} {p.dependency.version}: {p.skip_reason}",
                file=sys.stderr,
            )
    from vulnsweep.output.fixplan import say_plans

    say_plans(remedy.plans, dry_run=s.dry_run, stream=sys.stderr)


def _owners(collected: Collected) -> Callable[[str], tuple[str, ...]] | None:
    if collected.root is None:
        return None
    from vulnsweep.policy.owners import CodeOwners

    codeowners = CodeOwners.load(collected.root)
    if codeowners is not None:
        return codeowners.owners
    stored = collected.files
    if stored is not None and stored.owners:  # a recheck whose tree is gone
        return lambda file: stored.owners.get(file, ())
    return None


def remember(
    run: Run,
    collected: Collected,
    result: AuditResult,
    service: VulnerabilityService,
    code: int,
    policies: dict[str, str] | None = None,
) -> None:
    """What a scheduled job keeps and sends once the report is written."""
    s = run.settings
    if s.recheck:
        for project in result.projects:
            fresh = sum(f.baseline_state == "new" for f in project.reported)
            if fresh:
                owners = f" ({', '.join(project.owners)})" if project.owners else ""
                print(f"newly affected: {project.path}{owners}: {fresh} new", file=sys.stderr)
    if run.store is not None and s.recheck and code == EXIT_SERVICE:
        log.warning(
            "recheck incomplete (%d dependencies not audited): nothing recorded in %s",
            len(result.unaudited),
            run.store.label,
        )
    elif run.store is not None:
        from vulnsweep import job

        records_read = getattr(service, "records_read", None)
        records = list(records_read()) if records_read is not None else []
        stored_runs: list[RunRecord | None] = list(collected.previous) if s.recheck else [None]
        for stored in stored_runs:
            root = collected.root
            run.store.record(
                inputs=stored.inputs if stored is not None else job.job_inputs(s),
                kind="recheck" if s.recheck else "audit",
                started=run.started,
                service=service.name,
                root=stored.root if stored is not None else (str(root) if root else None),
                exit_code=code,
                result=result
                if stored is None or len(stored_runs) == 1
                else _only(result, run.store, stored),
                records=records,
                policies=policies,
            )
        removed = run.store.prune(keep_runs=s.keep_runs, keep_days=s.keep_days)
        if removed:
            log.info("--state: %d old runs removed (retention)", removed)
    if s.summary:
        from vulnsweep.output.notify import write_step_summary

        write_step_summary(result)
    if s.webhook:
        from vulnsweep.output.notify import send_webhook

        send_webhook(s.webhook, result, s.timeout, run.network)


def _only(result: AuditResult, store: StateStore, stored: RunRecord) -> AuditResult:
    """The part of a recheck that covers one stored run's pins."""
    pins = list(store.pins(stored))
    keys = {dep.key for dep in pins}
    files = {o.path for dep in pins for o in dep.origins}
    names = {name for name, _ in keys}
    skipped = {(s.name, s.reason) for s in store.skipped(stored)}
    return replace(
        result,
        audited=[(d, f) for d, f in result.audited if d.key in keys],
        unaudited=[u for u in result.unaudited if u.dependency.key in keys],
        skipped=[s for s in result.skipped if (s.name, s.reason) in skipped],
        absent=[a for a in result.absent if a.name in names],
        projects=[p for p in result.projects if files.intersection(p.files)],
    )
