"""The offline service: OSV's evaluation run locally against the advisory database.

No network at all. The matcher (services/matching.py) implements the OSV schema's
`versions` and ECOSYSTEM-range rules; alias merging and fix versions are shared with
the online services, so every source gives the same answer.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from vulnsweep.advisories.matching import SortKey, parse, range_contains, sort_key
from vulnsweep.advisories.records import merge
from vulnsweep.cache import advisorydb
from vulnsweep.model import Dependency, Vulnerability, parsed_version_key
from vulnsweep.services import Key, OnAnswer, Progress, ServiceAnswer

log = logging.getLogger(__name__)

_CHUNK = 500


class OfflineService:
    name = "offline database"
    answers_locally = True  # its cache stage is the whole answer

    def __init__(self, path: Path, *, max_age_days: float = 7.0) -> None:
        self.path = path
        self.max_age_days = max_age_days
        self._undecided: dict[Key, str] = {}

    def answer_from_cache(
        self, dependencies: Sequence[Dependency]
    ) -> tuple[dict[Key, list[Vulnerability]], list[Dependency]]:
        conn = advisorydb.connect(self.path)
        try:
            self._warn_if_old(conn)
            exact: list[tuple[Dependency, str, SortKey | None]] = []
            for dep in dependencies:
                parsed = parse(dep.version)
                if parsed is None:  # not PEP 440: only the versions lists can name it
                    exact.append((dep, dep.version.strip(), None))
                else:
                    exact.append((dep, parsed_version_key(parsed), sort_key(parsed)))
            listed = self._listed(conn, {(d.canonical_name, k) for d, k, _ in exact})
            ranges = self._ranges(conn, sorted({d.canonical_name for d in dependencies}))
            matched: dict[Key, list[str]] = {}
            for dep, key, ordered in exact:
                hits = set(listed.get((dep.canonical_name, key), ()))
                if ordered is not None:
                    for record_id, compiled in ranges.get(dep.canonical_name, ()):
                        if record_id not in hits and any(
                            range_contains(events, limits, ordered) for events, limits in compiled
                        ):
                            hits.add(record_id)
                matched[dep.key] = sorted(hits)
            records = self._records(conn, sorted({i for ids in matched.values() for i in ids}))
            unreadable = self._unreadable(conn, sorted({d.canonical_name for d in dependencies}))
        finally:
            conn.close()
        answers = {
            dep.key: merge(
                [records[i] for i in matched[dep.key] if i in records], dep.canonical_name
            )
            for dep in dependencies
        }
        # A pin an advisory might affect, where the part of it that would say so cannot
        # be read: what was found is reported, and the pin goes on as not audited.
        undecided: list[Dependency] = []
        for dep in dependencies:
            hits = set(matched[dep.key])
            reasons = [
                f"advisory {record_id} cannot be matched: {why}"
                for record_id, why in (
                    *unreadable.get(dep.canonical_name, ()),
                    *unreadable.get("", ()),
                )
                if record_id not in hits
            ]
            if reasons:
                self._undecided[dep.key] = "; ".join(sorted(set(reasons))[:3])
                undecided.append(dep)
                if not answers[dep.key]:
                    del answers[dep.key]  # nothing found is no "clean" answer
        return answers, undecided

    def _unreadable(
        self, conn: sqlite3.Connection, names: list[str]
    ) -> dict[str, list[tuple[str, str]]]:
        """Per package ('' for entries naming none): (advisory id, why it cannot be read)."""
        out: dict[str, list[tuple[str, str]]] = {}
        wanted = ["", *names]
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ",".join("?" for _ in chunk)
            for name, record_id, why in conn.execute(
                f"SELECT u.name, u.id, u.why FROM unreadable u JOIN records r ON r.id = u.id "
                f"WHERE r.withdrawn = 0 AND u.name IN ({marks})",
                chunk,
            ):
                out.setdefault(name, []).append((record_id, why))
        return out

    def _warn_if_old(self, conn: sqlite3.Connection) -> None:
        from vulnsweep.cache.advisorydb import newest_record

        if getattr(self, "_age_warned", False):
            return  # once per run, however many times --fix asks again
        self._age_warned = True
        newest = newest_record(conn)
        if newest is None:
            return
        import time

        age = (time.time() - newest) / 86400
        if age > self.max_age_days:
            log.warning(
                "the offline advisory database is %.1f days old (over --max-db-age "
                "%g); run `vulnsweep db sync`",
                age,
                self.max_age_days,
            )

    def _listed(
        self, conn: sqlite3.Connection, wanted: set[tuple[str, str]]
    ) -> dict[tuple[str, str], list[str]]:
        """Advisories whose `versions` lists name each (package, version key)."""
        conn.execute("CREATE TEMP TABLE wanted (name TEXT, version TEXT)")
        conn.executemany("INSERT INTO wanted VALUES (?, ?)", wanted)
        out: dict[tuple[str, str], list[str]] = {}
        for name, version, record_id in conn.execute(
            "SELECT w.name, w.version, a.id FROM wanted w JOIN affected_versions a "
            "ON a.name = w.name AND a.version = w.version"
        ):
            out.setdefault((name, version), []).append(record_id)
        return out

    def _ranges(
        self, conn: sqlite3.Connection, names: list[str]
    ) -> dict[str, list[tuple[str, list[Any]]]]:
        """Per package: (advisory id, its compiled ranges as stored: [events, limits])."""
        out: dict[str, list[tuple[str, list[Any]]]] = {}
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            marks = ",".join("?" for _ in chunk)
            for name, record_id, raw in conn.execute(
                f"SELECT name, id, ranges FROM affected WHERE name IN ({marks})", chunk
            ):
                compiled = orjson.loads(raw)
                if compiled:
                    out.setdefault(name, []).append((record_id, compiled))
        return out

    def _records(self, conn: sqlite3.Connection, ids: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" for _ in chunk)
            for record_id, body in conn.execute(
                f"SELECT id, slim FROM records WHERE withdrawn = 0 AND id IN ({marks})", chunk
            ):
                out[record_id] = orjson.loads(body)
        return out

    async def query(
        self,
        dependencies: Sequence[Dependency],
        progress: Progress,
        on_answer: OnAnswer | None = None,
    ) -> ServiceAnswer:
        # Everything is answered by answer_from_cache; what is left is what it could
        # not decide, with its reason.
        return ServiceAnswer(
            failures={
                d.key: self._undecided.get(d.key, "not in the offline database")
                for d in dependencies
            }
        )

    def persist(self) -> None:
        pass
