"""--fix on a PDM project locked (by PDM) in January 2021: pdm.lock written directly,
and PDM accepts it as it stands (`pdm lock --check`, and an install plan from it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.remediation.conftest import (
    fix_with_project_index,
    reaudit_finds_nothing_fixable,
    tool,
    tool_env,
)
from tests.remediation.test_poetry import as_of
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer

PDM = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin" / "pdm"

PYPROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "requests[socks]",
]

[tool.pdm]
distribution = false

[[tool.pdm.source]]
name = "pypi"
url = "{url}"
"""


def versions(lock: Path) -> dict[str, str]:
    found = re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock.read_text())
    return dict(found)


@pytest.mark.skipif(not PDM.exists(), reason="PDM not installed (make install-tools)")
def test_pdm_lock_fixed_and_accepted_by_pdm(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(PYPROJECT.format(url=fix_index.url))
    env = tool_env(fix_index, tmp_path / "tools")
    env.update(PDM_CACHE_DIR=str(tmp_path / "pdm"), PDM_HOME=str(tmp_path / "pdm-home"),
               PDM_CHECK_UPDATE="false", PDM_IGNORE_SAVED_PYTHON="1")  # fmt: skip
    with as_of(fix_index, "2021-01-05"):
        done = tool(str(PDM), "lock", cwd=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    lock = project / "pdm.lock"
    assert versions(lock) == {
        "certifi": "2020.12.5", "chardet": "4.0.0", "idna": "2.10", "pysocks": "1.7.1",
        "requests": "2.25.1", "urllib3": "1.26.2",
    }  # fmt: skip
    plan = fix_with_project_index(lock, osv_server.url, tmp_path, env)
    moves = [(c["name"], c["old_version"], c["new_version"]) for c in plan["changes"]]
    assert ("chardet", "4.0.0", None) in moves and ("charset-normalizer", None, "3.4.0") in moves
    assert versions(lock) == {
        "certifi": "2024.7.4", "charset-normalizer": "3.4.0", "idna": "3.7",
        "pysocks": "1.7.1", "requests": "2.31.0", "urllib3": "1.26.18",
    }  # fmt: skip
    check = tool(str(PDM), "lock", "--check", cwd=project, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    install = tool(str(PDM), "sync", "--dry-run", cwd=project, env=env)
    assert install.returncode == 0, install.stdout + install.stderr
    for name, version in [("requests", "2.31.0"), ("charset-normalizer", "3.4.0")]:
        assert f"{name} {version}" in install.stdout, install.stdout
    reaudit_finds_nothing_fixable(lock, osv_server.url, tmp_path)
