"""Severity from an advisory: CVSS v3.x / v4.0 base scores computed from the vectors
(with the `cvss` library, not by hand), else GHSA's `database_specific.severity`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
_GHSA = {
    "LOW": "LOW",
    "MODERATE": "MEDIUM",
    "MEDIUM": "MEDIUM",
    "HIGH": "HIGH",
    "CRITICAL": "CRITICAL",
}


@functools.lru_cache(maxsize=4096)
def base_score(vector: str) -> float | None:
    """The CVSS base score of a v3.x or v4.0 vector; None when it cannot be computed."""
    try:
        if vector.startswith("CVSS:4."):
            from cvss import CVSS4

            return float(CVSS4(vector).base_score)
        if vector.startswith("CVSS:3."):
            from cvss import CVSS3

            return float(CVSS3(vector).base_score)
    except Exception as exc:  # the library raises its own errors for malformed vectors
        log.info("cannot score CVSS vector %r: %s", vector, exc)
    return None


def level(score: float) -> str | None:
    """The usual CVSS bands: 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10 critical."""
    if score <= 0:
        return None
    if score < 4.0:
        return "LOW"
    if score < 7.0:
        return "MEDIUM"
    if score < 9.0:
        return "HIGH"
    return "CRITICAL"


def assess(
    advisories: Iterable[tuple[str, Iterable[tuple[str, str]], str | None]],
    warn: Callable[[str, str, str], None] | None = None,
) -> tuple[str | None, float | None, str | None]:
    """(level, score, vector) for an alias group: the worst any of its advisories
    states. Each advisory is (id, its (type, vector) pairs, database_specific.severity);
    a vector that cannot be scored is named through `warn` and otherwise left out."""
    best: tuple[float, str] | None = None
    fallback: str | None = None
    for advisory_id, vectors, stated in advisories:
        for kind, vector in vectors:
            if kind not in ("CVSS_V3", "CVSS_V4"):
                continue
            score = base_score(vector)
            if score is None:
                if warn is not None:
                    warn(
                        advisory_id,
                        f"severity {kind}",
                        f"{vector[:80]!r} cannot be scored; dropped",
                    )
                continue
            if best is None or score > best[0]:
                best = (score, vector)
        if isinstance(stated, str) and stated.upper() in _GHSA:
            candidate = _GHSA[stated.upper()]
            if fallback is None or LEVELS.index(candidate) > LEVELS.index(fallback):
                fallback = candidate
    if best is not None:
        return level(best[0]) or fallback, best[0], best[1]
    return fallback, None, None
