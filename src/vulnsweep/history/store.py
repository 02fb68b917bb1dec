"""The run history of a scheduled job (`--state PATH`): one SQLite file, nothing to start.

Each run records its inputs, its pins with their origins, its findings with the day
each was first seen, and the advisory records those findings came from (keyed by id +
`modified`). The previous run of the same inputs is the next run's baseline; `recheck`
re-audits the latest run of every input set from here, without reading its files, and
only the advisories whose `modified` stamp moved are fetched again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vulnsweep.errors import UsageError
from vulnsweep.model import AuditResult, Dependency, Origin, PastFinding, SkippedDependency
from vulnsweep.policy.baseline import Baseline

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, inputs_key TEXT NOT NULL, inputs TEXT NOT NULL,
    kind TEXT NOT NULL, started TEXT NOT NULL, finished TEXT NOT NULL,
    service TEXT NOT NULL, root TEXT, exit_code INTEGER NOT NULL,
    dependencies INTEGER NOT NULL, findings INTEGER NOT NULL,
    new INTEGER, unchanged INTEGER, fixed INTEGER, failing_projects INTEGER
);
CREATE INDEX IF NOT EXISTS runs_inputs ON runs (inputs_key, id);
CREATE TABLE IF NOT EXISTS pins (
    run INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, origins BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS pins_run ON pins (run);
CREATE TABLE IF NOT EXISTS skipped (
    run INTEGER NOT NULL, name TEXT NOT NULL, version TEXT, reason TEXT NOT NULL,
    origins BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS skipped_run ON skipped (run);
CREATE TABLE IF NOT EXISTS findings (
    run INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, id TEXT NOT NULL,
    aliases BLOB NOT NULL, modified TEXT, first_seen TEXT, state TEXT,
    ignored INTEGER NOT NULL, fails INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_run ON findings (run);
CREATE TABLE IF NOT EXISTS projects (
    run INTEGER NOT NULL, path TEXT NOT NULL, owners BLOB NOT NULL,
    dependencies INTEGER NOT NULL, findings INTEGER NOT NULL, fails INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY, modified TEXT NOT NULL, body BLOB NOT NULL
) WITHOUT ROWID;
"""


