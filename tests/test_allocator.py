"""The arena limit holds in a process whose threads allocate (counted by glibc itself)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the limit is a glibc setting",
)

# Eight threads allocate and keep blocks glibc serves from an arena (over pymalloc's
# 512 bytes, under the mmap threshold), then glibc lists its arenas on stderr.
PROGRAM = """
import ctypes, sys, threading
from vulnsweep.allocator import limit_arenas
print(limit_arenas())
kept = []
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    kept.append([bytearray(4096) for _ in range(2000)])
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
sys.stdout.flush()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(env: dict[str, str]) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip(), done.stderr.count("Arena ")


def test_a_run_allocates_from_at_most_two_arenas() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert arenas(env) == ("True", 2)


def test_without_the_limit_glibc_makes_more_and_a_users_setting_is_kept() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["MALLOC_ARENA_MAX"] = "8"
    said, count = arenas(env)
    assert said == "False" and count > 2
