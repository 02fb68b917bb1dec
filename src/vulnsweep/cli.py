"""Command line: parse flags (pip-audit's, with the same meaning), wire the stages, exit.

argparse rather than typer: it parses pip-audit's optional-valued flags (`--desc`,
`--aliases`) exactly, and costs ~15 ms to import instead of ~90 ms on every warm run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vulnsweep import __version__
from vulnsweep.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SERVICE,
    EXIT_USAGE,
    EXIT_VULNERABLE,
    UsageError,
    VulnsweepError,
)
from vulnsweep.redact import redact_text

if TYPE_CHECKING:
    from vulnsweep.audit import AuditOutcome
    from vulnsweep.cache import Cache
    from vulnsweep.model import AuditResult, Dependency, Vulnerability
    from vulnsweep.policy import IgnorePolicy
    from vulnsweep.policy.config import Config
    from vulnsweep.services import VulnerabilityService

log = logging.getLogger("vulnsweep")

SERVICES = ("osv", "pypi", "offline")
TOGGLES = ("on", "off", "auto")


def _env(*names: str, default: str | None = None) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def build_parser() -> argparse.ArgumentParser:
    from vulnsweep.output import FORMATS

    parser = argparse.ArgumentParser(
        prog="vulnsweep",
        description="Audit Python dependencies for known vulnerabilities (OSV), fast. "
        "Subcommands: `vulnsweep cache info|clear`, `vulnsweep db sync|import|info`.",
        epilog="Exit codes: 0 no known vulnerabilities, 1 vulnerabilities found, "
        "2 usage or input error, 3 a vulnerability service failed.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"vulnsweep {__version__}")
    inputs = parser.add_argument_group(
        "inputs", "With no inputs at all, the current Python environment is audited."
    )
    inputs.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a project directory or pyproject.toml, a lock file (uv.lock, "
        "poetry.lock, Pipfile.lock, pdm.lock, pylock*.toml), an SBOM, "
        "a requirements file, or with -R a whole tree",
    )
    inputs.add_argument(
        "-r",
        "--requirement",
        dest="requirements",
        action="append",
        default=[],
        metavar="FILE",
        help="audit a requirements file (repeatable; '-' reads stdin)",
    )
    inputs.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="walk directory PATHs and audit every supported file",
    )
    inputs.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="with -R: skip paths matching GLOB (repeatable)",
    )
    inputs.add_argument(
        "--include-sboms",
        action="store_true",
        help="with -R: also audit CycloneDX/SPDX files found",
    )
    inputs.add_argument(
        "--sbom",
        action="append",
        default=[],
        metavar="FILE",
        help="audit a CycloneDX (JSON/XML) or SPDX (JSON) SBOM (repeatable)",
    )
    inputs.add_argument(
        "--locked",
        action="store_true",
        help="for a project PATH, audit its lock file(s) instead of pyproject.toml",
    )
    inputs.add_argument(
        "--extra",
        dest="extras",
        action="append",
        default=[],
        metavar="NAME",
        help="pyproject: audit this optional-dependencies group (with the main dependencies)",
    )
    inputs.add_argument(
        "--all-extras",
        action="store_true",
        help="pyproject: audit every optional-dependencies group",
    )
    inputs.add_argument(
        "--group",
        dest="groups",
        action="append",
        default=[],
        metavar="NAME",
        help="pyproject/lock files: audit this dependency group (with the main dependencies)",
    )
    inputs.add_argument(
        "--no-dev", action="store_true", help="lock files/pyproject: leave out development groups"
    )
    inputs.add_argument(
        "--path",
        dest="site_paths",
        action="append",
        default=[],
        metavar="DIR",
        help="audit the distributions installed in this site-packages directory (repeatable)",
    )
    inputs.add_argument(
        "--python", metavar="PYTHON", help="audit the environment of this interpreter"
    )
    inputs.add_argument(
        "-l",
        "--local",
        action="store_true",
        help="environments: leave out global site-packages of a virtualenv",
    )
    inputs.add_argument(
        "--skip-editable",
        action="store_true",
        help="leave editable requirements and installs out of the report",
    )
    inputs.add_argument(
        "--python-version",
        metavar="X.Y",
        help="evaluate environment markers for this Python version",
    )
    inputs.add_argument(
        "--platform",
        choices=("linux", "macos", "windows"),
        help="evaluate environment markers for this platform",
    )
    inputs.add_argument(
        "--require-hashes", action="store_true", help="fail when a requirement has no --hash"
    )
    inputs.add_argument(
        "--no-deps",
        action="store_true",
        help="accepted for pip-audit compatibility (pinned input has no dependency resolution)",
    )
    inputs.add_argument(
        "--disable-pip",
        action="store_true",
        help="accepted for pip-audit compatibility (pip is never run)",
    )
    service = parser.add_argument_group("vulnerability service")
    service.add_argument(
        "-s",
        "--vulnerability-service",
        choices=SERVICES,
        default=_env("PIP_AUDIT_VULNERABILITY_SERVICE", default="osv"),
        type=str.lower,
        help="osv (default), pypi (PyPI's JSON API) or offline (the local database)",
    )
    service.add_argument(
        "--osv-url",
        metavar="URL",
        default=_env("VULNSWEEP_OSV_URL", "PIP_AUDIT_OSV_URL", default="https://api.osv.dev"),
        help="OSV API base URL (pip-audit's .../v1/query form accepted)",
    )
    service.add_argument(
        "--offline",
        action="store_true",
        help="audit against the local advisory database, with no network (= -s offline)",
    )
    service.add_argument(
        "--max-db-age",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="warn when the offline database is older than this (default 7)",
    )
    service.add_argument(
        "--pypi-url",
        metavar="URL",
        default=_env("VULNSWEEP_PYPI_URL", default="https://pypi.org"),
        help="PyPI base URL for -s pypi (default https://pypi.org)",
    )
    service.add_argument(
        "--check-status",
        action="store_true",
        help="also report archived/quarantined/deprecated projects (PEP 792) and yanked "
        "releases, from the index's JSON API (one request per project)",
    )
    service.add_argument(
        "--index-url",
        metavar="URL",
        default=_env("VULNSWEEP_INDEX_URL", "PIP_INDEX_URL", default="https://pypi.org/simple"),
        help="simple index for --check-status (default https://pypi.org/simple)",
    )
    service.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="socket timeout per request (default 15; querybatch allows 60)",
    )
    service.add_argument(
        "--deadline",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="give up on what is still unanswered after this long (default 1800); what "
        "was audited is still reported, and the run exits 3",
    )
    service.add_argument(
        "--cert",
        metavar="FILE",
        default=_env("VULNSWEEP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"),
        help="verify TLS against this CA bundle instead of the system's (verification itself "
        "cannot be turned off)",
    )
    service.add_argument(
        "--concurrency",
        type=int,
        default=64,
        metavar="N",
        help="advisory requests in flight at once (default 64)",
    )
    service.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None,
        help="cache directory (default: the user cache dir, or $VULNSWEEP_CACHE_DIR)",
    )
    service.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    service.add_argument(
        "--cache-ttl",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="how long a query answer stays fresh (default 3600)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        type=str.lower,
        default=_env("VULNSWEEP_FORMAT", "PIP_AUDIT_FORMAT", default="columns"),
    )
    output.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=_env("VULNSWEEP_OUTPUT", "PIP_AUDIT_OUTPUT"),
        help="write the report to FILE (atomically) instead of stdout",
    )
    output.add_argument(
        "--desc",
        choices=TOGGLES,
        nargs="?",
        const="on",
        default=_env("PIP_AUDIT_DESC", default="auto"),
        help="include descriptions (auto: on for json)",
    )
    output.add_argument(
        "--aliases",
        choices=TOGGLES,
        nargs="?",
        const="on",
        default="auto",
        help="include aliases (auto: on for json)",
    )
    output.add_argument(
        "--cyclonedx-version",
        choices=("1.4", "1.5", "1.6"),
        default="1.6",
        help="CycloneDX schema version for the cyclonedx-* formats (default 1.6)",
    )
    output.add_argument(
        "--progress-spinner",
        choices=("on", "off"),
        default=_env("PIP_AUDIT_PROGRESS_SPINNER", default="on"),
    )
    policy = parser.add_argument_group("policy")
    policy.add_argument(
        "--ignore-vuln",
        action="append",
        default=[],
        metavar="ID",
        help="ignore an advisory by id or any alias (repeatable)",
    )
    policy.add_argument(
        "--config",
        metavar="FILE",
        help="policy and option defaults: a vulnsweep.toml, or a pyproject.toml with "
        "[tool.vulnsweep] (default: the nearest one, searching upwards)",
    )
    policy.add_argument(
        "--min-severity",
        choices=("low", "medium", "high", "critical"),
        type=str.lower,
        help="only findings at or above this severity fail the run (all are reported)",
    )
    policy.add_argument(
        "--ignore-unknown-severity",
        action="store_true",
        help="with --min-severity: findings without a severity do not fail the run",
    )
    policy.add_argument(
        "--only-fixable",
        action="store_true",
        help="findings with no fix version are reported but do not fail the run",
    )
    policy.add_argument(
        "-S", "--strict", action="store_true", help="fail if any dependency cannot be audited"
    )
    fixing = parser.add_argument_group("fixing")
    fixing.add_argument(
        "--fix",
        action="store_true",
        help="rewrite requirements files and pyproject.toml pins to the smallest version "
        "that fixes every known advisory (with --dry-run: only show what would change)",
    )
    fixing.add_argument(
        "--diff", action="store_true", help="with --fix: print the changes as a unified diff"
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "-d",
        "--dry-run",
        action="store_true",
        help="collect dependencies, report how many would be audited, stop",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output on stderr (-vv for debug)",
    )
    return parser


def build_db_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vulnsweep db",
        description="Manage the offline advisory database used by --offline.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sync = sub.add_parser("sync", help="download OSV's PyPI export, or only what changed")
    sync.add_argument(
        "--db-url",
        metavar="URL",
        default=None,
        help="base URL of the export (default: OSV's public PyPI bucket)",
    )
    importer = sub.add_parser(
        "import",
        help="build the database from an all.zip-style "
        "archive or a directory of OSV JSON/YAML files",
    )
    importer.add_argument("source", metavar="PATH")
    sub.add_parser("info", help="source, record and package counts, last update")
    for command in (sync, importer, sub.choices["info"]):
        command.add_argument("--cache-dir", metavar="DIR", default=None)
    return parser


def build_cache_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vulnsweep cache", description="Inspect or clear the on-disk cache."
    )
    parser.add_argument("action", choices=("info", "clear"))
    parser.add_argument("--cache-dir", metavar="DIR", default=None)
    return parser


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def _configure_logging(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("vulnsweep: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(
        logging.DEBUG if verbosity > 1 else logging.INFO if verbosity else logging.WARNING
    )


def _cache_dir(arg: str | None) -> Path:
    from vulnsweep.cache import default_cache_dir

    return Path(arg) if arg else default_cache_dir()


def _cache_command(argv: Sequence[str]) -> int:
    from vulnsweep.cache import Cache

    args = build_cache_parser().parse_args(argv)
    _configure_logging(0)
    cache = Cache(_cache_dir(args.cache_dir))
    if args.action == "clear":
        cache.clear()
        print(f"cleared {cache.path}")
        return EXIT_OK
    info = cache.info()
    print(f"path:    {info.path}")
    print(f"queries: {info.queries}")
    print(f"records: {info.records}")
    print(f"size:    {info.size_bytes} bytes")
    return EXIT_OK


def _db_command(argv: Sequence[str]) -> int:
    from vulnsweep.cache import advisorydb

    args = build_db_parser().parse_args(argv)
    _configure_logging(0)
    path = advisorydb.db_path(_cache_dir(args.cache_dir))
    if args.action == "import":
        source = Path(args.source)
        if source.is_dir():
            records = advisorydb.records_from_directory(source)
        elif source.is_file():
            records = advisorydb.records_from_archive(source)
        else:
            raise UsageError(f"{source}: no such file or directory")
        info = advisorydb.build(path, records, source=str(source.resolve()))
        print(f"imported {info.records} advisories for {info.packages} packages into {path}")
        return EXIT_OK
    if args.action == "sync":
        from vulnsweep.audit import run_async
        from vulnsweep.services.dbsync import DEFAULT_DB_URL, sync

        url = args.db_url or os.environ.get("VULNSWEEP_DB_URL") or DEFAULT_DB_URL
        kind, count = run_async(lambda: sync(path, url))
        print(f"{kind} sync: {count} advisories written to {path}")
        return EXIT_OK
    info = advisorydb.info(path)
    updated = (
        "never"
        if info.updated is None
        else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(info.updated))
    )
    print(f"path:     {info.path}")
    print(f"source:   {redact_text(info.source)}")
    print(f"records:  {info.records}")
    print(f"packages: {info.packages}")
    print(f"updated:  {updated}")
    return EXIT_OK


def _build_service(args: argparse.Namespace, cache: Cache) -> VulnerabilityService:
    name = "offline" if args.offline else args.vulnerability_service
    if name == "offline":
        from vulnsweep.cache import advisorydb
        from vulnsweep.services.offline import OfflineService

        return OfflineService(
            advisorydb.db_path(_cache_dir(args.cache_dir)), max_age_days=args.max_db_age
        )
    from vulnsweep.services.http import Timeouts

    timeout = args.timeout
    timeouts = Timeouts(connect=min(10.0, timeout or 10.0), read=timeout or 15.0)
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
    )


def _parse_with_config(argv: Sequence[str]) -> tuple[argparse.Namespace, Config]:
    """Options from the config file become defaults: the command line still wins."""
    from vulnsweep.errors import InputError
    from vulnsweep.policy.config import find_config, load_config

    parser = build_parser()
    early, _ = parser.parse_known_args(argv)
    path = Path(early.config) if early.config else find_config(Path.cwd())
    if early.config and not Path(early.config).is_file():
        raise UsageError(f"--config {early.config}: no such file")
    config = load_config(path)
    actions = {a.dest: a for a in parser._actions}
    defaults: dict[str, object] = {}
    for key, value in config.options.items():
        action = actions.get(key)
        if action is None or key in ("paths", "help", "version", "config"):
            raise InputError(str(path), f"unknown option {key.replace('_', '-')!r}")
        if action.choices is not None:
            values = value if isinstance(value, list) else [value]
            for item in values:
                if str(item).lower() not in action.choices:
                    raise InputError(
                        str(path),
                        f"{key.replace('_', '-')} = {item!r}: choose "
                        f"from {', '.join(map(str, action.choices))}",
                    )
            value = str(value).lower() if not isinstance(value, list) else value
        defaults[key] = value
    parser.set_defaults(**defaults)
    return parser.parse_args(argv), config


def _audit_command(argv: Sequence[str]) -> int:
    args, config = _parse_with_config(argv)
    parser = build_parser()
    _configure_logging(args.verbose)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    from vulnsweep.audit import audit, collect
    from vulnsweep.sources.select import InputOptions, build_sources

    sources = build_sources(
        InputOptions(
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
        )
    )
    dependencies, skipped = collect(source.collect() for source in sources)
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
        return EXIT_OK

    from vulnsweep.cache import Cache
    from vulnsweep.output import OutputOptions, open_output, resolve_toggle, writer_for
    from vulnsweep.policy import IgnorePolicy

    if args.cert:
        from vulnsweep.services import http

        http.use_ca_bundle(args.cert)
    cache = Cache(None if args.no_cache else _cache_dir(args.cache_dir), ttl=args.cache_ttl)
    service = _build_service(args, cache)
    from vulnsweep.policy import Gate

    policy = IgnorePolicy(
        args.ignore_vuln,
        rules=config.rules,
        until_fixed=config.until_fixed,
        packages=config.packages,
        gate=Gate(
            min_severity=args.min_severity.upper() if args.min_severity else None,
            ignore_unknown_severity=args.ignore_unknown_severity,
            only_fixable=args.only_fixable,
        ),
    )
    progress = None
    if args.progress_spinner == "on" and sys.stderr.isatty():
        from vulnsweep.output.progress import TerminalProgress

        progress = TerminalProgress()
    options = OutputOptions(
        desc=resolve_toggle(args.desc, args.format),
        aliases=resolve_toggle(args.aliases, args.format),
        cyclonedx_version=args.cyclonedx_version,
        hyperlinks=args.output is None and sys.stdout.isatty() and not os.environ.get("CI"),
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
            outcome = audit(dependencies, skipped, service, policy, progress, on_findings)
            if args.check_status:
                from vulnsweep.audit import run_async
                from vulnsweep.services.status import check

                audited = [dep for dep, _ in outcome.result.audited]
                statuses, errors = run_async(
                    lambda: check(audited, args.index_url, concurrency=min(args.concurrency, 32))
                )
                outcome.result.statuses = statuses
                outcome.errors += errors
        finally:
            if progress is not None:
                progress.close()
            cache.close()
        if args.fix:
            _fix(args, outcome.result, service)
        writer.write(outcome.result, stream)
    return _summarize(outcome, policy, args.strict)


def _fix(args: argparse.Namespace, result: AuditResult, service: VulnerabilityService) -> None:
    from vulnsweep import fix
    from vulnsweep.audit import run_async
    from vulnsweep.model import FixResult
    from vulnsweep.services import NullProgress
    from vulnsweep.services.status import release_hashes

    def auditor(candidates: list[Dependency]) -> dict[tuple[str, str], list[Vulnerability] | None]:
        found: dict[tuple[str, str], list[Vulnerability] | None] = {}
        answers, misses = service.answer_from_cache(candidates)
        found.update(answers)
        if misses:
            answer = run_async(lambda: service.query(misses, NullProgress()))
            service.persist()
            found.update(answer.vulnerabilities)
        return found

    plans = fix.plan(result, auditor)
    rewrites = fix.rewrite_files(
        plans, lambda pairs: run_async(lambda: release_hashes(pairs, args.index_url))
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


def _summarize(outcome: AuditOutcome, policy: IgnorePolicy, strict: bool) -> int:
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
    else:
        print(f"No known vulnerabilities found{note}", file=sys.stderr)
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
            return _cache_command(argv[1:])
        if argv and argv[0] == "db":
            return _db_command(argv[1:])
        return _audit_command(argv)
    except VulnsweepError as exc:
        print(f"vulnsweep: error: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("vulnsweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
