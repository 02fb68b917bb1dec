"""Everything a run was asked to do, typed, made once from argv + the config file +
the environment (options.py says where each value comes from and how it is checked).
Stages read a Settings; nothing below the command line sees argparse."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from vulnsweep.resolution import MAX_ROUNDS

if TYPE_CHECKING:
    from vulnsweep.net.http import Timeouts
    from vulnsweep.policy.config import Config
    from vulnsweep.sources.select import InputOptions
    from vulnsweep.url import Url

Toggle = Literal["on", "off", "auto"]


class Settings:
    """Frozen once made. A plain class rather than a dataclass: generating a dataclass
    of seventy fields costs ~3 ms on every run, a tenth of a warm audit's start-up."""

    # inputs
    paths: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    recursive: bool = False
    exclude: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None  # --shard K/N
    include_sboms: bool = False
    follow_links: bool = False
    sbom: tuple[str, ...] = ()
    locked: bool = False
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    groups: tuple[str, ...] = ()
    no_dev: bool = False
    site_paths: tuple[str, ...] = ()
    python: str | None = None
    local: bool = False
    skip_editable: bool = False
    python_version: str | None = None
    platform: Literal["linux", "macos", "windows"] | None = None
    marker_environment: str | None = None
    require_hashes: bool = False
    no_deps: bool = False
    # resolution
    resolver: Literal["builtin", "uv"] = "builtin"
    extra_index_url: tuple[Url, ...] = ()
    resolve_pins: bool = False
    pre: bool = False
    max_rounds: int = MAX_ROUNDS
    # vulnerability service and network
    vulnerability_service: Literal["osv", "pypi", "offline"] = "osv"
    osv_url: Url | str = "https://api.osv.dev"  # a Url once parsed: printed redacted
    offline: bool = False
    max_db_age: float = 7.0
    pypi_url: Url | str = "https://pypi.org"
    hydrate: Literal["auto", "ids", "packages"] = "auto"
    check_status: bool = False
    index_url: Url | str = "https://pypi.org/simple"
    timeout: float | None = None
    deadline: float = 1800.0
    cert: str | None = None
    concurrency: int = 256
    cache_dir: str | None = None
    no_cache: bool = False
    cache_ttl: float = 3600.0
    # output
    format: str = "columns"
    output: str | None = None
    report: tuple[tuple[str, str], ...] = ()  # more (format, file) of the same run
    desc: Toggle = "auto"
    aliases: Toggle = "auto"
    cyclonedx_version: Literal["1.4", "1.5", "1.6"] = "1.6"
    progress_spinner: Literal["on", "off"] = "on"
    # policy
    ignore_vuln: tuple[str, ...] = ()
    min_severity: Literal["low", "medium", "high", "critical"] | None = None
    ignore_unknown_severity: bool = False
    only_fixable: bool = False
    kev: str | None = None
    vex: tuple[str, ...] = ()
    epss: str | None = None
    min_epss: float | None = None
    unknown_risk: Literal["fail", "pass"] = "fail"
    sort: Literal["input", "risk"] = "input"
    strict: bool = False
    # scheduled jobs
    baseline: str | None = None
    fail_on: Literal["new", "any", "kev"] = "any"
    state: str | None = None
    keep_runs: int | None = None
    keep_days: float | None = None
    group_by: Literal["project", "owner", "package"] | None = None
    summary: bool = False
    webhook: Url | None = None  # shows scheme and host only
    # fixing and the run itself
    fix: bool = False
    diff: bool = False
    dry_run: bool = False
    verbose: int = 0
    recheck: bool = False  # `vulnsweep recheck`: the inputs are the stored runs
    argv: tuple[str, ...] = ()  # as given: which options the command line set itself
    config: Config | None = None

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - FIELDS
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        self.__dict__.update(values)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Settings are frozen; cannot set {name}")

    def __repr__(self) -> str:
        from vulnsweep.redact import redact_url

        changed = {k: v for k, v in self.__dict__.items() if k != "config"}
        if isinstance(changed.get("state"), str):  # a database URL's password stays hidden
            changed["state"] = redact_url(str(changed["state"]))
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in sorted(changed.items()))})"

    @classmethod
    def parse(cls, argv: Sequence[str], *, recheck: bool = False) -> Settings:
        """argv + config + environment, checked; a usage error exits 2."""
        from vulnsweep.errors import UsageError
        from vulnsweep.options import parse_with_config

        args, config = parse_with_config(argv, recheck=recheck)
        if args.no_deps and args.resolve_pins:
            raise UsageError("--resolve-pins resolves dependencies, --no-deps forbids it: pick one")
        return cls.from_namespace(args, config=config, argv=tuple(argv), recheck=recheck)

    @classmethod
    def from_namespace(cls, args: argparse.Namespace, **extra: object) -> Settings:
        values: dict[str, object] = {}
        for name in FIELDS:
            if name in extra:
                values[name] = extra[name]
            elif hasattr(args, name):
                value = getattr(args, name)
                values[name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)

    @property
    def service_name(self) -> str:
        return "offline" if self.offline else self.vulnerability_service

    @property
    def timeouts(self) -> Timeouts:
        from vulnsweep.net.http import Timeouts

        return Timeouts(connect=min(10.0, self.timeout or 10.0), read=self.timeout or 15.0)

    def inputs(self) -> InputOptions:
        from vulnsweep.sources.select import InputOptions

        return InputOptions(
            requirements=self.requirements,
            paths=self.paths,
            sboms=self.sbom,
            site_paths=self.site_paths,
            python=self.python,
            local_only=self.local,
            recursive=self.recursive,
            excludes=self.exclude,
            shard=self.shard,
            include_sboms=self.include_sboms,
            follow_links=self.follow_links,
            locked=self.locked,
            extras=self.extras,
            groups=self.groups,
            all_extras=self.all_extras,
            no_dev=self.no_dev,
            skip_editable=self.skip_editable,
            require_hashes=self.require_hashes,
            python_version=self.python_version,
            platform=self.platform,
            marker_file=self.marker_environment,
            resolve=not self.no_deps,
            resolve_pins=self.resolve_pins,
        )


FIELDS = frozenset(Settings.__annotations__)
