"""`--resolver uv`: the same requirement sets resolved by `uv pip compile`.

uv reads index credentials from its environment (never the command line, where other
users could see them); its `# via` annotations become the dependency paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from vulnsweep.errors import ServiceError, UsageError
from vulnsweep.model import Dependency, Origin, ResolutionRequest, canonical_name
from vulnsweep.redact import redact_text
from vulnsweep.resolution.graph import trace
from vulnsweep.resolution.provider import Requirement
from vulnsweep.resolution.resolve import ResolutionError, Resolved, give_up, root_requirements
from vulnsweep.target import TargetEnvironment
from vulnsweep.url import Url, reveal

_UV_PLATFORMS = {
    "linux": "x86_64-unknown-linux-gnu",
    "macos": "aarch64-apple-darwin",
    "windows": "x86_64-pc-windows-msvc",
}


def resolve_with_uv(
    requests: Sequence[ResolutionRequest],
    index_url: str | Url,
    extra_index_urls: Sequence[str | Url],
    target: TargetEnvironment,
    pre: bool,
) -> Resolved:
    # On PATH, or installed beside this interpreter (`pip install uv` in the same venv).
    uv = shutil.which("uv") or shutil.which("uv", path=os.path.dirname(sys.executable))
    if uv is None:
        raise UsageError("--resolver uv: no `uv` on PATH (install uv, or use the builtin resolver)")
    resolved = Resolved()
    for request in requests:
        _resolve_one(uv, request, index_url, extra_index_urls, target, pre, resolved)
    return resolved


def _resolve_one(
    uv: str,
    request: ResolutionRequest,
    index_url: str | Url,
    extra_index_urls: Sequence[str | Url],
    target: TargetEnvironment,
    pre: bool,
    resolved: Resolved,
) -> None:
    roots, skipped = root_requirements(request.requirements, target)
    constraints, more_skipped = root_requirements(request.constraints, target)
    resolved.skipped.extend(skipped + more_skipped)
    if not roots:
        return
    with tempfile.TemporaryDirectory(prefix="vulnsweep-uv-") as tmp:
        requirements = Path(tmp) / "requirements.in"
        requirements.write_text("".join(f"{r.text}\n" for r in roots))
        command = [
            uv, "pip", "compile", str(requirements), "--quiet", "--no-header",
            "--annotation-style", "line",
            "--python-version", str(target.python_version),
        ]  # fmt: skip
        if constraints:
            constraint_file = Path(tmp) / "constraints.txt"
            constraint_file.write_text("".join(f"{c.text}\n" for c in constraints))
            command += ["--constraint", str(constraint_file)]
        if target.platform in _UV_PLATFORMS:
            command += ["--python-platform", _UV_PLATFORMS[target.platform]]
        if pre or request.pre:
            command += ["--prerelease", "allow"]
        env = dict(os.environ)
        # uv is the transport here: only its environment sees the URLs' credentials.
        env["UV_INDEX_URL"] = request.index_url or reveal(index_url)
        extras = [*map(reveal, extra_index_urls), *request.extra_index_urls]
        if extras:
            env["UV_EXTRA_INDEX_URL"] = " ".join(extras)
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        # uv explains over several `cause:` lines; ours is one line.
        text = redact_text(result.stderr.replace(str(requirements), request.label))
        message = "; ".join(
            line.strip().removeprefix("error: ") for line in text.splitlines() if line.strip()
        )
        if "Failed to fetch" in text or "Request failed" in text:
            raise ServiceError("package index (via uv)", request.label, message)
        give_up(
            request, ResolutionError(request.label, f"uv pip compile failed: {message}"), resolved
        )
        return
    resolved.dependencies.extend(_from_compiled(result.stdout, roots, request.project))


def _from_compiled(
    text: str, roots: Sequence[Requirement], project: str | None
) -> list[Dependency]:
    """`name==version  # via a, b` lines -> dependencies with origins and paths."""
    pins: dict[str, str] = {}
    parents: dict[str, list[str]] = {}
    for line in text.splitlines():
        pin, _, comment = line.partition("#")
        name, sep, version = pin.strip().partition("==")
        if not sep:
            continue
        name = canonical_name(name.split("[", 1)[0].strip())
        pins[name] = version.strip()
        via = comment.strip().removeprefix("via").split(",")
        parents[name] = [
            canonical_name(p.strip().split("[", 1)[0])
            for p in via
            if p.strip() and not p.strip().startswith("-")
        ]
    children: dict[str, list[str]] = {}
    for child, of_child in parents.items():
        for parent in of_child:
            children.setdefault(parent, []).append(child)
    root_origins: dict[str, list[Origin]] = {}
    for root in roots:
        if root.origin is not None and root.name in pins:
            root_origins.setdefault(root.name, []).append(root.origin)
    of = trace(
        list(root_origins),
        root_origins,
        lambda node: children.get(node, ()),
        lambda node: parents.get(node, ()),
        lambda node: node,
        (project,) if project else (),
    )
    return [Dependency(name, version, *of(name)) for name, version in pins.items()]