def inputs_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(inputs, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


@dataclass
class FileFacts:
    """What a stored run knew of each pinning file: its project and its owners."""

    projects: dict[str, str] = field(default_factory=dict)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    id: int
    inputs_key: str
    inputs: dict[str, Any]
    kind: str
    started: str
    finished: str
    service: str
    root: str | None
    exit_code: int
    dependencies: int
    findings: int
    new: int | None
    unchanged: int | None
    fixed: int | None
    failing_projects: int | None

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class StateStore:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise UsageError(f"--state {path}: is a directory")
        try:
            if self.path.parent != Path(""):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path)
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"--state {path}: not a vulnsweep state file ({exc})") from None
        except OSError as exc:
            raise UsageError(f"--state {path}: {exc.strerror}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(self) -> list[RunRecord]:
        rows = self.db.execute(
            "SELECT id, inputs_key, inputs, kind, started, finished, service, root, exit_code,"
            " dependencies, findings, new, unchanged, fixed, failing_projects FROM runs"
            " ORDER BY id"
        ).fetchall()
        return [RunRecord(r[0], r[1], orjson.loads(r[2]), *r[3:]) for r in rows]

    def latest(self) -> list[RunRecord]:
        """The latest run of each input set: what `recheck` re-audits."""
        latest: dict[str, RunRecord] = {}
        for run in self.runs():
            latest[run.inputs_key] = run
        return list(latest.values())

    def baseline(self, runs: Iterable[RunRecord]) -> Baseline | None:
        runs = list(runs)
        if not runs:
            return None
        entries = []
        for run in runs:
            for name, version, ident, aliases, first_seen in self.db.execute(
                "SELECT name, version, id, aliases, first_seen FROM findings"
                " WHERE run = ? AND ignored = 0",
                (run.id,),
            ):
                entries.append(
                    PastFinding(name, version, ident, tuple(orjson.loads(aliases)), first_seen)
                )
        date = min(r.finished[:10] for r in runs)
        return Baseline(entries, date, f"run {', '.join(str(r.id) for r in runs)} of {self.path}")

    def pins(self, run: RunRecord, files: FileFacts | None = None) -> Iterator[Dependency]:
        """A run's pins, their files shown relative to the working directory when
        under it; `files` learns each file's project and owners as the run saw them."""
        read = _OriginReader(files)
        for name, version, origins in self.db.execute(
            "SELECT name, version, origins FROM pins WHERE run = ?", (run.id,)
        ):
            yield Dependency(name, version, read(origins))

    def skipped(
        self, run: RunRecord, files: FileFacts | None = None
    ) -> Iterator[SkippedDependency]:
        """What a run could not audit, and why: a recheck reports it again."""
        read = _OriginReader(files)
        for name, version, reason, origins in self.db.execute(
            "SELECT name, version, reason, origins FROM skipped WHERE run = ?", (run.id,)
        ):
            yield SkippedDependency(name, reason, read(origins), version=version)

    def records(self) -> Iterator[tuple[str, str, bytes]]:
        """Every advisory record a run's findings came from: (id, modified, body)."""
        yield from self.db.execute("SELECT id, modified, body FROM advisories")

    def record(
        self,
        *,
        inputs: dict[str, Any],
        kind: str,
        started: dt.datetime,
        service: str,
        root: str | None,
        exit_code: int,
        result: AuditResult,
        records: Iterable[tuple[str, str, bytes]] = (),
    ) -> int:
        """One finished run, in one transaction: a crash leaves the history as it was."""
        finished = dt.datetime.now(dt.timezone.utc)
        states = [f.baseline_state for f in result.reported]
        has_baseline = result.baseline_date is not None
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO runs (inputs_key, inputs, kind, started, finished, service, root,"
                " exit_code, dependencies, findings, new, unchanged, fixed, failing_projects)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    inputs_key(inputs),
                    orjson.dumps(inputs, option=orjson.OPT_SORT_KEYS).decode(),
                    kind,
                    _stamp(started),
                    _stamp(finished),
                    service,
                    root,
                    exit_code,
                    len(result.audited),
                    len(result.reported),
                    states.count("new") if has_baseline else None,
                    states.count("unchanged") if has_baseline else None,
                    len(result.absent) if has_baseline else None,
                    sum(p.fails for p in result.projects) if result.projects else None,
                ),
            )
            run = cursor.lastrowid
            project_of = {file: p.path for p in result.projects for file in p.files}

            def origins(where: Iterable[Origin]) -> bytes:
                return orjson.dumps(
                    [
                        (
                            _absolute(o.path),
                            o.line,
                            project_of.get(o.path),
                            result.owners.get(o.path, ()),
                        )
                        for o in where
                    ]
                )

            self.db.executemany(
                "INSERT INTO pins VALUES (?, ?, ?, ?)",
                (
                    (run, dep.canonical_name, dep.version, origins(dep.origins))
                    for dep in [d for d, _ in result.audited]
                    + [u.dependency for u in result.unaudited]
                ),
            )
            self.db.executemany(
                "INSERT INTO skipped VALUES (?, ?, ?, ?, ?)",
                ((run, s.name, s.version, s.reason, origins(s.origins)) for s in result.skipped),
            )
            today = finished.date().isoformat()
            self.db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        run,
                        f.dependency.canonical_name,
                        f.dependency.version,
                        f.vulnerability.id,
                        orjson.dumps(list(f.vulnerability.aliases)),
                        f.vulnerability.modified,
                        f.first_seen or today,
                        f.baseline_state,
                        int(f.ignored),
                        int(f.fails),
                    )
                    for f in result.findings
                ),
            )
            self.db.executemany(
                "INSERT INTO projects VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (
                        run,
                        p.path,
                        orjson.dumps(list(p.owners)),
                        p.dependencies,
                        len(p.reported),
                        int(p.fails),
                    )
                    for p in result.projects
                ),
            )
            # The latest revision of each record is all a recheck compares with.
            self.db.executemany("INSERT OR REPLACE INTO advisories VALUES (?, ?, ?)", records)
        return int(run or 0)


class _OriginReader:
    """Stored origins back to Origins, each file's shown path worked out once (a few
    thousand files stand behind many thousand pins)."""

    def __init__(self, files: FileFacts | None) -> None:
        self.files = files
        self.here = os.getcwd() + os.sep
        self.shown_as: dict[str, str] = {}

    def __call__(self, blob: bytes) -> tuple[Origin, ...]:
        where = []
        for path, line, project, owners in orjson.loads(blob):
            shown = self.shown_as.get(path)
            if shown is None:
                shown = self.shown_as[path] = (
                    os.path.relpath(path) if path.startswith(self.here) else path
                )
            if self.files is not None:
                if project is not None:
                    self.files.projects[shown] = project
                self.files.owners[shown] = tuple(owners)
            where.append(Origin(shown, line))
        return tuple(where)


@functools.lru_cache(maxsize=65536)
def _absolute(path: str) -> str:
    return path if path.startswith("<") or path == "-" else os.path.abspath(path)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def opened(path: str) -> Iterator[StateStore]:
    store = StateStore(path)
    try:
        yield store
    finally:
        store.close()
