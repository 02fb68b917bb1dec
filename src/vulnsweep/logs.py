"""Logging to stderr, with every URL's credentials redacted; the cache location."""

from __future__ import annotations

import logging
import sys

from vulnsweep.redact import redact_text

MAX_LINE = 2000


class RedactingFormatter(logging.Formatter):
    """Credentials redacted, and control characters escaped: a log line quoting an
    input line must not drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        from vulnsweep.redact import printable

        text = super().format(record)
        if len(text) > MAX_LINE:  # a 10 MB input quoted whole is no message
            text = f"{text[:MAX_LINE]}... ({len(text)} characters)"
        lines = redact_text(text).split("\n")
        return "\n".join(printable(line) for line in lines)


def configure_logging(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("vulnsweep: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(
        logging.DEBUG if verbosity > 1 else logging.INFO if verbosity else logging.WARNING
    )
