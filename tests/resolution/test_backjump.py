"""The resolver keeps each criterion's incompatibilities once, and picks the same.

The graph below (ten projects of six releases; found by a seeded search for one where
plain resolvelib 1.2 repeats incompatibilities) backjumps over the same ground several
times. A requirement is a project and the releases it allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from resolvelib import AbstractProvider, BaseReporter
from resolvelib.resolvers.resolution import Resolution

from vulnsweep.resolution.backjump import DedupingResolver, _Resolution

Req = tuple[str, str]  # project, allowed releases as digits
Cand = tuple[str, int]

GRAPH: dict[str, dict[int, dict[str, str]]] = {
    "p0": {
        1: {"p7": "1456", "p9": "2356", "p8": "3456"},
        2: {"p7": "124"},
        3: {"p6": "146", "p4": "25", "p7": "2"},
        4: {"p1": "25"},
        5: {"p6": "234"},
        6: {"p9": "135", "p3": "56", "p8": "2", "p1": "2346"},
    },
    "p1": {
        1: {"p6": "1346"},
        2: {"p3": "456"},
        3: {"p7": "14", "p6": "156"},
        4: {"p7": "136", "p3": "234", "p8": "134"},
        5: {"p5": "46", "p8": "1245", "p2": "6"},
        6: {"p3": "3456", "p9": "1", "p2": "134"},
    },
    "p2": {
        1: {"p7": "1234", "p5": "126"},
        2: {"p7": "125"},
        3: {"p5": "1"},
        4: {"p9": "1"},
        5: {"p7": "1345"},
        6: {"p8": "46", "p5": "4"},
    },
    "p3": {
        1: {"p9": "3"},
        2: {"p6": "25", "p9": "345"},
        3: {"p9": "1236", "p6": "1246"},
        4: {"p6": "245", "p7": "3456"},
        5: {"p8": "1256", "p4": "1346", "p5": "1256"},
        6: {"p8": "13", "p4": "23", "p6": "3"},
    },
    "p4": {
        1: {"p5": "3456"},
        2: {"p6": "1256", "p7": "5"},
        3: {"p7": "4", "p9": "16", "p6": "346"},
        4: {"p5": "234", "p7": "5", "p6": "1234", "p8": "234"},
        5: {"p8": "126", "p6": "5"},
        6: {"p9": "56", "p7": "256", "p5": "15"},
    },
    "p5": {1: {"p7": "456"}, 2: {}, 3: {"p6": "456"}, 4: {"p8": "145"}, 5: {"p8": "1245"}, 6: {}},
    "p6": {
        1: {},
        2: {"p7": "1", "p9": "25"},
        3: {"p8": "134"},
        4: {"p8": "1"},
        5: {},
        6: {"p7": "345"},
    },
    "p7": {1: {}, 2: {}, 3: {}, 4: {"p8": "125"}, 5: {}, 6: {}},
    "p8": {1: {"p9": "234"}, 2: {"p9": "46"}, 3: {}, 4: {}, 5: {"p9": "6"}, 6: {"p9": "1236"}},
    "p9": {v: {} for v in range(1, 7)},
}
ROOTS: list[Req] = [("p0", "123456"), ("p1", "123456")]
EXPECTED = {"p0": 5, "p1": 5, "p2": 6, "p5": 4, "p6": 3, "p8": 4}


class GraphProvider(AbstractProvider[Req, Cand, str]):
    def identify(self, requirement_or_candidate: Req | Cand) -> str:
        return requirement_or_candidate[0]

    def get_preference(self, identifier: str, *args: Any, **kwargs: Any) -> Any:
        return identifier

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Cand]],
    ) -> Iterable[Cand]:
        excluded = {version for _, version in incompatibilities[identifier]}
        wanted = list(requirements[identifier])
        return [
            (identifier, version)
            for version in sorted(GRAPH[identifier], reverse=True)
            if version not in excluded and all(str(version) in allowed for _, allowed in wanted)
        ]

    def is_satisfied_by(self, requirement: Req, candidate: Cand) -> bool:
        return str(candidate[1]) in requirement[1]

    def get_dependencies(self, candidate: Cand) -> Sequence[Req]:
        return list(GRAPH[candidate[0]][candidate[1]].items())


def most_repeated(resolution_class: type[Resolution]) -> tuple[dict[str, int], int]:  # type: ignore[type-arg]
    """What the resolution picks, and the most repeats any criterion's list held."""
    repeats = [0]

    class Watched(resolution_class):  # type: ignore[valid-type,misc]
        def _patch_criteria(self, incompatibilities_from_broken: Any) -> bool:
            patched = bool(super()._patch_criteria(incompatibilities_from_broken))
            for criterion in self.state.criteria.values():
                held = criterion.incompatibilities
                repeats[0] = max(repeats[0], len(held) - len({id(c) for c in held}))
            return patched

    state = Watched(GraphProvider(), BaseReporter()).resolve(ROOTS, max_rounds=500)
    return {name: version for name, version in state.mapping.values()}, repeats[0]


def test_plain_resolvelib_repeats_incompatibilities_on_this_graph() -> None:
    picked, repeats = most_repeated(Resolution)
    assert picked == EXPECTED
    assert repeats == 119


def test_each_incompatibility_is_kept_once_and_the_picks_are_the_same() -> None:
    picked, repeats = most_repeated(_Resolution)
    assert picked == EXPECTED
    assert repeats == 0


def test_the_resolver_resolves_with_the_deduplicating_resolution() -> None:
    result = DedupingResolver(GraphProvider(), BaseReporter()).resolve(ROOTS, max_rounds=500)
    assert {name: version for name, version in result.mapping.values()} == EXPECTED
