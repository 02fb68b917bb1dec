"""A one-line progress display on stderr, only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None, interval: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.queries_total = self.queries = self.records_total = self.records = 0
        self._last = 0.0
        self._shown = False

    def add_queries(self, count: int) -> None:
        self.queries_total += count
        self._render()

    def queries_done(self, count: int) -> None:
        self.queries += count
        self._render()

    def add_records(self, count: int) -> None:
        self.records_total += count
        self._render()

    def record_done(self) -> None:
        self.records += 1
        self._render()

    def _render(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self._shown = True
        self.stream.write(
            f"\r\x1b[2Kauditing: queries {self.queries}/{self.queries_total}, "
            f"advisories {self.records}/{self.records_total}"
        )
        self.stream.flush()

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
