"""Fewer glibc malloc arenas: how a run's memory stays near what it holds.

glibc gives each thread that allocates its own arena (up to 8 per core) so that threads
running at once do not wait on one lock. A run's threads (resolvers, cache and page
readers) allocate while holding the GIL, so they never allocate at once and the extra
arenas buy nothing; but each one keeps the freed space of the big short-lived objects
that thread made (a parsed page is tens of MB), and a long run's resident size grew to
2-3 times what it held. `-R` over the corpora with resolution peaked at 735 MB with
the default arenas and 340 MB with two (the same findings, within 10% of the time).

An environment variable would leave this to each user; this is the same setting made
by the program for itself, once, before its threads start. A MALLOC_ARENA_MAX the user
set is left alone, and libcs without the setting (musl, macOS) are not touched.
"""

from __future__ import annotations

import os
import sys

M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def limit_arenas() -> bool:
    """True when the limit was set (glibc on Linux, not already set by the user)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, ARENAS))
