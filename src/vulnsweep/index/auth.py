"""Index credentials: from the URL itself, else ~/.netrc, else keyring when installed.

They travel inside the URL (aiohttp turns userinfo into Basic auth) and nothing that
prints a URL does so without `redact_url`.
"""

from __future__ import annotations

import logging
import netrc
import os
from urllib.parse import quote, urlsplit, urlunsplit

log = logging.getLogger(__name__)


def with_credentials(url: str) -> str:
    parts = urlsplit(url)
    if "@" in parts.netloc or not parts.hostname:
        return url
    found = _from_netrc(parts.hostname) or _from_keyring(url)
    if found is None:
        return url
    user, password = found
    userinfo = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def _from_netrc(host: str) -> tuple[str, str] | None:
    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    if not os.path.isfile(path):
        return None
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        log.warning("%s: not used for index credentials (%s)", path, exc)
        return None
    if entry is None:
        return None
    login, _, password = entry
    return (login or "", password or "") if login or password else None


def _from_keyring(url: str) -> tuple[str, str] | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        credential = keyring.get_credential(url, None)
    except Exception as exc:  # a broken keyring backend must not stop the audit
        log.debug("keyring lookup failed: %s", exc)
        return None
    if credential is None:
        return None
    return str(credential.username), str(credential.password)
