"""The pipeline between sources and writers: dedupe -> cache -> network -> policy.

The network stage (and with it aiohttp and the event loop) only starts when the
cache cannot answer everything, which keeps a warm run close to interpreter start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vulnsweep.errors import ServiceError
from vulnsweep.model import (
    AuditResult,
    Dependency,
    Finding,
    ResolutionRequest,
    SkippedDependency,
    Unaudited,
    Vulnerability,
)
from vulnsweep.policy import FindingPolicy
from vulnsweep.services import (
    Key,
    NullProgress,
    OnAnswer,
    Progress,
    ServiceAnswer,
    VulnerabilityService,
)
from vulnsweep.sources import Collected, deduplicate

if TYPE_CHECKING:
    from vulnsweep.net.session import Network


@dataclass
class AuditOutcome:
    result: AuditResult
    errors: list[ServiceError] = field(default_factory=list)


def collect(
    sources: Iterable[Iterable[Collected]],
    requests: list[ResolutionRequest] | None = None,
) -> tuple[list[Dependency], list[SkippedDependency]]:
    """Every source's pins, deduplicated; sets that need resolving go to `requests`."""
    return deduplicate((item for source in sources for item in source), requests)


def answers_for(
    service: VulnerabilityService,
    dependencies: Sequence[Dependency],
    progress: Progress | None = None,
    on_answer: OnAnswer | None = None,
    fresh: bool = False,
    network: Network | None = None,
) -> tuple[dict[Key, list[Vulnerability]], ServiceAnswer]:
    """The cache first, the network for the rest (persisting what it learned).

    `on_answer` hears cached answers at once and network ones as they complete; the
    returned ServiceAnswer carries the network's failures, skips and errors. `fresh`
    asks the service about every pin (a recheck): only advisory records stay cached.
    """
    if fresh and not service.answers_locally:
        answers: dict[Key, list[Vulnerability]] = {}
        misses = list(dependencies)
    else:
        answers, misses = service.answer_from_cache(dependencies)
    if on_answer is not None:
        for key, vulns in answers.items():
            on_answer(key, vulns)
    answer = ServiceAnswer()
    if misses:
        from vulnsweep.net.session import run_once

        query = lambda: service.query(misses, progress or NullProgress(), on_answer=on_answer)  # noqa: E731
        answer = network.run(query) if network is not None else run_once(query)
        service.persist()
        answers.update(answer.vulnerabilities)
    return answers, answer


def audit(
    dependencies: Sequence[Dependency],
    skipped: Sequence[SkippedDependency],
    service: VulnerabilityService,
    policy: FindingPolicy,
    progress: Progress | None = None,
    on_findings: Callable[[Dependency, list[Finding]], None] | None = None,
    fresh: bool = False,
    network: Network | None = None,
    annotate: Callable[[list[Vulnerability]], list[Vulnerability]] | None = None,
) -> AuditOutcome:
    """Audit every dependency; `on_findings` hears each one the moment it is answered.
    `annotate` adds what else is known of each vulnerability (exploitation signals)
    before policy judges it."""
    by_key = {dep.key: dep for dep in dependencies}
    settled: dict[Key, list[Finding]] = {}

    def settle(key: Key, vulns: list[Vulnerability]) -> None:
        if key in settled:
            return
        if annotate is not None and vulns:
            vulns = annotate(vulns)
        findings = settled[key] = policy.findings(by_key[key], vulns)
        if on_findings is not None:
            on_findings(by_key[key], findings)

    _, answer = answers_for(
        service, dependencies, progress, on_answer=settle, fresh=fresh, network=network
    )
    outcome = AuditOutcome(AuditResult(skipped=list(skipped)), errors=answer.errors)
    failures, skips = answer.failures, answer.skipped
    for dep in dependencies:
        if dep.key in skips:
            outcome.result.skipped.append(
                SkippedDependency(dep.name, skips[dep.key], dep.origins, version=dep.version)
            )
        elif dep.key in settled:
            outcome.result.audited.append((dep, settled[dep.key]))
            if dep.key in failures:  # what was found is reported; the rest is not known
                outcome.result.unaudited.append(Unaudited(dep, failures[dep.key]))
        else:
            reason = failures.get(dep.key, f"{service.name} gave no answer")
            outcome.result.unaudited.append(Unaudited(dep, reason))
    return outcome
