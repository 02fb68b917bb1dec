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

from vulnsweep.cache import advisorydb
from vulnsweep.model import Dependency, Vulnerability
from vulnsweep.services import Key, Progress, ServiceAnswer
from vulnsweep.services.advisories import merge
from vulnsweep.services.matching import AffectedPackage, compile_affected, record_affects

log = logging.getLogger(__name__)

_CHUNK = 500


class OfflineService:
    name = "offline database"

    def __init__(self, path: Path, *, max_age_days: float = 7.0) -> None:
        self.path = path
        self.max_age_days = max_age_days

    def answer_from_cache(
        self, dependencies: Sequence[Dependency]
    ) -> tuple[dict[Key, list[Vulnerability]], list[Dependency]]:
        conn = advisorydb.connect(self.path)
        try:
            self._warn_if_old(conn)
            candidates = self._candidates(conn, sorted({d.canonical_name for d in dependencies}))
            records = self._records(conn, sorted({i for ids in candidates.values() for i in ids}))
        finally:
            conn.close()
        compiled: dict[str, dict[str, list[AffectedPackage]]] = {}
        answers: dict[Key, list[Vulnerability]] = {}
        for dep in dependencies:
            matched = []
            for record_id in candidates.get(dep.canonical_name, ()):
                record = records.get(record_id)
                if record is None:
                    continue  # withdrawn
                entries = compiled.get(record_id)
                if entries is None:
                    entries = compiled[record_id] = compile_affected(record)
                if record_affects(entries.get(dep.canonical_name, ()), dep.version):
                    matched.append(record)
            answers[dep.key] = merge(matched, dep.canonical_name)
        return answers, []

    def _warn_if_old(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'updated'").fetchone()
        if row is None:
            return
        import time

        age = (time.time() - float(row[0])) / 86400
        if age > self.max_age_days:
            log.warning(
                "the offline advisory database is %.1f days old (over --max-db-age "
                "%g); run `vulnsweep db sync`",
                age,
                self.max_age_days,
            )

    def _candidates(self, conn: sqlite3.Connection, names: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            marks = ",".join("?" for _ in chunk)
            for name, record_id in conn.execute(
                f"SELECT name, id FROM affected WHERE name IN ({marks})", chunk
            ):
                out.setdefault(name, []).append(record_id)
        return out

    def _records(self, conn: sqlite3.Connection, ids: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" for _ in chunk)
            for record_id, body in conn.execute(
                f"SELECT id, body FROM records WHERE withdrawn = 0 AND id IN ({marks})", chunk
            ):
                out[record_id] = orjson.loads(body)
        return out

    async def query(self, dependencies: Sequence[Dependency], progress: Progress) -> ServiceAnswer:
        # Everything is answered by answer_from_cache; nothing is ever left to query.
        return ServiceAnswer(failures={d.key: "not in the offline database" for d in dependencies})

    def persist(self) -> None:
        pass
