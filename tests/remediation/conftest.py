"""A local index of old, vulnerable releases and their fixes (tests/data/index-fix/,
real PyPI metadata and upload times), serving built wheels so pip and uv can install
from it and check hashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.index import IndexFaults, IndexServer

FIX_INDEX = Path(__file__).resolve().parents[1] / "data" / "index-fix"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def _fix_index_session() -> Iterator[IndexServer]:
    with IndexServer(FIX_INDEX) as server:
        yield server


@pytest.fixture
def fix_index(_fix_index_session: IndexServer) -> IndexServer:
    _fix_index_session.reset(IndexFaults(files=True))
    return _fix_index_session


def tool_env(index: IndexServer, cache: Path) -> dict[str, str]:
    """uv and pip pointed at the local index only, with caches of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env.update(
        UV_DEFAULT_INDEX=index.url,
        UV_CACHE_DIR=str(cache / "uv"),
        UV_PYTHON=sys.executable,
        UV_NO_PROGRESS="1",
        PIP_INDEX_URL=index.url,
        PIP_CACHE_DIR=str(cache / "pip"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def tool(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False
    )


def fix_with_project_index(
    lock: Path, osv_url: str, tmp: Path, env: dict[str, str]
) -> dict[str, Any]:
    """`--fix` on a lock whose project names its own index: the command line's index
    is a closed port, so only the project's settings can make this work. Returns the
    one file's plan, after checking the run exited 1 and wrote it, each change saying
    why it moved."""
    from tests.helpers import run_cli

    report = tmp / "r.json"
    proc = run_cli(
        str(lock), "--fix", "--osv-url", osv_url, "--cache-dir", str(tmp / "c"),
        "-f", "json", "-o", str(report),
        env={**env, "PIP_INDEX_URL": "http://127.0.0.1:9/simple"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    [plan] = json.loads(report.read_text())["fix_plan"]
    assert plan["written"] is True, plan
    assert all(c["closes"] or c["because"] for c in plan["changes"])  # each says why
    return dict(plan)


def reaudit_finds_nothing_fixable(lock: Path, osv_url: str, tmp: Path) -> None:
    from tests.helpers import run_cli

    again = run_cli(
        str(lock), "--osv-url", osv_url, "--cache-dir", str(tmp / "c"), "--only-fixable"
    )
    assert again.returncode == 0, again.stdout + again.stderr
