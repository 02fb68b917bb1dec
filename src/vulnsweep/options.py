"""Every command-line option, its pip-audit meaning and environment variable, and how a
policy file supplies defaults (the command line wins).

argparse rather than typer: it parses pip-audit's optional-valued flags (`--desc`,
`--aliases`) exactly, and costs ~15 ms to import instead of ~90 ms on every warm run.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from vulnsweep import __version__
from vulnsweep.errors import UsageError
from vulnsweep.redact import cut
from vulnsweep.resolution import MAX_ROUNDS

if TYPE_CHECKING:
    from vulnsweep.policy.config import Config
    from vulnsweep.url import Url

SERVICES = ("osv", "pypi", "offline")
TOGGLES = ("on", "off", "auto")


def _env(*names: str, default: str | None = None) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


RECHECK_DESCRIPTION = (
    "Re-audit the latest run of every input set stored in --state, without reading "
    "their files: every pin is asked again and only advisories whose `modified` stamp "
    "moved are fetched. It takes no inputs; the audit's output, policy and job options "
    "apply. A recheck that cannot complete (exit 3) records nothing."
)


def _env_number(name: str, kind: type[int] | type[float]) -> int | float | None:
    """An environment variable holding a number (a whole one for `int`), or None."""
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        whole = "whole " if kind is int else ""
        raise UsageError(f"{name}={cut(value)!r}: not a {whole}number") from None


def build_parser(*, recheck: bool = False) -> argparse.ArgumentParser:
    from vulnsweep.output import FORMATS

    parser = _Parser(
        prog="vulnsweep recheck" if recheck else "vulnsweep",
        description=RECHECK_DESCRIPTION
        if recheck
        else "Audit Python dependencies for known vulnerabilities (OSV), fast. "
        "Subcommands: `vulnsweep cache info|clear`, `vulnsweep db sync|import|info`, "
        "`vulnsweep recheck --state PATH`, `vulnsweep history --state PATH`, "
        "`vulnsweep state check|vacuum --state PATH`.",
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
        "--shard",
        type=_shard,
        metavar="K/N",
        help="with -R: audit only the projects of shard K of N (a stable hash of each "
        "project's path; N jobs with K = 1..N cover every project once)",
    )
    inputs.add_argument(
        "--include-sboms",
        action="store_true",
        help="with -R: also audit CycloneDX/SPDX files found",
    )
    inputs.add_argument(
        "--follow-links",
        action="store_true",
        help="with -R: follow symlinks that point out of the tree (by default each is "
        "named once and not followed)",
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
        metavar="X.Y[.Z]",
        help="evaluate environment markers and Requires-Python for this Python version "
        "(X.Y means X.Y.0, as in pip)",
    )
    inputs.add_argument(
        "--platform",
        choices=("linux", "macos", "windows"),
        help="evaluate environment markers for this platform",
    )
    inputs.add_argument(
        "--marker-environment",
        metavar="FILE",
        help="a JSON object of PEP 508 marker values describing the target environment "
        "(e.g. packaging.markers.default_environment() saved on the production host)",
    )
    inputs.add_argument(
        "--require-hashes", action="store_true", help="fail when a requirement has no --hash"
    )
    inputs.add_argument(
        "--no-deps",
        action="store_true",
        help="do not resolve unpinned requirements: audit exact pins only, skip the rest",
    )
    inputs.add_argument(
        "--disable-pip",
        action="store_true",
        help="accepted for pip-audit compatibility (pip is never run)",
    )
    resolution = parser.add_argument_group("resolving unpinned requirements")
    resolution.add_argument(
        "--resolver",
        choices=("builtin", "uv"),
        default="builtin",
        help="builtin (default: resolvelib over index metadata, no code runs) or uv "
        "(delegates to `uv pip compile`, needs uv on PATH)",
    )
    resolution.add_argument(
        "--extra-index-url",
        action="append",
        metavar="URL",
        default=(os.environ.get("PIP_EXTRA_INDEX_URL") or "").split() or [],
        help="another index to resolve from (repeatable; default from PIP_EXTRA_INDEX_URL); "
        "credentials are never printed",
    )
    resolution.add_argument(
        "--resolve-pins",
        action="store_true",
        help="resolve fully pinned requirement files and projects too, so the dependencies "
        "their pins pull in are audited (what pip-audit does without --no-deps)",
    )
    resolution.add_argument(
        "--pre",
        action="store_true",
        help="let the resolver pick pre-releases (as pip --pre)",
    )
    resolution.add_argument(
        "--max-rounds",
        type=int,
        default=MAX_ROUNDS,
        metavar="N",
        help="resolver rounds per requirement set before it is given up as not resolved "
        "(default 20000; pip's 200000 can mean an hour and gigabytes on a set like "
        "apache-airflow[all]); a set given up on is named and the run exits 3",
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
        "--hydrate",
        choices=("auto", "ids", "packages"),
        default=_env("VULNSWEEP_HYDRATE", default="auto"),
        help="how OSV advisories are fetched after querybatch (env VULNSWEEP_HYDRATE): auto "
        "(default: a pin whose 2+ advisories are all still to fetch gets them from one "
        "/v1/query, the rest come once each from /v1/vulns/{id}: each record arrives "
        "once), ids (always by id) or packages (also pins sharing a record: fewer round "
        "trips, some records transferred twice)",
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
        help="package index for resolution and --check-status (default "
        "https://pypi.org/simple); credentials in it, in ~/.netrc or from keyring are used "
        "and never printed",
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
        default=256,
        metavar="N",
        help="advisory requests in flight at once, at most (default 256); fewer while the "
        "service answers 429, 503 or times out",
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
        "--report",
        action="append",
        default=[],
        metavar="FORMAT:FILE",
        help="also write the same run's report in FORMAT to FILE (atomically); "
        "repeatable, e.g. --report sarif:results.sarif --report html:report.html",
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
        "--kev",
        metavar="FILE",
        default=_env("VULNSWEEP_KEV"),
        help="CISA's KEV catalogue (JSON) to flag known exploited findings (default: the "
        "copy `vulnsweep db sync` keeps)",
    )
    policy.add_argument(
        "--epss",
        metavar="FILE",
        default=_env("VULNSWEEP_EPSS"),
        help="FIRST's EPSS daily scores (csv or csv.gz) (default: the copy `vulnsweep db "
        "sync` keeps)",
    )
    policy.add_argument(
        "--vex",
        action="append",
        default=[],
        metavar="FILE",
        help="an OpenVEX 0.2 or CycloneDX 1.5/1.6 VEX document (repeatable): `not_affected` "
        "statements suppress the stated findings (listed as suppressed), others annotate",
    )
    policy.add_argument(
        "--min-epss",
        type=float,
        metavar="PROBABILITY",
        help="only findings whose EPSS probability (0 to 1, the chance of exploitation in "
        "the next 30 days) is at least this fail the run",
    )
    policy.add_argument(
        "--unknown-risk",
        choices=("fail", "pass"),
        default="fail",
        help="a finding --fail-on kev or --min-epss cannot judge (no CVE, no score): "
        "fails the run (default, fail closed) or passes",
    )
    policy.add_argument(
        "--sort",
        choices=("input", "risk"),
        default="input",
        help="order of findings in reports: as the inputs list them (default), or by risk "
        "(malicious, known exploited, EPSS, severity)",
    )
    policy.add_argument(
        "-S", "--strict", action="store_true", help="fail if any dependency cannot be audited"
    )
    jobs = parser.add_argument_group(
        "scheduled jobs", "Compare with an earlier run, split a monorepo into projects."
    )
    jobs.add_argument(
        "--baseline",
        metavar="FILE",
        help="an earlier vulnsweep report (json, ndjson or sarif): mark each finding new "
        "or unchanged, and list what was fixed since",
    )
    jobs.add_argument(
        "--fail-on",
        choices=("new", "any", "kev"),
        default="any",
        help="fail on any finding (default), only on new ones (with a baseline), or only "
        "on those in CISA's Known Exploited Vulnerabilities catalogue (needs --kev or "
        "`db sync`)",
    )
    jobs.add_argument(
        "--state",
        metavar="PATH|URL",
        default=_env("VULNSWEEP_STATE"),
        help="run history (an SQLite file, created if missing, or a postgresql:// URL a "
        "fleet shares): record this run; the previous run of the same inputs is the "
        "baseline unless --baseline is given",
    )
    jobs.add_argument(
        "--keep-runs",
        type=int,
        metavar="N",
        default=_env_number("VULNSWEEP_KEEP_RUNS", int),
        help="with --state: keep only the newest N runs of each input set (the newest "
        "complete one is always kept); applied as each run is recorded",
    )
    jobs.add_argument(
        "--keep-days",
        type=float,
        metavar="DAYS",
        default=_env_number("VULNSWEEP_KEEP_DAYS", float),
        help="with --state: drop runs older than DAYS (the newest complete run of each "
        "input set is always kept); `vulnsweep state vacuum` returns the space",
    )
    jobs.add_argument(
        "--group-by",
        choices=("project", "owner", "package"),
        help="order the columns and markdown reports by project, CODEOWNERS owner or "
        "package (project and owner imply per-project verdicts)",
    )
    jobs.add_argument(
        "--summary",
        action="store_true",
        help="in GitHub Actions: write new findings per project and owner to the job "
        "summary ($GITHUB_STEP_SUMMARY)",
    )
    jobs.add_argument(
        "--webhook",
        metavar="URL",
        default=_env("VULNSWEEP_WEBHOOK"),
        help="POST a JSON summary of new findings to URL; a failing hook only warns",
    )
    fixing = parser.add_argument_group("fixing")
    fixing.add_argument(
        "--fix",
        action="store_true",
        help="re-resolve each lock (compiled requirements, uv, poetry, pdm, pylock, "
        "Pipfile) with the smallest fixing versions, keeping every other locked version "
        "the new set allows, and rewrite it; plain pins are edited in place "
        "(with --dry-run: only show the plan)",
    )
    fixing.add_argument(
        "--diff", action="store_true", help="with --fix: print the changes as a unified diff"
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "-d",
        "--dry-run",
        action="store_true",
        help="collect dependencies (resolving unpinned inputs against the index), report "
        "how many would be audited, and stop: no vulnerability service is asked",
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
    parser = _Parser(
        prog="vulnsweep db",
        description="Manage the offline advisory database used by --offline.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sync = sub.add_parser(
        "sync",
        help="download OSV's PyPI export (or only what changed), CISA's KEV catalogue and "
        "FIRST's EPSS scores (conditional requests; a failed download keeps the old copy)",
    )
    sync.add_argument(
        "--db-url",
        metavar="URL",
        default=None,
        help="base URL of the export (default: OSV's public PyPI bucket)",
    )
    sync.add_argument(
        "--kev-url",
        metavar="URL",
        default=None,
        help="the KEV catalogue's URL (default: CISA's feed; env VULNSWEEP_KEV_URL)",
    )
    sync.add_argument(
        "--epss-url",
        metavar="URL",
        default=None,
        help="the EPSS daily file's URL (default: FIRST's; env VULNSWEEP_EPSS_URL)",
    )
    sync.add_argument(
        "--only",
        choices=("advisories", "exploitation"),
        default=None,
        help="sync only the advisory database, or only KEV and EPSS",
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
    parser = _Parser(prog="vulnsweep cache", description="Inspect or clear the on-disk cache.")
    parser.add_argument("action", choices=("info", "clear"))
    parser.add_argument("--cache-dir", metavar="DIR", default=None)
    return parser


def parse_with_config(
    argv: Sequence[str], *, recheck: bool = False
) -> tuple[argparse.Namespace, Config]:
    """Options from the config file become defaults: the command line still wins."""
    from vulnsweep.errors import InputError
    from vulnsweep.policy.config import find_config, load_config

    parser = build_parser(recheck=recheck)
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
    args = parser.parse_args(argv)
    _check(args, actions)
    return args, config


def _check(args: argparse.Namespace, actions: dict[str, argparse.Action]) -> None:
    """What argparse leaves unchecked is a usage error too, as in pip-audit: a choice
    given through the environment, negative times, flags that need another flag."""
    for dest, action in actions.items():
        value = getattr(args, dest, None)
        if action.choices is None or not isinstance(value, str) or value in action.choices:
            continue
        names = [n for n in _ENVIRONMENT.get(dest, ()) if os.environ.get(n)]
        where = names[0] if names else f"--{dest.replace('_', '-')}"
        raise UsageError(f"{where}={value!r}: choose from {', '.join(map(str, action.choices))}")
    _check_numbers(args)
    _check_reports(args)
    min_epss = getattr(args, "min_epss", None)
    if min_epss is not None and not (math.isfinite(min_epss) and 0.0 <= min_epss <= 1.0):
        raise UsageError(
            f"--min-epss takes a probability between 0 and 1 (EPSS's own scale), got {min_epss}"
        )
    if getattr(args, "concurrency", 1) < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.concurrency}")
    if getattr(args, "max_rounds", 1) < 1:
        raise UsageError(f"--max-rounds must be at least 1, got {args.max_rounds}")
    if getattr(args, "diff", False) and not getattr(args, "fix", False):
        raise UsageError("--diff only makes sense with --fix")
    keep_runs = getattr(args, "keep_runs", None)
    if keep_runs is not None and keep_runs < 1:
        raise UsageError(f"--keep-runs must be at least 1, got {keep_runs}")
    if (keep_runs is not None or getattr(args, "keep_days", None) is not None) and not getattr(
        args, "state", None
    ):
        raise UsageError("--keep-runs and --keep-days apply to a --state run history")
    if getattr(args, "follow_links", False) and not getattr(args, "recursive", False):
        raise UsageError("--follow-links only applies to a -R/--recursive walk")
    if getattr(args, "exclude", None) and not getattr(args, "recursive", False):
        raise UsageError("--exclude only applies to a -R/--recursive walk")
    if getattr(args, "shard", None) and not getattr(args, "recursive", False):
        raise UsageError("--shard only applies to a -R/--recursive walk")
    _check_urls(args)


def _shard(text: str) -> tuple[int, int]:
    """`K/N`, 1 <= K <= N."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N (for example 2/8)")
    shard, shards = int(found.group(1)), int(found.group(2))
    if not 1 <= shard <= shards:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be between 1 and N")
    return shard, shards


