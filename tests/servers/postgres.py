"""A throwaway PostgreSQL cluster for the store tests: Debian's server binaries,
initdb'd in a temporary directory, listening on loopback only, trust auth for one
role, stopped (and deleted) at the end. As root, it runs as the `postgres` user (the
server refuses root). `VULNSWEEP_TEST_POSTGRES=postgresql://...` uses a running
server instead."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

ROLE = "vulnsweep"


def server_binaries() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        self.url = os.environ.get("VULNSWEEP_TEST_POSTGRES", "")
        self._directory: Path | None = None
        self._bin: Path | None = None
        self._as: list[str] = []

    def start(self) -> None:
        if self.url:
            return
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("no PostgreSQL server binaries (Debian's postgresql package)")
        self._bin = binaries
        self._directory = Path(tempfile.mkdtemp(prefix="vulnsweep-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self._directory, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self._directory / "data"
        subprocess.run(
            [*self._as, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", ROLE,
             "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        port = _free_port()
        options = f"-p {port} -k {self._directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*self._as, str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
             "-l", str(self._directory / "log"), "-w", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.url = f"postgresql://{ROLE}@127.0.0.1:{port}/postgres"

    def database(self) -> str:
        """A new, empty database on the server: its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if self._directory is None or self._bin is None:
            return
        subprocess.run(
            [*self._as, str(self._bin / "pg_ctl"), "-D", str(self._directory / "data"),
             "-m", "immediate", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self._directory, ignore_errors=True)
