"""Scheduled runs an outage cannot fool (issue 23): an incomplete run is recorded as
incomplete and never becomes the baseline for what it did not audit; a failed recheck
records nothing; a damaged state file is one line and exit 2 for every command;
retention keeps what later baselines stand on."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import run_cli
from tests.history.conftest import query
from tests.history.test_state import vulnsweep
from tests.monorepo import build_monorepo
from tests.servers.osv import Faults, OsvServer


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _first_seen(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {
        (d["name"], v["id"]): v["first_seen"]
        for d in report["dependencies"]
        for v in d.get("vulns", [])
    }


def _history(state: Path) -> list[dict[str, object]]:
    proc = run_cli("history", "--state", str(state), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    runs: list[dict[str, object]] = orjson.loads(proc.stdout)
    return runs


def test_an_outage_run_never_becomes_the_baseline(
    tmp_path: Path, osv: OsvServer, state_store: str
) -> None:
    root = build_monorepo(tmp_path / "repo")
    state, cache = state_store, tmp_path / "cache"
    job = ("-R", ".", "--state", str(state), "-f", "json", "--no-cache")
    code, out, _ = vulnsweep(root, osv, cache, *job)
    first = orjson.loads(out)
    total = len([v for d in first["dependencies"] for v in d.get("vulns", [])])
    assert code == 1 and total > 10
    query(state, "UPDATE findings SET first_seen = '2026-01-01'")  # as if months ago

    # A partial outage: the records of some advisories cannot be fetched.
    vulnerable = [d for d in first["dependencies"] if d.get("vulns")]
    missing = {v["id"] for d in vulnerable[:3] for v in d["vulns"]}
    assert missing
    osv.reset(Faults(missing_ids=missing))
    code, out, err = vulnsweep(root, osv, cache, *job, "--hydrate", "ids")
    assert code == 3, err
    outage = orjson.loads(out)
    assert any(d.get("skip_reason", "").startswith("not audited") for d in outage["dependencies"])

    osv.reset()
    code, out, err = vulnsweep(root, osv, cache, *job)
    third = orjson.loads(out)
    assert code == 1
    assert (third["baseline"]["new"], third["baseline"]["fixed"]) == (0, 0), err
    # first_seen survived the outage: every finding was first seen on the first run's day.
    assert set(_first_seen(third).values()) == {"2026-01-01"}
    assert len(_first_seen(third)) == total

    runs = _history(state)
    assert [(r["exit_code"], r["complete"]) for r in runs] == [(1, True), (3, False), (1, True)]
    table = run_cli("history", "--state", str(state)).stdout
    assert "no: not the baseline for what it missed" in table


def test_a_recheck_that_fails_records_nothing(
    tmp_path: Path, osv: OsvServer, state_store: str
) -> None:
    root = build_monorepo(tmp_path / "repo")
    state, cache = state_store, tmp_path / "cache"
    assert vulnsweep(root, osv, cache, "-R", ".", "--state", str(state))[0] == 1
    proc = run_cli(
        "recheck", "--state", str(state), "--osv-url", _closed_port_url(), "--timeout", "1",
        "--cache-dir", str(cache), cwd=root,
    )  # fmt: skip
    assert proc.returncode == 3
    assert "recheck incomplete" in proc.stderr and "nothing recorded" in proc.stderr
    assert len(_history(state)) == 1
    code, _, err = vulnsweep(root, osv, cache, "recheck", "--state", str(state))
    assert code == 1 and "0 new" in err, err


@pytest.mark.parametrize("offset", [4096, 50_000, 300_000])
def test_a_damaged_state_file_is_one_line_and_exit_2(
    tmp_path: Path, osv: OsvServer, offset: int
) -> None:
    root = build_monorepo(tmp_path / "repo")
    state, cache = tmp_path / "state.db", tmp_path / "cache"
    for _ in range(3):  # big enough to damage past 300 kB
        vulnsweep(root, osv, cache, "-R", ".", "--state", str(state))
    assert state.stat().st_size > offset + 4096
    with state.open("r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xde\xad\xbe\xef" * 1024)
    damaged = state.read_bytes()
    for args in (
        ("history", "--state", str(state)),
        ("recheck", "--state", str(state), "--osv-url", osv.url),
        ("-R", ".", "--state", str(state), "--osv-url", osv.url),
        ("state", "check", "--state", str(state)),
    ):
        proc = (
            run_cli(*args, "--cache-dir", str(cache), cwd=root)
            if args[0] in ("recheck", "-R")
            else run_cli(*args, cwd=root)
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith(f"vulnsweep: error: --state {state}: damaged")
        assert "nothing was written to it" in proc.stderr
    assert state.read_bytes() == damaged  # no audit wrote into it


def test_state_edges(tmp_path: Path, osv: OsvServer, state_store: str) -> None:
    missing = tmp_path / "missing.db"
    proc = run_cli("recheck", "--state", str(missing), "--osv-url", osv.url)
    assert (proc.returncode, proc.stderr) == (
        2,
        f"vulnsweep: error: --state {missing}: no such file\n",
    )
    assert not missing.exists()
    root = build_monorepo(tmp_path / "repo")
    state, cache = state_store, tmp_path / "cache"
    vulnsweep(root, osv, cache, "-R", ".", "--state", str(state))
    proc = run_cli("history", "--state", str(state), "-n", "0")
    assert (proc.returncode, proc.stderr) == (
        2,
        "vulnsweep: error: --limit must be at least 1, got 0\n",
    )
    help_text = run_cli("recheck", "--help").stdout
    assert help_text.startswith("usage: vulnsweep recheck")
    assert "Re-audit the latest run of every input set stored in --state" in help_text
    proc = run_cli("--keep-runs", "2", "-r", "x.txt")
    assert proc.stderr == (
        "vulnsweep: error: --keep-runs and --keep-days apply to a --state run history\n"
    )


def test_retention_keeps_the_newest_runs_and_the_baseline(
    tmp_path: Path, osv: OsvServer, state_store: str
) -> None:
    root = build_monorepo(tmp_path / "repo")
    state, cache = state_store, tmp_path / "cache"
    job = ("-R", ".", "--state", str(state), "--keep-runs", "2")
    for _ in range(4):
        assert vulnsweep(root, osv, cache, *job)[0] == 1
    assert [r["id"] for r in _history(state)] == [3, 4]
    # An outage run never pushes out the last complete run a baseline stands on.
    proc = run_cli(
        *job, "--osv-url", _closed_port_url(), "--timeout", "1", "--cache-dir", str(cache),
        "--no-cache", cwd=root,
    )  # fmt: skip
    assert proc.returncode == 3
    assert [(r["id"], r["complete"]) for r in _history(state)] == [(4, True), (5, False)]
    code, _, err = vulnsweep(root, osv, cache, *job, "-f", "json")
    assert code == 1 and "0 new" in err
    [(orphans,)] = query(
        state, "SELECT count(*) FROM findings WHERE run NOT IN (SELECT id FROM runs)"
    )
    assert orphans == 0
    proc = run_cli("state", "vacuum", "--state", str(state))
    shown = re.sub(r"//[^@/]*@", "//****@", state)  # a database URL's user is not printed
    assert proc.returncode == 0 and proc.stdout.startswith(f"{shown}: 2 runs, ")
    assert run_cli("state", "check", "--state", str(state)).stdout == (
        f"{shown}: intact, 2 runs (1 incomplete)\n"
    )


IGNORE_DJANGO = '[[ignore]]\nid = "PYSEC-2021-98"\nreason = "no templates from users"\n'


def test_policy_travels_with_the_state(tmp_path: Path, osv: OsvServer, state_store: str) -> None:
    root = build_monorepo(tmp_path / "repo")
    (root / "vulnsweep.toml").write_text(IGNORE_DJANGO)
    state, cache = state_store, tmp_path / "cache"
    code, out, _ = vulnsweep(root, osv, cache, "-R", ".", "--state", str(state), "-f", "json")
    ignored = {i["id"] for i in orjson.loads(out)["ignored"]}
    assert ignored == {"PYSEC-2021-98"}
    shutil.rmtree(root)  # the checkout is gone; the history is not
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = vulnsweep(
        elsewhere, osv, cache, "recheck", "--state", str(state), "-f", "json"
    )
    report = orjson.loads(out)
    assert code == 1
    assert {i["id"] for i in report["ignored"]} == ignored
    assert report["baseline"]["new"] == 0, err
    assert f"{root / 'vulnsweep.toml'} is gone; the copy stored with the run applies" in err
    assert "newly affected" not in err


def test_a_changed_policy_file_is_named_on_recheck(
    tmp_path: Path, osv: OsvServer, state_store: str
) -> None:
    root = build_monorepo(tmp_path / "repo")
    (root / "vulnsweep.toml").write_text(IGNORE_DJANGO)
    state, cache = state_store, tmp_path / "cache"
    vulnsweep(root, osv, cache, "-R", ".", "--state", str(state))
    (root / "vulnsweep.toml").write_text("")  # the ignore is withdrawn
    code, _, err = vulnsweep(root, osv, cache, "recheck", "--state", str(state))
    assert f"{root / 'vulnsweep.toml'} changed since the stored run" in err
    assert code == 1 and "1 new" in err


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('{"dependencies": "x"}', "not a vulnsweep JSON, NDJSON or SARIF report"),
        ("", "not a vulnsweep JSON, NDJSON or SARIF report (no `run` line)"),
        ('{"type": "finding", "name": "x", "id": "PYSEC-1"}\n', "(no `run` line)"),
    ],
)
def test_a_baseline_of_the_wrong_shape_is_an_error(tmp_path: Path, content: str, why: str) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(content)
    proc = run_cli("-r", "requirements.txt", "--baseline", str(baseline), "--dry-run")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"vulnsweep: error: {baseline}: cannot be read as a baseline: ")
    assert why in proc.stderr