def _check_reports(args: argparse.Namespace) -> None:
    from vulnsweep.output import FORMATS

    reports = []
    for given in getattr(args, "report", None) or ():
        fmt, _, path = str(given).partition(":")
        if fmt not in FORMATS or not path:
            raise UsageError(
                f"--report {cut(str(given))!r}: FORMAT:FILE with FORMAT one of {', '.join(FORMATS)}"
            )
        reports.append((fmt, path))
    if reports:
        args.report = reports


def _check_numbers(args: argparse.Namespace) -> None:
    for dest in ("timeout", "deadline", "cache_ttl", "max_db_age", "keep_days"):
        value = getattr(args, dest, None)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(f"--{dest.replace('_', '-')} must be a finite number, got {value}")
        if value <= 0:
            raise UsageError(f"--{dest.replace('_', '-')} must be positive, got {value:g}")


# Options holding URLs become Url values here, once: from this point on they print
# redacted, and only the transport reveals them (see vulnsweep/url.py).
_URL_OPTIONS = ("osv_url", "pypi_url", "index_url", "db_url")


def check_url(option: str, value: object, *, secret_path: bool = False) -> Url:
    """An http(s) URL with a host, as a Url (printed redacted from here on)."""
    from vulnsweep.url import Url

    url = Url(str(value).strip(), secret_path=secret_path)
    if url.scheme not in ("http", "https") or not url.has_host:
        raise UsageError(f"{option} must be an http(s) URL with a host, got {cut(str(url))!r}")
    return url


