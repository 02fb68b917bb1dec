"""--fix on a Pipfile.lock locked (by pipenv) in January 2021: written directly, and
pipenv accepts it (`pipenv verify`), and what it exports installs with hashes."""

from __future__ import annotations

import json
import sys
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

PIPENV = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin" / "pipenv"

PIPFILE = """\
[[source]]
url = "{url}"
verify_ssl = false
name = "local"

[packages]
requests = "*"

[requires]
python_version = "3.11"
"""


def locked(lock: Path) -> dict[str, str]:
    return {n: e["version"].lstrip("=") for n, e in json.loads(lock.read_text())["default"].items()}


@pytest.mark.skipif(not PIPENV.exists(), reason="pipenv not installed (make install-tools)")
def test_pipfile_lock_fixed_and_accepted_by_pipenv(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "Pipfile").write_text(PIPFILE.format(url=fix_index.url))
    env = tool_env(fix_index, tmp_path / "tools")
    env.update(
        PIPENV_VENV_IN_PROJECT="1", PIPENV_CACHE_DIR=str(tmp_path / "pipenv"),
        PIPENV_PYTHON=sys.executable, PIPENV_NOSPIN="1", PIPENV_YES="1",
        PIPENV_IGNORE_VIRTUALENVS="1", WORKON_HOME=str(tmp_path / "venvs"),
    )  # fmt: skip
    with as_of(fix_index, "2021-01-05"):
        done = tool(str(PIPENV), "lock", cwd=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    lock = project / "Pipfile.lock"
    assert locked(lock) == {
        "certifi": "2020.12.5", "chardet": "4.0.0", "idna": "2.10", "requests": "2.25.1",
        "urllib3": "1.26.2",
    }  # fmt: skip
    plan = fix_with_project_index(lock, osv_server.url, tmp_path, env)
    moves = [(c["name"], c["old_version"], c["new_version"]) for c in plan["changes"]]
    assert ("chardet", "4.0.0", None) in moves and ("charset-normalizer", None, "3.4.0") in moves
    assert locked(lock) == {
        "certifi": "2024.7.4", "charset-normalizer": "3.4.0", "idna": "3.7",
        "requests": "2.31.0", "urllib3": "1.26.18",
    }  # fmt: skip
    verify = tool(str(PIPENV), "verify", cwd=project, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    exported = tool(str(PIPENV), "requirements", "--hash", cwd=project, env=env)
    assert exported.returncode == 0, exported.stderr
    (tmp_path / "exported.txt").write_text(exported.stdout)
    pip = tool(
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
        "--require-hashes", "-r", str(tmp_path / "exported.txt"), "--only-binary", ":all:",
        "--target", str(tmp_path / "t"), env=env,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    reaudit_finds_nothing_fixable(lock, osv_server.url, tmp_path)
