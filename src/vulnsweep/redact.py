"""What may be printed: credentials never leave the process (every URL we print
passes through here), and control characters from inputs never reach a terminal.

Linear in the text's length (each `://` is looked at once, and the userinfo scan
stops at the next `/`), so a hostile 10 MB line costs milliseconds, not minutes.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"[^/@\s]+@")


# Query parameters that carry a secret (libpq's `?password=`, `?token=`, signed URLs'
# `sig=`): their values are hidden wherever a URL is printed.
_SECRET_QUERY = re.compile(
    r"([?&;](?:password|passwd|pwd|pass|token|access_token|auth|secret|api_?key|apikey"
    r"|key|sig|signature)=)[^&#\s]+",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Replace `user:password@` (or a bare token@) in any URL with `****@`, and the
    value of a secret-named query parameter (`?password=`) with `****`."""
    if "=" in url:
        url = _SECRET_QUERY.sub(r"\1****", url)
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


OSC8_LINK = re.compile(r"\x1b]8;;[^\x1b]*\x1b\\")  # a terminal hyperlink's markup
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(cell: str) -> str:
    """Control characters from input files or advisories shown as escapes, never sent
    to the terminal (a name could retitle the window or hide rows); OSC-8 links the
    columns writer adds itself stay links."""
    if not _CONTROL.search(OSC8_LINK.sub("", cell)):
        return cell
    parts = OSC8_LINK.split(cell)
    links = OSC8_LINK.findall(cell)
    escaped = [_CONTROL.sub(lambda m: repr(m[0])[1:-1], part) for part in parts]
    return "".join(p + (links[i] if i < len(links) else "") for i, p in enumerate(escaped))


def cut(text: str, limit: int = 200) -> str:
    """An input quoted in a message, cut to a readable length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def shown(text: str, limit: int = 500) -> str:
    """Input-derived text for a terminal line: credentials redacted, control characters
    escaped (a name must not forge a line such as "No known vulnerabilities found"),
    and cut to a readable length (a 10 MB name is no message)."""
    return printable(redact_text(cut(text, limit)))
