"""The package's structure: layers that never import upward and modules that never
import in a circle (issue 21, item 4). Read from the source with `ast`, so a lazy
import inside a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "vulnsweep"

# Bottom to top: a package may import its own rank and those below, never above.
RANKS = {
    "vulnsweep": 0,  # __init__: the version
    "errors": 0,
    "redact": 0,
    "url": 0,
    "model": 0,
    "allocator": 0,  # the process's malloc arenas: imports nothing of ours
    "logs": 1,
    "advisories": 1,
    "target": 1,
    "net": 2,
    "cache": 2,
    "sources": 3,
    "index": 3,
    "services": 3,
    "triage": 3,
    "resolution": 4,
    "policy": 5,
    "audit": 6,
    "remediation": 6,
    "output": 7,
    "history": 7,
    "options": 8,
    "settings": 9,
    "run": 10,
    "commands": 10,
    "job": 10,
    "cli": 11,
    "hooks": 12,
    "__main__": 12,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = edges.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vulnsweep"):
                assert node.module is not None
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("vulnsweep"))
    return edges


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_package_has_a_rank() -> None:
    assert {_package(m) for m in _modules()} == set(RANKS)


def test_no_layer_imports_upward() -> None:
    modules = _modules()
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _imports(modules).items()
        for target in targets
        if RANKS[_package(target)] > RANKS[_package(module)]
    )
    assert upward == []


def test_no_import_circles() -> None:
    modules = _modules()
    edges = _imports(modules)
    circles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in modules:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    assert circles == []
