"""KEV and EPSS data: read from the published files (leniently, decided strictly: a file
that is not the catalogue or the scores is refused whole), kept in one SQLite file in
the cache directory by `vulnsweep db sync`, and looked up per CVE without loading
300,000 scores into every run."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sqlite3
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Generic, TypeVar

from vulnsweep.errors import InputError
from vulnsweep.model import Epss, KnownExploited

DB_NAME = "triage.sqlite3"
MAX_FILE = 256 * 1024 * 1024  # a decompressed EPSS file is ~12 MB; KEV ~1.3 MB
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kev (
    cve TEXT PRIMARY KEY, date_added TEXT, due_date TEXT, ransomware TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS epss (
    cve TEXT PRIMARY KEY, probability REAL NOT NULL, percentile REAL NOT NULL
) WITHOUT ROWID;
"""
T = TypeVar("T")


def parse_kev(data: bytes, where: str) -> tuple[str | None, dict[str, KnownExploited]]:
    """(catalogVersion, CVE -> entry) from CISA's KEV JSON."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(where, f"not CISA's KEV catalogue (not JSON: {exc})") from None
    entries = document.get("vulnerabilities") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise InputError(where, "not CISA's KEV catalogue (no `vulnerabilities` list)")
    found: dict[str, KnownExploited] = {}
    for entry in entries:
        cve = entry.get("cveID") if isinstance(entry, dict) else None
        if not isinstance(cve, str) or not cve.upper().startswith("CVE-"):
            continue  # an entry that names no CVE cannot be matched: read past it

        def text(key: str, entry: dict[str, object] = entry) -> str | None:
            value = entry.get(key)
            return value if isinstance(value, str) else None

        found[cve.upper()] = KnownExploited(
            cve.upper(), text("dateAdded"), text("dueDate"), text("knownRansomwareCampaignUse")
        )
    if entries and not found:
        raise InputError(where, "not CISA's KEV catalogue (no entry names a CVE)")
    version = document.get("catalogVersion")
    return (version if isinstance(version, str) else None), found


def parse_epss(data: bytes, where: str) -> tuple[str | None, dict[str, Epss]]:
    """(score date, CVE -> score) from FIRST's daily file: an optional gzip layer, a
    `#model_version:...,score_date:...` comment, the header `cve,epss,percentile`."""
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
                data = unzipped.read(MAX_FILE + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(where, f"not an EPSS scores file (bad gzip: {exc})") from None
        if len(data) > MAX_FILE:
            raise InputError(where, "refused: the EPSS file expands too far")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(where, "not an EPSS scores file (not UTF-8 text)") from None
    lines = text.splitlines()
    date = None
    if lines and lines[0].startswith("#"):
        for part in lines.pop(0).lstrip("#").split(","):
            key, _, value = part.partition(":")
            if key.strip() == "score_date":
                date = value.strip()[:10]
    if not lines or [h.strip() for h in lines[0].split(",")][:3] != ["cve", "epss", "percentile"]:
        raise InputError(where, "not an EPSS scores file (no `cve,epss,percentile` header)")
    found: dict[str, Epss] = {}
    for row in csv.reader(lines[1:]):
        if len(row) < 3:
            continue
        try:
            probability, percentile = float(row[1]), float(row[2])
        except ValueError:
            continue
        if 0.0 <= probability <= 1.0 and 0.0 <= percentile <= 1.0:
            cve = row[0].strip().upper()
            found[cve] = Epss(cve, probability, percentile, date)
    if not found:
        raise InputError(where, "not an EPSS scores file (no score could be read)")
    return date, found


# -- the synced copy -----------------------------------------------------------------


def db_path(cache_dir: Path) -> Path:
    return cache_dir / DB_NAME


def store(
    path: Path,
    *,
    kev: tuple[str | None, dict[str, KnownExploited]] | None = None,
    epss: tuple[str | None, dict[str, Epss]] | None = None,
    meta: Mapping[str, str] | None = None,
) -> None:
    """Replace the parts given, atomically: a copy of the file is updated, then renamed
    over it, so a failed or partial sync leaves the previous data whole."""
    from vulnsweep.cache.replace import replaced

    with replaced(path, prefix=".triage-", copy=True) as temp:
        conn = sqlite3.connect(temp)
        try:
            conn.executescript(_SCHEMA)
            values = dict(meta or {})
            if kev is not None:
                conn.execute("DELETE FROM kev")
                conn.executemany(
                    "INSERT INTO kev VALUES (?, ?, ?, ?)",
                    [(e.cve, e.date_added, e.due_date, e.ransomware) for e in kev[1].values()],
                )
                values["kev_version"] = kev[0] or ""
            if epss is not None:
                conn.execute("DELETE FROM epss")
                conn.executemany(
                    "INSERT INTO epss VALUES (?, ?, ?)",
                    [(e.cve, e.probability, e.percentile) for e in epss[1].values()],
                )
                values["epss_date"] = epss[0] or ""
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(values.items()))
            conn.commit()
        finally:
            conn.close()


def read_meta(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError:
        return {}
    finally:
        conn.close()


class Stored(Mapping[str, T], Generic[T]):
    """One table of the synced copy as a read-only mapping, each CVE looked up once."""

    def __init__(self, conn: sqlite3.Connection, table: str, epss_date: str | None) -> None:
        self.conn, self.table, self.date = conn, table, epss_date
        self._seen: dict[str, T | None] = {}

    def _get(self, cve: str) -> T | None:
        if cve not in self._seen:
            row = self.conn.execute(f"SELECT * FROM {self.table} WHERE cve = ?", (cve,)).fetchone()
            self._seen[cve] = None if row is None else self._make(row)
        return self._seen[cve]

    def _make(self, row: tuple[object, ...]) -> T:
        if self.table == "kev":
            return KnownExploited(*row)  # type: ignore[arg-type,return-value]
        return Epss(row[0], row[1], row[2], self.date)  # type: ignore[arg-type,return-value]

    def __getitem__(self, cve: str) -> T:
        found = self._get(cve)
        if found is None:
            raise KeyError(cve)
        return found

    def __contains__(self, cve: object) -> bool:
        return isinstance(cve, str) and self._get(cve) is not None

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self.conn.execute(f"SELECT cve FROM {self.table}"))

    def __len__(self) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])
