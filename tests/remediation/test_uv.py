"""--fix on a uv project locked in January 2021: vulnsweep plans, uv writes the lock
(`uv lock --upgrade-package name==version`), and uv accepts it as it stands."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.helpers import run_cli
from tests.remediation.conftest import BIN, tool, tool_env
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer

PYPROJECT = """\
[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
    "requests",
{extra}]
"""


def uv_project(index: IndexServer, directory: Path, extra: str = "") -> Path:
    directory.mkdir()
    (directory / "pyproject.toml").write_text(PYPROJECT.format(extra=extra))
    env = tool_env(index, directory.parent / "tools")
    done = tool(str(BIN / "uv"), "lock", "--exclude-newer", "2021-01-05", env=env, cwd=directory)
    assert done.returncode == 0, done.stderr
    lock = directory / "uv.lock"
    # Locked then; audited and fixed now, with no cut-off date left in the lock.
    text = re.sub(r"\n\[options\]\nexclude-newer = [^\n]*\n", "\n", lock.read_text())
    lock.write_text(text)
    assert tool(str(BIN / "uv"), "lock", "--locked", env=env, cwd=directory).returncode == 0
    return lock


def locked(lock: Path) -> dict[str, str]:
    return dict(
        re.findall(r'\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', lock.read_text())
    )


def fix(lock: Path, osv: OsvServer, index: IndexServer, tmp: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        str(lock), "--fix", "--osv-url", osv.url, "--index-url", index.url,
        "--cache-dir", str(tmp / "c"), "-f", "json", "-o", str(tmp / "report.json"), *extra,
        env=tool_env(index, tmp / "tools"),
    )  # fmt: skip


def test_uv_lock_fixed_by_uv_and_accepted(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    lock = uv_project(fix_index, tmp_path / "app")
    assert locked(lock) == {
        "app": "0.1.0", "certifi": "2020.12.5", "chardet": "4.0.0", "idna": "2.10",
        "requests": "2.25.1", "urllib3": "1.26.2",
    }  # fmt: skip
    proc = fix(lock, osv_server, fix_index, tmp_path)
    assert proc.returncode == 1, proc.stderr
    [plan] = json.loads((tmp_path / "report.json").read_text())["fix_plan"]
    assert plan["written"] is True, plan
    assert all(c["closes"] or c["because"] for c in plan["changes"])  # each says why
    # uv's universal resolution dropped chardet too: the plan says what was written.
    assert [(c["name"], c["old_version"], c["new_version"]) for c in plan["changes"]] == [
        ("certifi", "2020.12.5", "2024.7.4"), ("chardet", "4.0.0", None),
        ("charset-normalizer", None, "3.4.0"), ("idna", "2.10", "3.7"),
        ("requests", "2.25.1", "2.31.0"), ("urllib3", "1.26.2", "1.26.18"),
    ]  # fmt: skip
    assert locked(lock) == {
        "app": "0.1.0", "certifi": "2024.7.4", "charset-normalizer": "3.4.0", "idna": "3.7",
        "requests": "2.31.0", "urllib3": "1.26.18",
    }  # fmt: skip
    env = tool_env(fix_index, tmp_path / "tools")
    check = tool(str(BIN / "uv"), "lock", "--locked", env=env, cwd=lock.parent)
    assert check.returncode == 0, check.stderr
    again = run_cli(
        str(lock), "--osv-url", osv_server.url, "--cache-dir", str(tmp_path / "c"),
        "--only-fixable",
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_cap_below_every_fix_keeps_the_pin_and_names_its_line(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    lock = uv_project(fix_index, tmp_path / "app", '    "urllib3<1.26",\n')
    assert locked(lock)["urllib3"] == "1.25.10"
    proc = fix(lock, osv_server, fix_index, tmp_path)
    assert proc.returncode == 1, proc.stderr
    pyproject = lock.parent / "pyproject.toml"
    [plan] = json.loads((tmp_path / "report.json").read_text())["fix_plan"]
    [blocked] = plan["blocked"]
    assert (blocked["name"], blocked["version"], blocked["where"]) == (
        "urllib3",
        "1.25.10",
        f"{pyproject}:7",
    )
    assert blocked["reason"] == "urllib3<1.26 rules out every fix (the smallest is 1.26.18)"
    assert (
        f"  blocked: urllib3 1.25.10: urllib3<1.26 rules out every fix (the smallest is "
        f"1.26.18) ({pyproject}:7)\n" in proc.stderr
    )
    after = locked(lock)
    assert after["urllib3"] == "1.25.10" and after["requests"] == "2.31.0"
    env = tool_env(fix_index, tmp_path / "tools")
    assert tool(str(BIN / "uv"), "lock", "--locked", env=env, cwd=lock.parent).returncode == 0
