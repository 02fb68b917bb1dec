"""What --fix does when it cannot write a lock: the audit's report stays whole, no
file is touched, and the run says why in one line with its own exit code."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer

PYPROJECT = '[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["requests"]\n'
OLD_POETRY_LOCK = """\
[[package]]
name = "requests"
version = "2.25.1"
category = "main"
optional = false
python-versions = "*"

[[package]]
name = "urllib3"
version = "1.26.2"
category = "main"
optional = false
python-versions = "*"

[metadata]
lock-version = "1.1"
python-versions = "*"
content-hash = "0"

[metadata.files]
requests = []
urllib3 = []
"""


def fix(lock: Path, osv: OsvServer, index: IndexServer, tmp: Path):  # type: ignore[no-untyped-def]
    return run_cli(
        str(lock), "--fix", "--osv-url", osv.url, "--index-url", index.url,
        "--cache-dir", str(tmp / "c"), "-f", "json", "-o", str(tmp / "report.json"),
    )  # fmt: skip


def test_a_lock_format_it_cannot_write_keeps_the_report_and_every_file(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    lock = tmp_path / "poetry.lock"
    lock.write_text(OLD_POETRY_LOCK)
    proc = fix(lock, osv_server, fix_index, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        f"vulnsweep: error: {lock}: poetry.lock lock-version 1.1 keeps hashes apart: re-lock "
        "it with Poetry 1.5+ before --fix can write it"
    )
    assert "Traceback" not in proc.stderr
    assert lock.read_text() == OLD_POETRY_LOCK
    report = json.loads((tmp_path / "report.json").read_text())
    assert {d["name"] for d in report["dependencies"] if d.get("vulns")} == {"requests", "urllib3"}
    [plan] = report["fix_plan"]
    assert plan["written"] is False and plan["note"].startswith("poetry.lock lock-version 1.1")
    assert ("requests", "2.31.0") in [(c["name"], c["new_version"]) for c in plan["changes"]]


def test_a_lock_that_does_not_resolve_here_blocks_every_fix_and_says_why(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        PYPROJECT.replace('["requests"]', '["requests", "no-such-project-here"]')
    )
    lock = tmp_path / "poetry.lock"
    lock.write_text(OLD_POETRY_LOCK.replace('"1.1"', '"2.1"'))
    before = lock.read_bytes()
    proc = fix(lock, osv_server, fix_index, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert lock.read_bytes() == before
    [plan] = json.loads((tmp_path / "report.json").read_text())["fix_plan"]
    assert plan["written"] is False and plan["changes"] == []
    assert [b["name"] for b in plan["blocked"]] == ["requests", "urllib3"]
    assert all(
        b["reason"].startswith("the lock does not resolve as a whole here (")
        and "no-such-project-here" in b["reason"]
        for b in plan["blocked"]
    )
