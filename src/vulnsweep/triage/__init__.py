"""Triage: which findings to fix first. Exploitation signals from CISA's Known
Exploited Vulnerabilities catalogue (KEV) and FIRST's Exploit Prediction Scoring System
(EPSS), matched through each finding's CVE aliases, and MAL- (malicious package)
advisories flagged whatever their severity.

Unknown is never zero: a finding with no CVE, or whose CVE a data set does not list
(EPSS), or a run with no data at all, shows `unknown`; gates treat unknown as failing
unless `--unknown-risk pass` says otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from vulnsweep.model import Epss, KnownExploited, Vulnerability


@dataclass(frozen=True)
class Signals:
    """The exploitation data a run consults (either part may be absent)."""

    kev: Mapping[str, KnownExploited] | None = None  # CVE -> entry; None: no catalogue
    kev_version: str | None = None  # the catalogue's own version (its date)
    epss: Mapping[str, Epss] | None = None  # CVE -> score; None: no scores
    epss_date: str | None = None

    def describe(self) -> str | None:
        """What was consulted, for reports; None when nothing was."""
        parts = []
        if self.kev is not None:
            parts.append(f"CISA KEV {self.kev_version or '(undated)'}")
        if self.epss is not None:
            parts.append(f"EPSS {self.epss_date or '(undated)'}")
        return ", ".join(parts) or None

    def annotate(self, vulnerabilities: Iterable[Vulnerability]) -> list[Vulnerability]:
        """Each vulnerability with what the data says of its CVE aliases."""
        return [self._one(v) for v in vulnerabilities]

    def _one(self, vulnerability: Vulnerability) -> Vulnerability:
        cves = sorted(i for i in vulnerability.ids if i.upper().startswith("CVE-"))
        if not cves:
            return vulnerability  # unknown on both counts: there is nothing to look up
        kev = None
        kev_checked = self.kev is not None
        if self.kev is not None:
            kev = next((self.kev[c] for c in cves if c in self.kev), None)
        epss = None
        if self.epss is not None:
            scored = [self.epss[c] for c in cves if c in self.epss]
            epss = max(scored, key=lambda e: e.probability) if scored else None
        if kev is None and epss is None and not kev_checked:
            return vulnerability
        return replace(vulnerability, kev=kev, kev_checked=kev_checked, epss=epss)


log = logging.getLogger(__name__)


def load_signals(
    cache_dir: Path | None,
    kev_file: str | None,
    epss_file: str | None,
    max_age_days: float | None = None,
) -> Signals:
    """The files given, else the copies `vulnsweep db sync` keeps in the cache; say how
    old the data is, once (a warning past `max_age_days`, the --max-db-age of the
    offline database)."""
    import sqlite3

    from vulnsweep.errors import InputError
    from vulnsweep.triage.data import Stored, db_path, parse_epss, parse_kev, read_meta

    def read(path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise InputError(path, f"cannot read: {exc.strerror or exc}") from None

    kev: Mapping[str, KnownExploited] | None = None
    epss: Mapping[str, Epss] | None = None
    kev_version = epss_date = None
    if kev_file:
        kev_version, kev = parse_kev(read(kev_file), kev_file)
    if epss_file:
        epss_date, epss = parse_epss(read(epss_file), epss_file)
    stored = db_path(cache_dir) if cache_dir is not None else None
    if stored is not None and stored.exists() and (kev is None or epss is None):
        meta = read_meta(stored)
        conn = sqlite3.connect(f"file:{stored}?mode=ro", uri=True, check_same_thread=False)
        if kev is None and meta.get("kev_version") is not None:
            kev, kev_version = Stored(conn, "kev", None), meta["kev_version"] or None
        if epss is None and meta.get("epss_date") is not None:
            epss_date = meta["epss_date"] or None
            epss = Stored(conn, "epss", epss_date)
    if kev is not None or epss is not None:
        ages = [_age(kev_version) if kev is not None else None]
        ages.append(_age(epss_date) if epss is not None else None)
        oldest = max((a for a in ages if a is not None), default=None)
        stale = max_age_days is not None and oldest is not None and oldest > max_age_days
        log.log(
            logging.WARNING if stale else logging.INFO,
            "exploitation data: %s; %s%s",
            f"KEV catalogue {kev_version or '(undated)'}" if kev is not None else "no KEV",
            f"EPSS scores of {epss_date or '(undated)'}" if epss is not None else "no EPSS",
            f" ({oldest:.0f} days old: run `vulnsweep db sync`)" if stale else "",
        )
    return Signals(kev, kev_version, epss, epss_date)


def _age(stamp: str | None) -> float | None:
    """Days since a KEV catalogue version (2025.08.25) or an EPSS date (2025-09-03)."""
    import datetime as dt

    if not stamp:
        return None
    try:
        day = dt.date.fromisoformat(stamp[:10].replace(".", "-"))
    except ValueError:
        return None
    return float((dt.date.today() - day).days)


def risk_key(vulnerability: Vulnerability) -> tuple[int, int, float, int]:
    """`--sort risk`, most urgent first: malicious, then known exploited, then EPSS
    (unknown before any known score: not knowing is not safety), then severity."""
    from vulnsweep.advisories.severity import LEVELS

    severity = LEVELS.index(vulnerability.severity) if vulnerability.severity else -1
    epss = vulnerability.epss
    return (
        0 if vulnerability.malicious else 1,
        0 if vulnerability.kev is not None else 1,
        -2.0 if epss is None else -epss.probability,
        -severity,
    )
