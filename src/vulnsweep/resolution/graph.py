"""How each resolved release was reached: the requirement lines whose subtree holds it
(its origins) and the chains of projects that lead to it (its dependency paths)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

from vulnsweep.model import Origin, canonical_name

MAX_PATHS = 5  # dependency paths kept per package
Node = TypeVar("Node", bound=Hashable)


def trace(
    tops: Sequence[Node],
    root_origins: Mapping[Node, Sequence[Origin]],
    children: Callable[[Node], Iterable[Node]],
    parents: Callable[[Node], Iterable[Node]],
    label: Callable[[Node], str],
    head: tuple[str, ...] = (),
) -> Callable[[Node], tuple[tuple[Origin, ...], tuple[tuple[str, ...], ...]]]:
    """`tops` are the graph's roots; the returned function gives a node's origins and
    paths (shortest first, at most MAX_PATHS, each through a different parent).
    Children are visited in sorted order: the same input gives the same report."""
    shortest: dict[Node, tuple[str, ...]] = {}
    queue: deque[Node] = deque()
    for top in tops:
        if top not in shortest:
            shortest[top] = (label(top),)
            queue.append(top)
    while queue:
        node = queue.popleft()
        for child in sorted(children(node)):  # type: ignore[type-var]
            if child not in shortest:
                shortest[child] = (*shortest[node], label(child))
                queue.append(child)

    reached: dict[Node, list[Origin]] = {}
    for root, origins in root_origins.items():
        seen, stack = {root}, [root]
        while stack:
            node = stack.pop()
            reached.setdefault(node, []).extend(origins)
            for child in children(node):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)

    def of(node: Node) -> tuple[tuple[Origin, ...], tuple[tuple[str, ...], ...]]:
        chains = [shortest.get(node, (label(node),))]
        chains += [(*shortest[p], label(node)) for p in parents(node) if p in shortest]
        paths = tuple(
            dict.fromkeys(
                (*head, *_collapse(chain)) for chain in sorted(chains, key=lambda c: (len(c), c))
            )
        )[:MAX_PATHS]
        return tuple(dict.fromkeys(reached.get(node, ()))), paths

    return of


def _collapse(chain: tuple[str, ...]) -> tuple[str, ...]:
    """`flask[async] -> flask -> werkzeug` reads `flask[async] -> werkzeug`."""
    out: list[str] = []
    for item in chain:
        if out and _base(out[-1]) == _base(item):
            continue
        out.append(item)
    return tuple(out)


def _base(label: str) -> str:
    return canonical_name(label.split("[", 1)[0])
