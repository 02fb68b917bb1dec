"""Connections for the advisory fetches are opened while querybatch is answered: the
records then go out over kept-alive connections, counted at -v like any other."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from tests.helpers import run_cli
from tests.net.test_adaptive import vulnerable_pins
from tests.servers.osv import Faults, OsvDatabase, OsvServer


class Audit:
    """One cold run against a server of its own: what it printed, what the server saw."""

    def __init__(
        self, tmp_path: Path, db: OsvDatabase, pins: list[str], latency: float, *flags: str
    ) -> None:
        requirements = tmp_path / "requirements.txt"
        requirements.write_text("".join(f"{pin}\n" for pin in pins))
        with OsvServer(db, faults=Faults(latency=latency)) as server:
            start = time.monotonic()
            self.proc: subprocess.CompletedProcess[str] = run_cli(
                "-r", str(requirements), "--osv-url", server.url,
                "--cache-dir", str(tmp_path / "c"), *flags,
            )  # fmt: skip
            self.elapsed = time.monotonic() - start
            self.requests = sum(server.hits.values())
            self.connections = len(server.connections)  # those that carried a request

    def counted(self) -> tuple[int, int]:
        """(requests, connections) from the -v line."""
        found = re.search(r"(\d+) requests over (\d+) connections", self.proc.stderr)
        assert found is not None, self.proc.stderr
        return int(found[1]), int(found[2])


def test_records_go_over_connections_opened_during_querybatch(
    tmp_path: Path, osv_db: OsvDatabase
) -> None:
    run = Audit(tmp_path, osv_db, vulnerable_pins(osv_db, 200), 0.05, "-v", "--concurrency", "64")
    assert run.proc.returncode == 1, run.proc.stderr
    # Every connection the server saw is counted, the preconnected ones included, and
    # the client opened no more than its window plus the querybatch connections.
    assert run.counted() == (run.requests, run.connections)
    assert 50 <= run.connections <= 64 + 16


def test_preconnecting_stops_when_querybatch_answers(tmp_path: Path, osv_db: OsvDatabase) -> None:
    # 200 pins with no advisory: nothing to fetch after querybatch. The connections
    # opened meanwhile (about one per four pins) are counted, and left unused.
    names = [n for n in sorted(osv_db.by_package) if not osv_db.match(n, "99999.0")][:200]
    run = Audit(tmp_path, osv_db, [f"{name}==99999.0" for name in names], 0.2, "-v")
    assert run.proc.returncode == 0, run.proc.stderr
    assert (run.requests, run.connections) == (2, 2)  # two querybatches
    assert run.counted() == (2, 2 + 200 // 4)


def test_a_deadline_during_preconnecting_ends_the_run_cleanly(
    tmp_path: Path, osv_db: OsvDatabase
) -> None:
    run = Audit(tmp_path, osv_db, vulnerable_pins(osv_db, 200), 1.0, "--deadline", "0.3")
    assert run.proc.returncode == 3, run.proc.stderr
    assert "--deadline of 0.3s exceeded" in run.proc.stderr
    assert "Traceback" not in run.proc.stderr and run.elapsed < 5
