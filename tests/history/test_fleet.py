"""A fleet's history in one store: shards of a -R tree audited at once into one
PostgreSQL database, and what `history` and `recheck` then see."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.helpers import cli_env, run_cli
from tests.history.conftest import query
from tests.servers.osv import OsvServer
from vulnsweep.sources.tree import shard_of

# Pins each project draws from: vulnerable and clean ones (the vendored export).
POOL = [
    "django==3.2.0", "jinja2==2.10.1", "requests==2.25.0", "urllib3==1.26.4", "six==1.16.0",
    "idna==3.7", "certifi==2024.8.30", "click==8.1.7", "attrs==24.2.0", "flask==2.3.3",
]  # fmt: skip
NEW_PACKAGE = "attrs"  # no advisory in the export: the "overnight" one targets it


def build_fleet(root: Path, projects: int) -> list[str]:
    names = []
    for index in range(projects):
        name = f"team{index % 37:02d}/svc{index:04d}"
        directory = root / name
        directory.mkdir(parents=True)
        pins = [POOL[(index * 7 + k * 3) % len(POOL)] for k in range(3)]
        (directory / "requirements.txt").write_text("\n".join(sorted(set(pins))) + "\n")
        names.append(name)
    return names


def test_shards_are_stable_and_cover_every_project_once() -> None:
    projects = [f"team{i % 5}/svc{i}" for i in range(500)]
    before = {p: shard_of(p, 8) for p in projects}
    assert set(before.values()) == set(range(1, 9))
    counts = [list(before.values()).count(k) for k in range(1, 9)]
    assert min(counts) > 40  # spread, not piled on one job
    grown = {p: shard_of(p, 8) for p in [*projects, "new/project"]}
    assert all(grown[p] == before[p] for p in projects)  # adding one moves no other


def test_eight_shards_write_one_store_and_recheck_sees_the_fleet(
    tmp_path: Path, osv: OsvServer, postgres: object
) -> None:
    store = postgres.database()  # type: ignore[attr-defined]
    root = tmp_path / "fleet"
    projects = build_fleet(root, 2000)
    cache = tmp_path / "cache"
    env = cli_env()
    base = [sys.executable, "-m", "vulnsweep", "-R", str(root), "--osv-url", osv.url,
            "--cache-dir", str(cache), "--state", store, "-f", "json"]  # fmt: skip
    shards = [
        subprocess.Popen(
            [*base, "--shard", f"{k}/8", "-o", str(tmp_path / f"shard{k}.json")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for k in range(1, 9)
    ]
    for shard in shards:
        _, err = shard.communicate(timeout=600)
        assert shard.returncode == 1, err.decode()
    # Every project recorded exactly once, by the shard it hashes to.
    recorded = query(
        store,
        "SELECT p.path, r.inputs FROM projects p JOIN runs r ON r.id = p.run ORDER BY p.path",
    )
    assert [path for path, _ in recorded] == sorted(projects)
    for path, inputs in recorded:
        assert orjson.loads(str(inputs))["shard"] == f"{shard_of(str(path), 8)}/8"
    # The shards' totals are one unsharded run's.
    whole = tmp_path / "whole.db"
    proc = run_cli(*base[3:-4], "--state", str(whole), "-f", "json", "-o",
                   str(tmp_path / "whole.json"))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    fleet = orjson.loads(run_cli("history", "--state", store, "-f", "json").stdout)
    single = orjson.loads(run_cli("history", "--state", str(whole), "-f", "json").stdout)
    assert len(fleet) == 8 and len(single) == 1
    assert sum(r["findings"] for r in fleet) >= single[0]["findings"]  # per shard, deduplicated
    shard_findings = sum(
        len(p["findings"])
        for k in range(1, 9)
        for p in orjson.loads((tmp_path / f"shard{k}.json").read_text())["projects"]
    )
    whole_findings = sum(
        len(p["findings"]) for p in orjson.loads((tmp_path / "whole.json").read_text())["projects"]
    )
    assert shard_findings == whole_findings > 0

    # Overnight, an advisory for a package some projects pin: recheck names exactly them.
    osv.db.put(
        {
            "id": "GHSA-test-attr-0001", "modified": "2026-12-01T00:00:00Z",
            "summary": "attrs: new", "schema_version": "1.6.0",
            "affected": [{"package": {"ecosystem": "PyPI", "name": NEW_PACKAGE},
                          "ranges": [{"type": "ECOSYSTEM",
                                      "events": [{"introduced": "0"}, {"fixed": "25.1.0"}]}]}],
        }
    )  # fmt: skip
    osv.reset()
    proc = run_cli("recheck", "--state", store, "--osv-url", osv.url, "--cache-dir", str(cache))
    assert proc.returncode == 1, proc.stderr
    affected = sorted(
        line.split(": ")[1]
        for line in proc.stderr.splitlines()
        if line.startswith("newly affected: ")
    )
    expected = sorted(
        p for p in projects if f"{NEW_PACKAGE}==" in (root / p / "requirements.txt").read_text()
    )
    assert affected == expected and len(expected) > 100
    # The fleet summary reads the store: every project once, what is new, per owner.
    summary = orjson.loads(
        run_cli("history", "--state", store, "--by", "project", "-f", "json").stdout
    )
    assert [p["project"] for p in summary] == sorted(projects)
    assert sorted(p["project"] for p in summary if p["new"]) == expected
    assert all(p["new"] == 1 for p in summary if p["new"])
    table = run_cli("history", "--state", store, "--by", "owner").stdout.splitlines()
    assert table[0].split() == ["Owner", "Projects", "Findings", "Failing", "projects", "New"]
    assert table[2].split()[:2] == ["(no", "owner)"] and table[2].split()[2] == "2000"


def test_a_killed_shard_leaves_no_half_recorded_run(
    tmp_path: Path, osv: OsvServer, postgres: object
) -> None:
    store = postgres.database()  # type: ignore[attr-defined]
    root = tmp_path / "fleet"
    build_fleet(root, 3000)
    cache = tmp_path / "cache"
    base = ["-R", str(root), "--osv-url", osv.url, "--cache-dir", str(cache), "--state", store]
    assert run_cli(*base, "--shard", "1/2").returncode == 1  # a first run, recorded
    before = query(store, "SELECT count(*) FROM runs")
    shard = subprocess.Popen(
        [sys.executable, "-m", "vulnsweep", *base, "--shard", "2/2"],
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    writing = False
    while time.monotonic() < deadline and shard.poll() is None:
        # Its transaction is open once it writes rows: kill it then, mid-run.
        open_rows = query(
            store,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND xact_start IS NOT NULL AND pid <> pg_backend_pid() "
            "AND backend_xid IS NOT NULL",
        )
        if open_rows[0][0]:
            os.kill(shard.pid, signal.SIGKILL)
            writing = True
            break
        time.sleep(0.005)
    shard.wait(timeout=60)
    if not writing:
        pytest.fail("the shard finished before it could be killed mid-write")
    time.sleep(0.5)  # the server notices the dropped connection and rolls back
    assert query(store, "SELECT count(*) FROM runs") == before
    for table in ("pins", "findings", "projects", "skipped", "policies"):
        [(orphans,)] = query(
            store, f"SELECT count(*) FROM {table} WHERE run NOT IN (SELECT id FROM runs)"
        )
        assert orphans == 0, table


def test_an_unreachable_store_exits_3_and_keeps_the_report(tmp_path: Path, osv: OsvServer) -> None:
    root = tmp_path / "fleet"
    build_fleet(root, 3)
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = f"postgresql://ci:s3cret@127.0.0.1:{port}/fleet"
    report = tmp_path / "report.json"
    proc = run_cli(
        "-R", str(root), "--osv-url", osv.url, "--cache-dir", str(tmp_path / "c"),
        "--state", store, "-f", "json", "-o", str(report),
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "state database" in line]
    assert len(errors) == 1 and "s3cret" not in proc.stderr and "ci:" not in proc.stderr
    assert f"state database (postgresql://****@127.0.0.1:{port}/fleet)" in errors[0]
    assert len(orjson.loads(report.read_text())["dependencies"]) > 0
