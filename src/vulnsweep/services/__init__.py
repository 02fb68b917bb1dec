"""Vulnerability services: each answers "which advisories affect these pins?".

A service first answers what its cache already knows (synchronously, before any
event loop or HTTP library is loaded, so a warm run stays cheap), then queries the
network for the rest. Failures are per dependency: what was answered is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from vulnsweep.errors import ServiceError
from vulnsweep.model import Dependency, Vulnerability

Key = tuple[str, str]


class Progress(Protocol):
    def add_queries(self, count: int) -> None: ...
    def queries_done(self, count: int) -> None: ...
    def add_records(self, count: int) -> None: ...
    def record_done(self) -> None: ...


class NullProgress:
    def add_queries(self, count: int) -> None:
        pass

    def queries_done(self, count: int) -> None:
        pass

    def add_records(self, count: int) -> None:
        pass

    def record_done(self) -> None:
        pass


@dataclass
class ServiceAnswer:
    vulnerabilities: dict[Key, list[Vulnerability]] = field(default_factory=dict)
    failures: dict[Key, str] = field(default_factory=dict)
    errors: list[ServiceError] = field(default_factory=list)
    # Not a failure: the service knows the pin cannot be audited (e.g. not on PyPI).
    skipped: dict[Key, str] = field(default_factory=dict)


# Called as soon as one dependency's answer is complete (for streaming output).
OnAnswer = Callable[[Key, list[Vulnerability]], None]


class VulnerabilityService(Protocol):
    name: str
    answers_locally: bool  # no network stage: a recheck cannot bypass its "cache"

    def answer_from_cache(
        self, dependencies: Sequence[Dependency]
    ) -> tuple[dict[Key, list[Vulnerability]], list[Dependency]]:
        """Answers known without the network, and the dependencies still to query."""
        ...

    async def query(
        self,
        dependencies: Sequence[Dependency],
        progress: Progress,
        on_answer: OnAnswer | None = None,
    ) -> ServiceAnswer:
        """Answers for what the cache could not; `on_answer` hears each as it completes."""
        ...

    def persist(self) -> None:
        """Write what this run learned to the cache (called off the event loop)."""
        ...