def _check_urls(args: argparse.Namespace) -> None:
    from vulnsweep.url import Url

    for dest in _URL_OPTIONS:
        value = getattr(args, dest, None)
        if value is not None and not isinstance(value, Url):
            setattr(args, dest, check_url(f"--{dest.replace('_', '-')}", value))
    extra = getattr(args, "extra_index_url", None)
    if extra:
        args.extra_index_url = [check_url("--extra-index-url", u) for u in extra]
    webhook = getattr(args, "webhook", None)
    if webhook:
        args.webhook = check_url("--webhook", webhook, secret_path=True)


class _Parser(argparse.ArgumentParser):
    """argparse quotes the offending value whole: a 10 MB argument must not make a
    10 MB error line."""

    def error(self, message: str) -> NoReturn:
        from vulnsweep.redact import shown

        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {shown(message, 300)}\n")


# The environment variables an option's default comes from, to name them in errors.
_ENVIRONMENT = {
    "format": ("VULNSWEEP_FORMAT", "PIP_AUDIT_FORMAT"),
    "vulnerability_service": ("PIP_AUDIT_VULNERABILITY_SERVICE",),
    "desc": ("PIP_AUDIT_DESC",),
    "progress_spinner": ("PIP_AUDIT_PROGRESS_SPINNER",),
    "hydrate": ("VULNSWEEP_HYDRATE",),
}
