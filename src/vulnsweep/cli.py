"""Command line: parse options, wire the stages (sources -> audit -> policy -> output),
and turn the outcome into an exit code. Options live in options.py, maintenance
subcommands in commands.py."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from vulnsweep.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_USAGE,
    EXIT_VULNERABLE,
    UsageError,
    VulnsweepError,
)
from vulnsweep.logs import cache_dir, configure_logging
from vulnsweep.redact import redact_text

if TYPE_CHECKING:
    from pathlib import Path

    from vulnsweep.audit import AuditOutcome
    from vulnsweep.cache import Cache
    from vulnsweep.history.store import RunRecord, StateStore
    from vulnsweep.model import (
        AuditResult,
        Dependency,
        ResolutionRequest,
        SkippedDependency,
        Vulnerability,
    )
    from vulnsweep.policy import FindingPolicy
    from vulnsweep.policy.config import Config
    from vulnsweep.services import VulnerabilityService
    from vulnsweep.services.http import Timeouts

log = logging.getLogger("vulnsweep")


def _build_service(args: argparse.Namespace, cache: Cache) -> VulnerabilityService:
    name = "offline" if args.offline else args.vulnerability_service
    if name == "offline":
        from vulnsweep.cache import advisorydb
        from vulnsweep.services.offline import OfflineService

        return OfflineService(
            advisorydb.db_path(cache_dir(args.cache_dir)), max_age_days=args.max_db_age
        )
    timeout = args.timeout
    timeouts = _timeouts(args)
    if name == "pypi":
        from vulnsweep.services.pypi import PypiService

        return PypiService(
            args.pypi_url,
            cache,
            concurrency=args.concurrency,
            timeouts=timeouts,
            deadline=args.deadline,
        )
    from vulnsweep.services.osv import BATCH_READ_TIMEOUT, OsvService

    return OsvService(
        args.osv_url,
        cache,
        concurrency=args.concurrency,
        timeouts=timeouts,
        batch_read_timeout=timeout if timeout is not None else BATCH_READ_TIMEOUT,
        deadline=args.deadline,
        hydrate=args.hydrate,
    )


def _timeouts(args: argparse.Namespace) -> Timeouts:
    from vulnsweep.services.http import Timeouts

    return Timeouts(connect=min(10.0, args.timeout or 10.0), read=args.timeout or 15.0)


def _audit_command(argv: Sequence[str], recheck: bool = False) -> int:
    from vulnsweep.options import build_parser, parse_with_config

    started = dt.datetime.now(dt.timezone.utc)
    args, config = parse_with_config(argv)
    parser = build_parser()
    configure_logging(args.verbose)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.no_deps and args.resolve_pins:
        parser.error("--resolve-pins resolves dependencies, --no-deps forbids it: pick one")
    from vulnsweep.history import job

    store = None
    if args.state:
        from vulnsweep.history.store import StateStore

        store = StateStore(args.state)
    try:
        if recheck:
            return _recheck(args, argv, config, store, started)
        previous = job.previous_runs(store, args)
        return _audit(args, argv, config, store, previous, started)
    finally:
        if store is not None:
            store.close()


def _recheck(
    args: argparse.Namespace,
    argv: Sequence[str],
    config: Config,
    store: StateStore | None,
    started: dt.datetime,
) -> int:
    """Re-audit the latest stored run of every input set, files unread."""
    if store is None:
        raise UsageError("recheck needs --state PATH (the run history to re-audit)")
    if args.paths or args.requirements or args.sbom or args.site_paths:
        raise UsageError("recheck re-audits the runs stored in --state; it takes no inputs")
    latest = store.latest()
    if not latest:
        raise UsageError(f"--state {args.state}: no run recorded yet; nothing to recheck")
    return _audit(args, argv, config, store, latest, started, recheck=True)


def _audit(
    args: argparse.Namespace,
    argv: Sequence[str],
    config: Config,
    store: StateStore | None,
    previous: list[RunRecord],
    started: dt.datetime,
    recheck: bool = False,
) -> int:
    from pathlib import Path

    from vulnsweep.audit import audit, collect
    from vulnsweep.history import job
    from vulnsweep.sources.select import InputOptions, build_sources

    inputs = InputOptions(
        requirements=args.requirements,
        paths=args.paths,
        sboms=args.sbom,
        site_paths=args.site_paths,
        python=args.python,
        local_only=args.local,
        recursive=args.recursive,
        excludes=args.exclude,
        include_sboms=args.include_sboms,
        locked=args.locked,
        extras=args.extras,
        groups=args.groups,
        all_extras=args.all_extras,
        no_dev=args.no_dev,
        skip_editable=args.skip_editable,
        require_hashes=args.require_hashes,
        python_version=args.python_version,
        platform=args.platform,
        marker_file=args.marker_environment,
        resolve=not args.no_deps,
        resolve_pins=args.resolve_pins,
    )
    baseline = job.baseline_for(args, store, previous)  # a bad one fails before any work
    requests: list[ResolutionRequest] = []
    root = job.walk_root(args)
    from vulnsweep.history.store import FileFacts

    stored = FileFacts()
    if recheck:
        assert store is not None
        dependencies, skipped = collect(store.pins(run, stored) for run in previous)
        roots = [Path(r.root) for r in previous if r.root]
        root = Path(os.path.commonpath(roots)) if roots else None
    else:
        sources = build_sources(inputs)
        dependencies, skipped = collect((source.collect() for source in sources), requests)
    if args.cert:
        from vulnsweep.services import http

        http.use_ca_bundle(args.cert)
    from vulnsweep.cache import Cache

    cache = Cache(None if args.no_cache else cache_dir(args.cache_dir), ttl=args.cache_ttl)
    if requests and not args.dry_run and (args.offline or args.vulnerability_service == "offline"):
        from vulnsweep.cache import advisorydb

        # Before resolving (which can take a while), not after: no database, no audit.
        advisorydb.connect(advisorydb.db_path(cache_dir(args.cache_dir))).close()
    if requests:
        dependencies, skipped = _resolve(
            args, inputs.marker_environment, requests, cache, dependencies, skipped
        )
    if args.skip_editable:
        skipped = [s for s in skipped if "editable" not in s.reason]
    if args.strict and skipped:
        first = skipped[0]
        where = f" ({first.origins[0]})" if first.origins else ""
        raise UsageError(
            f"--strict: {len(skipped)} dependencies cannot be audited; first: "
            f"{first.name}{where}: {first.reason}"
        )
    if args.dry_run and not args.fix:
        print(
            f"Dry run: would audit {len(dependencies)} packages ({len(skipped)} skipped)",
            file=sys.stderr,
        )
        cache.close()
        return EXIT_OK

    from vulnsweep.output import OutputOptions, open_output, resolve_toggle, writer_for

    service = _build_service(args, cache)
    if recheck and store is not None and hasattr(service, "preload"):
        service.preload(store.records())
    today = started.date()
    policy = job.run_policy(args, argv, config, root, baseline, today, stored.projects)
    owners: Callable[[str], tuple[str, ...]] | None = None
    if root is not None:
        from vulnsweep.policy.owners import CodeOwners

        codeowners = CodeOwners.load(root)
        if codeowners is not None:
            owners = codeowners.owners
        elif stored.owners:  # a recheck whose tree is gone: owners as last recorded
            owners = lambda file: stored.owners.get(file, ())  # noqa: E731
    progress = None
    if args.progress_spinner == "on" and sys.stderr.isatty():
        from vulnsweep.output.progress import TerminalProgress

        progress = TerminalProgress()
    options = OutputOptions(
        desc=resolve_toggle(args.desc, args.format),
        aliases=resolve_toggle(args.aliases, args.format),
        cyclonedx_version=args.cyclonedx_version,
        hyperlinks=args.output is None and sys.stdout.isatty() and not os.environ.get("CI"),
        group_by=args.group_by,
    )
    writer = writer_for(args.format, options)
    # The report is open from the start so a streaming format (ndjson) can write each
    # finding as it is known; a file still only replaces the old one when complete.
    with open_output(args.output) as stream:
        stream_findings = getattr(writer, "findings", None)
        on_findings = (
            (lambda dep, findings: stream_findings(stream, findings))
            if stream_findings is not None
            else None
        )
        try:
            outcome = audit(
                dependencies, skipped, service, policy, progress, on_findings, fresh=recheck
            )
            if args.check_status:
                from vulnsweep.audit import run_async
                from vulnsweep.services.status import check

                audited = [dep for dep, _ in outcome.result.audited]
                statuses, errors = run_async(
                    lambda: check(
                        audited,
                        args.index_url,
                        concurrency=min(args.concurrency, 32),
                        timeouts=_timeouts(args),
                    )
                )
                outcome.result.statuses = statuses
                outcome.errors += errors
        finally:
            if progress is not None:
                progress.close()
            cache.close()
        if args.fix:
            _fix(args, outcome.result, service)
        policy.finish(outcome.result, owners)
        outcome.result.generated_at = _stamp(dt.datetime.now(dt.timezone.utc))
        writer.write(outcome.result, stream)
    code = _summarize(outcome, policy, args.strict)
    _after_run(args, store, previous, outcome.result, service, root, started, code, recheck)
    return code


def _after_run(
    args: argparse.Namespace,
    store: StateStore | None,
    previous: list[RunRecord],
    result: AuditResult,
    service: VulnerabilityService,
    root: Path | None,
    started: dt.datetime,
    code: int,
    recheck: bool,
) -> None:
    """What a scheduled job keeps and sends once the report is written."""
    if recheck:
        newly = [p for p in result.projects if any(f.baseline_state == "new" for f in p.reported)]
        for project in newly:
            fresh = sum(f.baseline_state == "new" for f in project.reported)
            owners = f" ({', '.join(project.owners)})" if project.owners else ""
            print(f"newly affected: {project.path}{owners}: {fresh} new", file=sys.stderr)
    if store is not None:
        from vulnsweep.history import job

        records_read = getattr(service, "records_read", None)
        records = list(records_read()) if records_read is not None else []
        runs = previous if recheck else [None]
        for run in runs:
            store.record(
                inputs=run.inputs if run is not None else job.job_inputs(args),
                kind="recheck" if recheck else "audit",
                started=started,
                service=service.name,
                root=(run.root if run is not None else (str(root) if root else None)),
                exit_code=code,
                result=result if run is None or len(runs) == 1 else _only(result, store, run),
                records=records,
            )
    if args.summary:
        from vulnsweep.output.notify import write_step_summary

        write_step_summary(result)
    if args.webhook:
        from vulnsweep.output.notify import send_webhook

        send_webhook(args.webhook, result, args.timeout)


def _only(result: AuditResult, store: StateStore, run: RunRecord) -> AuditResult:
    """The part of a recheck that covers one stored run's pins."""
    import dataclasses

    keys = {dep.key for dep in store.pins(run)}
    return dataclasses.replace(
        result,
        audited=[(d, f) for d, f in result.audited if d.key in keys],
        unaudited=[u for u in result.unaudited if u.dependency.key in keys],
        absent=[a for a in result.absent if any(k[0] == a.name for k in keys)],
        projects=[],
    )


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _resolve(
    args: argparse.Namespace,
    markers: dict[str, str] | None,
    requests: list[ResolutionRequest],
    cache: Cache,
    dependencies: list[Dependency],
    skipped: list[SkippedDependency],
) -> tuple[list[Dependency], list[SkippedDependency]]:
    """Unpinned requirement sets -> the releases pip would install, merged with the
    pins that needed no resolving."""
    from vulnsweep.resolution.target import TargetEnvironment
    from vulnsweep.sources import deduplicate
    from vulnsweep.sources.select import platform_of

    target = TargetEnvironment(markers, args.platform or platform_of(markers))
    if args.resolver == "uv":
        from vulnsweep.resolution.uv import resolve_with_uv

        resolved = resolve_with_uv(requests, args.index_url, args.extra_index_url, target, args.pre)
    else:
        from vulnsweep.resolution import ResolverSettings, resolve_all

        resolved = resolve_all(
            requests,
            ResolverSettings(
                cache=cache,
                index_url=args.index_url,
                extra_index_urls=args.extra_index_url,
                target=target,
                pre=args.pre,
                concurrency=min(args.concurrency, 64),
                timeouts=_timeouts(args),
                deadline=args.deadline,
            ),
        )
    log.info(
        "resolved %d requirement sets to %d releases",
        len(requests),
        len(resolved.dependencies),
    )
    return deduplicate([*dependencies, *resolved.dependencies, *skipped, *resolved.skipped])


