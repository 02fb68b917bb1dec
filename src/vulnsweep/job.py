"""The scheduled-job parts of a run, between the command line and the stages: which
inputs a run covers, its walk root, its baseline and the policy it applies."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vulnsweep.policy import Gate, IgnorePolicy
from vulnsweep.policy.config import Config
from vulnsweep.policy.projects import GATE_KEYS, ProjectMap, ProjectPolicies, ScopedPolicy
from vulnsweep.settings import Settings

if TYPE_CHECKING:  # imported when a baseline or a --state file is actually used
    from vulnsweep.history.store import RunRecord, StateStore
    from vulnsweep.policy.baseline import Baseline


def job_inputs(args: Settings) -> dict[str, Any]:
    """What identifies "the same inputs" between two runs of a job."""

    def absolute(paths: Sequence[str]) -> list[str]:
        return sorted(p if p == "-" else os.path.abspath(p) for p in paths)

    return {
        "paths": absolute(args.paths),
        "requirements": absolute(args.requirements),
        "sboms": absolute(args.sbom),
        "site_paths": absolute(args.site_paths),
        "recursive": bool(args.recursive),
        "locked": bool(args.locked),
        "no_deps": bool(args.no_deps),
        "python": args.python,
        **({"shard": f"{args.shard[0]}/{args.shard[1]}"} if args.shard else {}),
    }


def walk_root(args: Settings) -> Path | None:
    """The root projects are found under: a -R walk's directory (the common one when
    several are walked), or the working directory when grouping by project or owner."""
    if args.recursive:
        directories = [os.path.abspath(p) for p in args.paths if os.path.isdir(p)]
        if directories:
            return Path(os.path.commonpath(directories))
    if args.group_by in ("project", "owner") or args.recursive:
        return Path.cwd()
    return None


def gate_of(args: Settings) -> Gate:
    return Gate(
        min_severity=args.min_severity.upper() if args.min_severity else None,
        ignore_unknown_severity=args.ignore_unknown_severity,
        only_fixable=args.only_fixable,
        only_kev=args.fail_on == "kev",
        min_epss=args.min_epss,
        unknown_risk=args.unknown_risk,
    )


def explicit_options(argv: Sequence[str]) -> set[str]:
    """Gate options given on the command line itself: they beat every project config."""
    given = set()
    for key in GATE_KEYS:
        flag = "--" + key.replace("_", "-")
        if any(a == flag or a.startswith(flag + "=") for a in argv):
            given.add(key)
    return given


def run_policy(
    args: Settings,
    argv: Sequence[str],
    config: Config,
    root: Path | None,
    baseline: Baseline | None,
    today: dt.date,
    known_projects: dict[str, str] | None = None,
    stored_configs: dict[str, str] | None = None,
) -> ScopedPolicy:
    gate = gate_of(args)
    default = IgnorePolicy(
        args.ignore_vuln,
        rules=config.rules,
        until_fixed=config.until_fixed,
        packages=config.packages,
        gate=gate,
        today=today,
    )
    projects = None
    if root is not None:
        projects = ProjectPolicies(
            ProjectMap(root, known_projects),
            config,
            args.ignore_vuln,
            gate,
            explicit_options(argv),
            today,
            stored_configs,
        )
    return ScopedPolicy(default, projects, baseline, args.fail_on, today)


def baseline_for(
    args: Settings, store: StateStore | None, previous: Sequence[RunRecord]
) -> Baseline | None:
    """`--baseline FILE` when given, else the previous run of these inputs in `--state`."""
    if args.baseline:
        from vulnsweep.policy.baseline import load_baseline

        return load_baseline(args.baseline)
    if store is not None:
        return store.baseline(previous)
    return None
