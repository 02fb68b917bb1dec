"""A URL that cannot be printed with its secret.

URLs given to vulnsweep (`--osv-url`, `--index-url`, `PIP_INDEX_URL`, `--webhook`, ...)
may carry credentials. `Url` keeps the text it was given to itself: `str()`, `repr()`,
f-strings and `%` formatting all show the redacted form, by construction, so an error
message, a log line, a report or a `repr(settings)` can never leak it. Only the
transport calls `reveal()` to put the real URL on the wire (in the spirit of uv's
DisplaySafeUrl).

A webhook's secret is often its path or query (Slack's `/services/T/B/SECRET`,
`?token=`): a `secret_path` URL shows its scheme and host only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from vulnsweep.redact import redact_url

HIDDEN = "****"


class Url:
    """A URL whose printed forms are redacted; `reveal()` is the one way to the raw."""

    __slots__ = ("_raw", "_shown", "secret_path")
    _raw: str
    _shown: str | None
    secret_path: bool

    def __init__(self, raw: str | Url, *, secret_path: bool = False) -> None:
        if isinstance(raw, Url):
            secret_path = secret_path or raw.secret_path
            raw = raw._raw
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "secret_path", secret_path)
        object.__setattr__(self, "_shown", None)  # worked out when first printed

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Url is immutable")

    def reveal(self) -> str:
        """The URL as given, credentials and all: for the transport, nothing else."""
        return self._raw

    def join(self, suffix: str) -> Url:
        """This URL with `suffix` appended (an endpoint path: `/v1/querybatch`)."""
        return Url(self._raw + suffix, secret_path=self.secret_path)

    def rstrip(self, chars: str = "/") -> Url:
        return Url(self._raw.rstrip(chars), secret_path=self.secret_path)

    @property
    def scheme(self) -> str:
        return self._raw.split("://", 1)[0].lower() if "://" in self._raw else ""

    @property
    def has_host(self) -> bool:
        try:
            parts = urlsplit(self._raw)
            return bool(parts.hostname) and (parts.port is None or parts.port >= 0)
        except ValueError:  # a bad port, an unclosed IPv6 bracket
            return False

    def __str__(self) -> str:
        shown: str | None = self._shown
        if shown is None:
            shown = _display(self._raw, self.secret_path)
            object.__setattr__(self, "_shown", shown)
        return shown

    def __repr__(self) -> str:
        return f"Url({str(self)!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Url) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Url is not pickled: its secret would travel with it")


def _display(raw: str, secret_path: bool) -> str:
    if not secret_path:
        return redact_url(raw)
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return f"{raw.split('://', 1)[0][:10]}://{HIDDEN}" if "://" in raw else HIDDEN
    if not parts.scheme or not host:
        return HIDDEN  # not even a host to show
    if ":" in host:
        host = f"[{host}]"
    hidden = f"/{HIDDEN}" if (parts.path.strip("/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def as_url(value: str | Url) -> Url:
    return value if isinstance(value, Url) else Url(value)


def reveal(value: str | Url) -> str:
    """The raw text of a Url, or a str as it is: for the transport's signatures."""
    return value.reveal() if isinstance(value, Url) else value
