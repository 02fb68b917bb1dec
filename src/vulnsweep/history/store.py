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
from vulnsweep.history.backends import Backend
from vulnsweep.model import AuditResult, Dependency, Origin, PastFinding, SkippedDependency
from vulnsweep.policy.baseline import Baseline

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, inputs_key TEXT NOT NULL, inputs TEXT NOT NULL,
    kind TEXT NOT NULL, started TEXT NOT NULL, finished TEXT NOT NULL,
    service TEXT NOT NULL, root TEXT, exit_code INTEGER NOT NULL,
    dependencies INTEGER NOT NULL, findings INTEGER NOT NULL,
    new INTEGER, unchanged INTEGER, fixed INTEGER, failing_projects INTEGER,
    complete INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS runs_inputs ON runs (inputs_key, id);
CREATE TABLE IF NOT EXISTS pins (
    run INTEGER NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, origins BLOB NOT NULL,
    audited INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS pins_run ON pins (run);
CREATE TABLE IF NOT EXISTS skipped (
    run INTEGER NOT NULL, name TEXT NOT NULL, version TEXT, reason TEXT NOT NULL,
    origins BLOB NOT NULL, error INTEGER NOT NULL DEFAULT 0,
    unresolved INTEGER NOT NULL DEFAULT 0
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
CREATE INDEX IF NOT EXISTS projects_run ON projects (run);
-- The policy files a run applied (absolute path, text): a recheck whose checkout is
-- gone applies the same ignores.
CREATE TABLE IF NOT EXISTS policies (run INTEGER NOT NULL, path TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS policies_run ON policies (run);
CREATE TABLE IF NOT EXISTS advisories (
    id TEXT PRIMARY KEY, modified TEXT NOT NULL, body BLOB NOT NULL
) WITHOUT ROWID;
"""


# Columns added since the first layout: (table, column, declaration). A file written
# by an older vulnsweep gains them on open, with the old meaning as the default.
MIGRATIONS = (
    ("runs", "complete", "INTEGER NOT NULL DEFAULT 1"),
    ("pins", "audited", "INTEGER NOT NULL DEFAULT 1"),
    # What a skip means for the exit code, so a recheck exits as the run did.
    ("skipped", "error", "INTEGER NOT NULL DEFAULT 0"),
    ("skipped", "unresolved", "INTEGER NOT NULL DEFAULT 0"),
)
RUN_TABLES = ("pins", "skipped", "findings", "projects", "policies")


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
    complete: bool = True  # False: some pins were not audited (an outage, exit 3)

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class StateStore:
    """`create=False` (recheck, history, state): the file must exist already."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        from vulnsweep.history.backends import PostgresBackend, SqliteBackend, is_postgres

        self.db: Backend
        if is_postgres(path):
            self.path = None
            self.db = PostgresBackend(path, create=create)
            self.label = self.db.label
            return
        self.path = Path(path)
        self.label = path
        if self.path.is_dir():
            raise UsageError(f"--state {path}: is a directory")
        if not create and not self.path.is_file():
            raise UsageError(f"--state {path}: no such file")
        try:
            if self.path.parent != Path(""):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = SqliteBackend(self.path, SCHEMA, _migrate)
        except sqlite3.DatabaseError as exc:
            raise UsageError(
                f"--state {path}: damaged or not a vulnsweep state file ({exc}); nothing was "
                "written to it. Restore it from a backup, or move it aside to start a new "
                "history"
            ) from None
        except OSError as exc:
            raise UsageError(f"--state {path}: cannot open ({_why(exc)})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(self) -> list[RunRecord]:
        rows = self.db.execute(
            "SELECT id, inputs_key, inputs, kind, started, finished, service, root, exit_code,"
            " dependencies, findings, new, unchanged, fixed, failing_projects, complete"
            " FROM runs ORDER BY id"
        ).fetchall()
        return [_run_record(row) for row in rows]

    def latest(self) -> list[RunRecord]:
        """The latest run of each input set: what `recheck` re-audits."""
        latest: dict[str, RunRecord] = {}
        for run in self.runs():
            latest[run.inputs_key] = run
        return list(latest.values())

    def baseline(self, runs: Iterable[RunRecord]) -> Baseline | None:
        """The findings these runs stand for. Only complete evidence moves a baseline:
        for a pin an incomplete run (an outage) did not audit, the findings of the
        newest earlier run of the same inputs that did audit it stand in, back to the
        last complete run -- so `first_seen` and "unchanged" survive the outage."""
        runs = list(runs)
        if not runs:
            return None
        entries = []
        every = self.runs()
        for run in runs:
            chain = [
                r for r in reversed(every) if r.inputs_key == run.inputs_key and r.id <= run.id
            ]
            covered: set[tuple[str, str]] = set()
            for older in chain:
                audited = {
                    (name, version)
                    for name, version in self.db.execute(
                        "SELECT name, version FROM pins WHERE run = ? AND audited = 1", (older.id,)
                    )
                }
                for name, version, ident, aliases, first_seen in self.db.execute(
                    "SELECT name, version, id, aliases, first_seen FROM findings"
                    " WHERE run = ? AND ignored = 0",
                    (older.id,),
                ):
                    if (name, version) not in covered:
                        entries.append(
                            PastFinding(
                                name, version, ident, tuple(orjson.loads(aliases)), first_seen
                            )
                        )
                covered |= audited
                if older.complete:
                    break
        date = min(r.finished[:10] for r in runs)
        return Baseline(entries, date, f"run {', '.join(str(r.id) for r in runs)} of {self.label}")

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
        for name, version, reason, origins, error, unresolved in self.db.execute(
            "SELECT name, version, reason, origins, error, unresolved FROM skipped WHERE run = ?",
            (run.id,),
        ):
            yield SkippedDependency(
                name, reason, read(origins), version, bool(error), bool(unresolved)
            )

    def configs(self, runs: Iterable[RunRecord]) -> dict[str, str]:
        """The policy files these runs applied: absolute path -> text."""
        out: dict[str, str] = {}
        for run in runs:
            out.update(self.db.execute("SELECT path, text FROM policies WHERE run = ?", (run.id,)))
        return out

    def fleet(self) -> list[dict[str, Any]]:
        """Every project as the latest run of each input set saw it (the whole fleet
        when shards share the store): owners, dependencies, findings, whether it
        fails, and findings new since that input set's previous run."""
        latest = {r.id: r for r in self.latest()}
        if not latest:
            return []
        ids = sorted(latest)
        marks = ",".join("?" for _ in ids)
        new_by_pin: dict[tuple[int, str, str], int] = {}
        for run, name, version, count in self.db.execute(
            f"SELECT run, name, version, count(*) FROM findings WHERE run IN ({marks})"
            " AND state = 'new' AND ignored = 0 GROUP BY run, name, version",
            ids,
        ):
            new_by_pin[(run, name, version)] = int(count)
        new_by_project: dict[str, int] = {}
        if new_by_pin:
            for run, name, version, origins in self.db.execute(
                f"SELECT run, name, version, origins FROM pins WHERE run IN ({marks})", ids
            ):
                count = new_by_pin.get((run, name, version))
                if not count:
                    continue
                for project in {o[2] for o in orjson.loads(origins) if o[2] is not None}:
                    new_by_project[project] = new_by_project.get(project, 0) + count
        out = []
        for run, path, owners, dependencies, findings, fails in self.db.execute(
            "SELECT run, path, owners, dependencies, findings, fails FROM projects"
            f" WHERE run IN ({marks}) ORDER BY path",
            ids,
        ):
            out.append(
                {
                    "project": path,
                    "owners": orjson.loads(owners),
                    "dependencies": dependencies,
                    "findings": findings,
                    "fails": bool(fails),
                    "new": new_by_project.get(path, 0),
                    "run": run,
                    "finished": latest[run].finished,
                }
            )
        return out

    def records(self) -> Iterator[tuple[str, str, bytes]]:
        """Every advisory record a run's findings came from: (id, modified, body)."""
        yield from self.db.execute("SELECT id, modified, body FROM advisories")

    def prune(self, *, keep_runs: int | None = None, keep_days: float | None = None) -> int:
        """Retention, applied when a run is written: per input set, only the newest
        `keep_runs` runs and those finished within `keep_days` days are kept -- but never
        the newest complete one, which later baselines stand on. Returns runs removed.
        Space is reused by later runs; `vulnsweep state vacuum` gives it back."""
        if keep_runs is None and keep_days is None:
            return 0
        cutoff = (
            _stamp(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=keep_days))
            if keep_days is not None
            else None
        )
        doomed: list[int] = []
        by_inputs: dict[str, list[RunRecord]] = {}
        for run in self.runs():
            by_inputs.setdefault(run.inputs_key, []).append(run)
        for runs in by_inputs.values():
            newest_complete = next((r.id for r in reversed(runs) if r.complete), None)
            for position, run in enumerate(reversed(runs)):
                too_many = keep_runs is not None and position >= keep_runs
                too_old = cutoff is not None and run.finished < cutoff
                if (too_many or too_old) and run.id != newest_complete:
                    doomed.append(run.id)
        if not doomed:
            return 0
        with self.db.transaction():
            rows = [(i,) for i in doomed]
            for table in RUN_TABLES:
                self.db.executemany(f"DELETE FROM {table} WHERE run = ?", rows)
            self.db.executemany("DELETE FROM runs WHERE id = ?", rows)
            # Records no remaining finding came from are refetched if ever needed.
            referenced: set[str] = set()
            for ident, aliases in self.db.execute("SELECT id, aliases FROM findings"):
                referenced.add(ident)
                referenced.update(orjson.loads(aliases))
            self.db.executemany(
                "DELETE FROM advisories WHERE id = ?",
                [
                    (i,)
                    for (i,) in self.db.execute("SELECT id FROM advisories").fetchall()
                    if i not in referenced
                ],
            )
        return len(doomed)

    def vacuum(self) -> tuple[int, int]:
        """Give free space back: (bytes before, bytes after)."""
        before = self.db.size()
        self.db.vacuum()
        return before, self.db.size()

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
        policies: dict[str, str] | None = None,
    ) -> int:
        """One finished run, in one transaction: a crash leaves the history as it was."""
        finished = dt.datetime.now(dt.timezone.utc)
        complete = not result.unaudited and exit_code != 3
        states = [f.baseline_state for f in result.reported]
        has_baseline = result.baseline_date is not None
        with self.db.transaction():
            run = self.db.insert_id(
                "INSERT INTO runs (inputs_key, inputs, kind, started, finished, service, root,"
                " exit_code, dependencies, findings, new, unchanged, fixed, failing_projects,"
                " complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    int(complete),
                ),
            )
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

            # A partly audited pin (some of its advisories undecided) is one row, marked
            # not audited; a pin nothing was learned of is one row from `unaudited`.
            not_audited = {u.dependency.key for u in result.unaudited}
            only = not_audited - {d.key for d, _ in result.audited}
            self.db.executemany(
                "INSERT INTO pins (run, name, version, origins, audited) VALUES (?, ?, ?, ?, ?)",
                (
                    (run, dep.canonical_name, dep.version, origins(dep.origins), audited)
                    for dep, audited in [
                        *((d, int(d.key not in not_audited)) for d, _ in result.audited),
                        *((u.dependency, 0) for u in result.unaudited if u.dependency.key in only),
                    ]
                ),
            )
            self.db.executemany(
                "INSERT INTO skipped (run, name, version, reason, origins, error, unresolved)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        run,
                        s.name,
                        s.version,
                        s.reason,
                        origins(s.origins),
                        int(s.error),
                        int(s.unresolved),
                    )
                    for s in result.skipped
                ),
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
            self.db.executemany(
                "INSERT INTO policies VALUES (?, ?, ?)",
                ((run, path, text) for path, text in sorted((policies or {}).items())),
            )
            # The latest revision of each record is all a recheck compares with.
            self.db.upsert_advisories(records)
        return int(run or 0)


def _migrate(db: sqlite3.Connection) -> None:
    for table, column, declaration in MIGRATIONS:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    db.commit()


def _run_record(row: tuple[Any, ...]) -> RunRecord:
    (ident, key, inputs, kind, started, finished, service, root, code, deps, findings) = row[:11]
    new, unchanged, fixed, failing, complete = row[11:]
    return RunRecord(
        ident, key, orjson.loads(inputs), kind, started, finished, service, root, code, deps,
        findings, new, unchanged, fixed, failing, bool(complete),
    )  # fmt: skip


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


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def opened(path: str) -> Iterator[StateStore]:
    store = StateStore(path)
    try:
        yield store
    finally:
        store.close()