def _fix(args: argparse.Namespace, result: AuditResult, service: VulnerabilityService) -> None:
    from vulnsweep import fix
    from vulnsweep.audit import answers_for, run_async
    from vulnsweep.model import FixResult
    from vulnsweep.services.status import release_hashes

    def auditor(candidates: list[Dependency]) -> dict[tuple[str, str], list[Vulnerability] | None]:
        return dict(answers_for(service, candidates)[0])

    plans = fix.plan(result, auditor)
    rewrites = fix.rewrite_files(
        plans,
        lambda pairs: run_async(
            lambda: release_hashes(pairs, args.index_url, timeouts=_timeouts(args))
        ),
    )
    result.fixes = [
        FixResult(p.dependency.canonical_name, p.dependency.version, p.new_version, p.skip_reason)
        for p in plans
    ]
    if args.diff:
        sys.stderr.write("".join(r.diff() for r in rewrites))
    verb = "Would fix" if args.dry_run else "Fixed"
    if not args.dry_run:
        fix.apply(rewrites)
    for p in plans:
        if p.new_version:
            print(
                f"{verb} {p.dependency.canonical_name}: {p.dependency.version} -> "
                f"{p.new_version} in {', '.join(p.files) or 'no rewritable file'}",
                file=sys.stderr,
            )
        else:
            print(
                f"Cannot fix {p.dependency.canonical_name} {p.dependency.version}: {p.skip_reason}",
                file=sys.stderr,
            )


