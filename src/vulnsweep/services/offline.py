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
from vulnsweep.model import Dependency, Vulnerability, parsed_version_key
from vulnsweep.services import Key, OnAnswer, Progress, ServiceAnswer
from vulnsweep.services.advisories import merge
from vulnsweep.services.matching import AffectedPackage, Range, parse, sort_key

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
            matched: dict[Key, list[str]] = {}
            compiled: dict[tuple[str, str], list[AffectedPackage]] = {}
            for dep in dependencies:
                text = dep.version
                parsed = parse(text)
                key = parsed_version_key(parsed) if parsed is not None else text.strip()
                ordered = sort_key(parsed) if parsed is not None else None
                hits = []
                for record_id, raw in candidates.get(dep.canonical_name, ()):
                    entries = compiled.get((dep.canonical_name, record_id))
                    if entries is None:
                        entries = compiled[(dep.canonical_name, record_id)] = _compile(
                            record_id, raw
                        )
                    if any(e.affects_key(key, ordered) for e in entries):
                        hits.append(record_id)
                matched[dep.key] = hits
            records = self._records(conn, sorted({i for ids in matched.values() for i in ids}))
        finally:
            conn.close()
        answers = {
            dep.key: merge(
                [records[i] for i in matched[dep.key] if i in records], dep.canonical_name
            )
            for dep in dependencies
        }
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

    def _candidates(
        self, conn: sqlite3.Connection, names: list[str]
    ) -> dict[str, list[tuple[str, bytes]]]:
        """Per package: (advisory id, pre-normalised affected entries), withdrawn excluded."""
        out: dict[str, list[tuple[str, bytes]]] = {}
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            marks = ",".join("?" for _ in chunk)
            for name, record_id, entries in conn.execute(
                f"SELECT name, id, entries FROM affected WHERE name IN ({marks})",
                chunk,
            ):
                out.setdefault(name, []).append((record_id, entries))
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
        # Everything is answered by answer_from_cache; nothing is ever left to query.
        return ServiceAnswer(failures={d.key: "not in the offline database" for d in dependencies})

    def persist(self) -> None:
        pass


def _compile(record_id: str, raw: bytes) -> list[AffectedPackage]:
    return [
        AffectedPackage(
            frozenset(entry.get("v") or ()), tuple(Range.from_json(r) for r in entry.get("r") or ())
        )
        for entry in orjson.loads(raw)
    ]
