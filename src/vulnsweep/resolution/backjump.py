"""resolvelib's Resolver, with each criterion's known incompatibilities kept once.

resolvelib 1.2's backjump copies every criterion's incompatibilities from the state it
abandons, then appends the same criterion's incompatibilities from the state it returns
to. The abandoned state grew out of that one, so the list mostly repeats itself, and it
doubles on each backjump over the same ground: on `apache-airflow[all]` a criterion
held 70,840 entries of which 47 were distinct, and several such resolutions at once
took a run past 3 GB. Which candidates are incompatible is a set; the order of first
sighting is kept, so what the provider sees (and so every pick) is unchanged.

This leans on `Resolution._patch_criteria`, a private method, which is why the
dependency is pinned to the 1.2 series; tests/resolution/test_backjump.py fails if the
method stops being called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resolvelib import Resolver
from resolvelib.resolvers.resolution import Resolution, _build_result


class _Resolution(Resolution):  # type: ignore[type-arg]
    def _patch_criteria(self, incompatibilities_from_broken: list[tuple[Any, list[Any]]]) -> bool:
        try:
            return bool(super()._patch_criteria(incompatibilities_from_broken))
        finally:
            # The lists passed in become the patched criteria's own: no one else holds them.
            for _, incompatibilities in incompatibilities_from_broken:
                if len(incompatibilities) > 1:
                    incompatibilities[:] = {id(c): c for c in incompatibilities}.values()


class DedupingResolver(Resolver):  # type: ignore[type-arg]
    """resolvelib's Resolver.resolve, with the resolution above."""

    def resolve(  # type: ignore[override]  # as resolvelib's own Resolver.resolve
        self, requirements: Iterable[Any], max_rounds: int = 100
    ) -> Any:
        resolution = _Resolution(self.provider, self.reporter)
        return _build_result(resolution.resolve(requirements, max_rounds=max_rounds))
