"""Errors the CLI turns into one line and an exit code; nothing else should escape."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vulnsweep.url import Url

EXIT_OK = 0
EXIT_VULNERABLE = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3
EXIT_INTERRUPTED = 130


class VulnsweepError(Exception):
    exit_code = EXIT_USAGE


class InputError(VulnsweepError):
    """Bad input: names the file and, where there is one, the line."""

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = path if line is None else f"{path}:{line}"
        # A message that already starts at its place ("r.in:1 requires ...") is not
        # prefixed with the path a second time.
        placed = message.startswith(f"{path}:") or message.startswith(f"{path} ")
        super().__init__(message if placed else f"{where}: {message}")


class LineError(InputError):
    """A bad line the rest of the file can do without: becomes a skipped entry."""


class UsageError(VulnsweepError):
    pass


class ServiceError(VulnsweepError):
    """A vulnerability service failed after retries; the message names it and its URL."""

    exit_code = EXIT_SERVICE

    def __init__(self, service: str, url: str | Url, message: str) -> None:
        from vulnsweep.redact import redact_text
        from vulnsweep.url import as_url

        self.service = service
        self.url = as_url(url)  # printed redacted, whatever the caller passed
        self.message = redact_text(message)
        super().__init__(f"{service} ({self.url}): {self.message}")
