"""glibc malloc settings that keep a run's resident memory near what it holds.

Two defaults cost a long run most of its memory, both measured on `-R` over the
corpora with resolution against the real index:

- **Arenas.** glibc gives each thread that allocates its own arena (up to 8 per core)
  so that threads running at once do not wait on one lock. A run's threads (resolvers,
  cache and page readers) allocate while holding the GIL, so they never allocate at
  once and the extra arenas buy nothing; each one keeps the freed space of the big
  short-lived objects its thread made. Two arenas: warm 735 -> 340 MB.
- **The mmap threshold.** glibc maps a block of 128 KB or more on its own, but raises
  that threshold to the size of each mapped block freed (up to 32 MB). After the first
  big page body is freed, bodies and buffers up to that size come from the heap, where
  their freed space stays between long-lived blocks (130 MB of free heap at the peak).
  Fixing the threshold at 128 KB keeps them mapped and returned: cold 417 -> 359 MB.

An environment variable would leave this to each user; these are the same settings,
made by the program for itself before its threads start. A setting the user made in
the environment is left alone, and C libraries without them (musl, macOS) are not
touched.
"""

from __future__ import annotations

import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
SETTINGS = (
    (M_ARENA_MAX, 2, "MALLOC_ARENA_MAX"),
    (M_MMAP_THRESHOLD, 128 * 1024, "MALLOC_MMAP_THRESHOLD_"),
)


def tune_malloc() -> list[str]:
    """The settings made (named as their environment variables); none off glibc."""
    if not sys.platform.startswith("linux"):
        return []
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this interpreter runs on
    except (OSError, AttributeError):
        return []
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return [
        name
        for option, value, name in SETTINGS
        if name not in os.environ and mallopt(option, value) == 1
    ]
