"""Credentials never leave the process: every URL we print passes through here."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def redact_url(url: str) -> str:
    """Replace `user:password@` (or a bare token@) in any URL with `****@`."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}****@", url)


def redact_text(text: str) -> str:
    """Redact every URL inside free text (error messages, log lines)."""
    return redact_url(text)
