"""Credentials never leave the process: every URL we print passes through here.

Linear in the text's length (each `://` is looked at once, and the userinfo scan
stops at the next `/`), so a hostile 10 MB line costs milliseconds, not minutes.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"[^/@\s]+@")


def redact_url(url: str) -> str:
    """Replace `user:password@` (or a bare token@) in any URL with `****@`."""
    if "@" not in url or "://" not in url:
        return url
    out: list[str] = []
    pos = 0
    while (found := url.find("://", pos)) >= 0:
        start = found + 3
        userinfo = _USERINFO.match(url, start)
        out.append(url[pos:start])
        if userinfo is not None:
            out.append("****@")
            pos = userinfo.end()
        else:
            pos = start
    out.append(url[pos:])
    return "".join(out)


def redact_text(text: str) -> str:
    """Redact every URL inside free text (error messages, log lines)."""
    return redact_url(text)
