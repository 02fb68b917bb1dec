"""--fix on a Poetry project locked (by Poetry) in January 2021: poetry.lock written
directly, and Poetry accepts it as it stands (`poetry check --lock`, and an install
plan from the lock alone)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from tests.remediation.conftest import (
    fix_with_project_index,
    reaudit_finds_nothing_fixable,
    tool,
    tool_env,
)
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer

POETRY = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin" / "poetry"

PYPROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.11,<4"
dependencies = [
    "requests",
]

[tool.poetry]
package-mode = false

[[tool.poetry.source]]
name = "local"
url = "{url}"
priority = "primary"
"""


@contextmanager
def as_of(index: IndexServer, day: str) -> Iterator[None]:
    """The index as it was on `day`: only files uploaded before it (same port, so the
    lock's source URL stays the index's)."""
    full = index.projects
    index.projects = {
        name: replace(p, files=[f for f in p.files if (f.get("upload-time") or "") < day])
        for name, p in full.items()
    }
    try:
        yield
    finally:
        index.projects = full


def poetry(*args: str, cwd: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return tool(str(POETRY), *args, cwd=cwd, env=env)


@pytest.mark.skipif(not POETRY.exists(), reason="Poetry not installed (make install-tools)")
def test_poetry_lock_fixed_and_accepted_by_poetry(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT.format(url=fix_index.url))
    env = tool_env(fix_index, tmp_path / "tools")
    env.update(POETRY_CACHE_DIR=str(tmp_path / "poetry"), POETRY_VIRTUALENVS_IN_PROJECT="true")
    with as_of(fix_index, "2021-01-05"):
        done = poetry("lock", cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    lock = project / "poetry.lock"
    versions = dict(
        re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock.read_text())
    )
    assert versions == {
        "certifi": "2020.12.5", "chardet": "4.0.0", "idna": "2.10", "requests": "2.25.1",
        "urllib3": "1.26.2",
    }  # fmt: skip
    plan = fix_with_project_index(lock, osv_server.url, tmp_path, env)
    versions = dict(
        re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock.read_text())
    )
    assert versions == {  # chardet: only an optional dependency of requests 2.31.0 now
        "certifi": "2024.7.4", "charset-normalizer": "3.4.0",
        "idna": "3.7", "requests": "2.31.0", "urllib3": "1.26.18",
    }  # fmt: skip
    check = poetry("check", "--lock", cwd=project, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    plan_install = poetry("install", "--dry-run", "--no-interaction", cwd=project, env=env)
    assert plan_install.returncode == 0, plan_install.stdout + plan_install.stderr
    for name, version in [("requests", "2.31.0"), ("charset-normalizer", "3.4.0"), ("idna", "3.7")]:
        assert f"Installing {name} ({version})" in plan_install.stdout, plan_install.stdout
    assert "chardet" not in plan_install.stdout
    assert ("chardet", "4.0.0", None) in [
        (c["name"], c["old_version"], c["new_version"]) for c in plan["changes"]
    ]
    reaudit_finds_nothing_fixable(lock, osv_server.url, tmp_path)