def _summarize(outcome: AuditOutcome, policy: FindingPolicy, strict: bool) -> int:
    result = outcome.result
    reported = result.reported
    ignored = len(result.findings) - len(reported)
    passing = len(reported) - len(result.failing)
    packages = len({f.dependency.key for f in reported})
    notes = [f"{ignored} ignored"] if ignored else []
    if passing:
        notes.append(f"{passing} not failing the run")
    note = f" ({', '.join(notes)})" if notes else ""
    if reported:
        print(
            f"Found {_plural(len(reported), 'known vulnerability', 'known vulnerabilities')}"
            f"{note} in {_plural(packages, 'package')}",
            file=sys.stderr,
        )
    elif not result.unaudited:
        print(f"No known vulnerabilities found{note}", file=sys.stderr)
    elif result.audited:
        # Never let "no vulnerabilities" stand for dependencies nobody looked at.
        print(
            f"No known vulnerabilities found in the {len(result.audited)} dependencies that "
            f"could be audited{note}",
            file=sys.stderr,
        )
    if result.baseline_date is not None:
        states = [f.baseline_state for f in reported]
        print(
            f"{states.count('new')} new, {states.count('unchanged')} unchanged, "
            f"{len(result.absent)} fixed since {result.baseline_date}",
            file=sys.stderr,
        )
    if result.projects:
        failing = [p.path for p in result.projects if p.fails]
        listed = f": {', '.join(failing[:10])}" + (" ..." if len(failing) > 10 else "")
        print(
            f"{len(failing)} of {_plural(len(result.projects), 'project')} fail"
            f"{listed if failing else ''}",
            file=sys.stderr,
        )
    for message in policy.messages():
        log.warning("%s", message)
    for dep, status in result.adverse:
        print(f"warning: {dep.canonical_name} {dep.version}: {status.describe()}", file=sys.stderr)
    if result.skipped:
        print(
            f"Skipped {_plural(len(result.skipped), 'dependency', 'dependencies')} "
            "that could not be audited (see the report)",
            file=sys.stderr,
        )
    if outcome.errors:
        first = outcome.errors[0]
        print(
            f"vulnsweep: error: {first}; {len(result.unaudited)} of "
            f"{len(result.unaudited) + len(result.audited)} dependencies could not be "
            "audited",
            file=sys.stderr,
        )
        return EXIT_SERVICE
    if result.unaudited:
        return EXIT_SERVICE
    if strict and result.skipped:
        return EXIT_USAGE
    if strict and result.adverse:
        return EXIT_VULNERABLE
    return EXIT_VULNERABLE if result.failing else EXIT_OK


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "cache":
            from vulnsweep.commands import cache_command

            return cache_command(argv[1:])
        if argv and argv[0] == "db":
            from vulnsweep.commands import db_command

            return db_command(argv[1:])
        if argv and argv[0] == "history":
            from vulnsweep.commands import history_command

            return history_command(argv[1:])
        if argv and argv[0] == "recheck":
            return _audit_command(argv[1:], recheck=True)
        return _audit_command(argv)
    except VulnsweepError as exc:
        from vulnsweep.output.columns import printable

        print(f"vulnsweep: error: {printable(redact_text(str(exc)))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vulnsweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
