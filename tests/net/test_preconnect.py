"""Connections for the advisory fetches are opened while querybatch is answered: the
records then go out over kept-alive connections, counted at -v like any other."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.helpers import run_cli
from tests.net.test_adaptive import vulnerable_pins
from tests.servers.osv import Faults, OsvDatabase, OsvServer


def test_records_go_over_connections_opened_during_querybatch(
    tmp_path: Path, osv_db: OsvDatabase
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(vulnerable_pins(osv_db, 200)) + "\n")
    with OsvServer(osv_db, faults=Faults(latency=0.05)) as server:
        proc = run_cli(
            "-r", str(requirements), "-v", "--osv-url", server.url,
            "--cache-dir", str(tmp_path / "c"), "--concurrency", "64",
        )  # fmt: skip
        connections, requests = len(server.connections), sum(server.hits.values())
    assert proc.returncode == 1, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if "network:" in x)
    counted = re.search(r"(\d+) requests over (\d+) connections", line)
    assert counted is not None
    # Every connection the server saw is counted, the preconnected ones included, and
    # the client opened no more than its window plus the querybatch connections.
    assert (int(counted[1]), int(counted[2])) == (requests, connections)
    assert 50 <= connections <= 64 + 16


def test_preconnecting_stops_when_querybatch_answers(tmp_path: Path, osv_db: OsvDatabase) -> None:
    # 200 pins with no advisory: nothing to fetch after querybatch. The connections
    # opened meanwhile (about one per four pins) are counted, and left unused.
    requirements = tmp_path / "requirements.txt"
    names = [n for n in sorted(osv_db.by_package) if not osv_db.match(n, "99999.0")][:200]
    requirements.write_text("".join(f"{name}==99999.0\n" for name in names))
    with OsvServer(osv_db, faults=Faults(latency=0.2)) as server:
        proc = run_cli(
            "-r", str(requirements), "-v", "--osv-url", server.url,
            "--cache-dir", str(tmp_path / "c"),
        )  # fmt: skip
        requests, used = sum(server.hits.values()), len(server.connections)
    assert proc.returncode == 0, proc.stderr
    counted = re.search(r"(\d+) requests over (\d+) connections", proc.stderr)
    assert counted is not None
    assert (int(counted[1]), requests, used) == (2, 2, 2)  # two querybatches
    assert int(counted[2]) == 2 + 200 // 4


def test_a_deadline_during_preconnecting_ends_the_run_cleanly(
    tmp_path: Path, osv_db: OsvDatabase
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(vulnerable_pins(osv_db, 200)) + "\n")
    with OsvServer(osv_db, faults=Faults(latency=1.0)) as server:
        start = time.monotonic()
        proc = run_cli(
            "-r", str(requirements), "--osv-url", server.url, "--deadline", "0.3",
            "--cache-dir", str(tmp_path / "c"),
        )  # fmt: skip
        elapsed = time.monotonic() - start
    assert proc.returncode == 3, proc.stderr
    assert "--deadline of 0.3s exceeded" in proc.stderr and "Traceback" not in proc.stderr
    assert elapsed < 5
