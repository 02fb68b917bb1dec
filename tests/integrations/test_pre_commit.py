"""The pre-commit hook, through `pre-commit try-repo` itself: only the pinning files a
commit touches are audited, and with the offline database present it needs no network.
(The `vulnsweep-system` hook is tried: the `vulnsweep` one differs only in having
pre-commit install vulnsweep, which would need PyPI.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import DATA, REPO_ROOT, cli_env, run_cli
from tests.servers.osv import OsvServer

PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    (repo / "requirements").mkdir(parents=True)
    (repo / "requirements" / "base.txt").write_text("jinja2==2.10.1\n")
    (repo / "requirements-dev.txt").write_text("idna==3.6\n")
    (repo / "README.md").write_text("jinja2==2.10.1 is not a pin here\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    return repo


def try_repo(
    project: Path, tmp_path: Path, osv_url: str, *files: str
) -> subprocess.CompletedProcess[str]:
    assert PRE_COMMIT is not None
    env = cli_env(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
            "VULNSWEEP_OSV_URL": osv_url,
            "VULNSWEEP_CACHE_DIR": str(tmp_path / "cache"),
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
        }
    )  # fmt: skip
    return subprocess.run(
        [
            PRE_COMMIT,
            "try-repo",
            str(REPO_ROOT),
            "vulnsweep-system",
            "--verbose",
            "--files",
            *files,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_hook_definitions() -> None:
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["vulnsweep", "vulnsweep-system"]
    assert {h["language"] for h in hooks} == {"python", "system"}
    import re

    pattern = re.compile(hooks[0]["files"])
    matches = [
        "requirements.txt", "a/requirements-dev.txt", "constraints.txt", "requirements/base.txt",
        "requirements.in", "pyproject.toml", "svc/uv.lock", "poetry.lock", "Pipfile.lock",
        "pdm.lock", "pylock.toml", "pylock.dev.toml",
    ]  # fmt: skip
    assert all(pattern.search(m) for m in matches)
    assert not any(pattern.search(m) for m in ["README.md", "setup.py", "lockfile.txt", "x.lock"])


def test_try_repo_audits_only_the_files_passed(
    project: Path, tmp_path: Path, osv_server: OsvServer
) -> None:
    proc = try_repo(project, tmp_path, osv_server.url, "requirements/base.txt", "README.md")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "PYSEC-2021-66" in out  # jinja2, from the file passed
    assert "idna" not in out  # requirements-dev.txt was not passed: not audited
    assert osv_server.hits["querybatch"] == 1


def test_try_repo_works_offline_with_the_database(
    project: Path, tmp_path: Path, osv_server: OsvServer
) -> None:
    imported = run_cli(
        "db", "import", str(DATA / "osv-pypi-2024-10.zip"), "--cache-dir", str(tmp_path / "cache")
    )
    assert imported.returncode == 0, imported.stderr
    proc = try_repo(project, tmp_path, "http://127.0.0.1:9", "requirements-dev.txt")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "PYSEC-2024-60" in out  # idna 3.6, matched against the offline database
    assert osv_server.hits["querybatch"] == 0


def test_a_pyproject_that_only_configures_tools_does_not_block_a_commit(tmp_path: Path) -> None:
    tools = tmp_path / "pyproject.toml"
    tools.write_text("[tool.ruff]\nline-length = 100\n")
    hook = [sys.executable, "-c", "import sys; from vulnsweep.hooks import pre_commit; "
            "sys.exit(pre_commit())"]  # fmt: skip
    proc = subprocess.run([*hook, str(tools)], capture_output=True, text=True, env=cli_env())
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    # The same file given straight to vulnsweep is still an error: it names no project.
    assert run_cli(str(tools), "--dry-run").returncode == 2
    # A pyproject with a [project] table is still audited by the hook.
    project = tmp_path / "app" / "pyproject.toml"
    project.parent.mkdir()
    project.write_text('[project]\nname = "app"\nversion = "1"\ndependencies = ["six==1.16.0"]\n')
    proc = subprocess.run(
        [*hook, "--dry-run", str(project), str(tools)],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert (proc.returncode, proc.stderr) == (0, "Dry run: would audit 1 packages (0 skipped)\n")
