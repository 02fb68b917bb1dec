"""The malloc settings hold in a process like a run (counted by glibc itself)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="the settings are glibc's",
)

# Eight threads allocate and keep blocks glibc serves from an arena (over pymalloc's
# 512 bytes, under the mmap threshold); then a 4 MB block is freed and a 1 MB one
# kept. glibc lists its arenas on stderr; mallinfo2 says whether the 1 MB was mapped.
PROGRAM = """
import ctypes, sys, threading
from vulnsweep.allocator import tune_malloc
if sys.argv[1] == "tuned":
    print(",".join(tune_malloc()))
kept = []
barrier = threading.Barrier(8)
def work():
    barrier.wait()
    kept.append([bytearray(4096) for _ in range(2000)])
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
big = bytearray(4 << 20)
del big
before = libc.mallinfo2().hblks
kept.append(bytearray(1 << 20))
print(libc.mallinfo2().hblks - before)
sys.stdout.flush()
libc.malloc_stats()
"""


def run(mode: str, env: dict[str, str]) -> tuple[list[str], int]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], env=env, capture_output=True, text=True, check=True
    )
    *said, mapped = done.stdout.split()
    return [*said, f"mapped={mapped}"], done.stderr.count("Arena ")


def plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}


def test_a_run_allocates_from_two_arenas_and_maps_big_blocks_on_their_own() -> None:
    said, arenas = run("tuned", plain_env())
    assert said == ["MALLOC_ARENA_MAX,MALLOC_MMAP_THRESHOLD_", "mapped=1"]
    assert arenas == 2


def test_glibc_s_defaults_make_more_arenas_and_move_the_threshold() -> None:
    said, arenas = run("plain", plain_env())
    assert said == ["mapped=0"]  # the freed 4 MB block raised the threshold past 1 MB
    assert arenas > 2


def test_a_setting_made_in_the_environment_is_left_alone() -> None:
    env = plain_env() | {"MALLOC_ARENA_MAX": "8"}
    said, arenas = run("tuned", env)
    assert said == ["MALLOC_MMAP_THRESHOLD_", "mapped=1"]
    assert arenas > 2
