"""A service's HTTP client over the run's shared connection pool (net/session.py):
timeouts, a response size cap, and retries (exponential backoff with jitter; 429
honours Retry-After; 5xx, resets and timeouts retried; other 4xx fail at once with the
server's own message). Every error names the service it was talking to."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

import orjson

from vulnsweep.errors import ServiceError
from vulnsweep.net.session import USER_AGENT
from vulnsweep.redact import redact_text
from vulnsweep.url import Url, as_url, reveal

if TYPE_CHECKING:
    import aiohttp

    from vulnsweep.net.session import Network

log = logging.getLogger(__name__)


Validator = Callable[[Any], Any]
T = TypeVar("T")

# Connections opened at once by `preconnect`: a few at a time, so the handshakes of
# the requests already on their way are not queued behind hundreds of others.
PRECONNECT_AT_ONCE = 32

# No JSON answer of OSV or PyPI comes near this; a larger one is refused, not held.
MAX_RESPONSE_BYTES = 64 * 1024**2


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    connect_attempts: int = 3  # refused/DNS: the service is likely down, fail fast
    # A 429/503 is the server asking for patience while the window shrinks (a few
    # halvings from a high start): it has a budget of its own.
    congested_attempts: int = 6

    def backoff(self, attempt: int) -> float:
        delay = min(self.max_delay, self.base_delay * (2**attempt))
        return float(delay * random.uniform(0.5, 1.0))


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    read: float = 15.0

    def total(self, read: float) -> float:
        """A whole request's bound: a server trickling a byte a second never trips the
        per-read timeout, so each request also gets a few read timeouts in all."""
        return self.connect + 4 * read


@dataclass(frozen=True)
class HttpResult:
    status: int  # 200, 304 (cached copy still good) or 404
    etag: str | None
    max_age: float | None
    data: Any
    content_type: str | None = None
    content_range: str | None = None  # on a 206: "bytes START-END/TOTAL"


def _max_age(headers: Any) -> float | None:
    for part in str(headers.get("Cache-Control", "")).split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "max-age" and value.isdigit():
            return float(value)
    return None


class _Retryable(Exception):
    def __init__(self, message: str, delay: float | None = None, congested: bool = False) -> None:
        super().__init__(message)
        self.delay = delay
        self.congested = congested  # the server says slow down: shrink the window


class AdaptiveLimit:
    """How many requests a client keeps in flight: additive increase, multiplicative
    decrease (as TCP does). It starts at the ceiling (`--concurrency`); a 429, a 503 or
    a timeout halves it -- once per window, however many requests of that window fail
    together, so a 429 storm halves it a few times rather than collapsing it to one --
    and each success grows it by 1/limit, about one more request per round trip."""

    def __init__(self, ceiling: int) -> None:
        import asyncio

        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self.epoch = 0  # bumped at each decrease: the window a request was sent in
        self._changed = asyncio.Condition()

    async def acquire(self) -> int:
        async with self._changed:
            while self.in_flight >= int(self.limit):
                await self._changed.wait()
            self.in_flight += 1
            return self.epoch

    async def release(self, epoch: int, *, congested: bool = False, ok: bool = False) -> None:
        async with self._changed:
            self.in_flight -= 1
            if congested and epoch == self.epoch:
                self.limit = max(1.0, self.limit / 2)
                self.epoch += 1
                log.debug("congestion: %d requests in flight at most now", int(self.limit))
            elif ok and self.limit < self.ceiling:
                self.limit = min(float(self.ceiling), self.limit + 1 / self.limit)
            # Wake only as many waiters as may now go: waking all of them on every
            # release would have hundreds re-check and sleep again each time.
            self._changed.notify(int(self.limit) - self.in_flight)


class HttpClient:
    """JSON over HTTP for one service; `service` names it in every error."""

    def __init__(
        self,
        service: str,
        *,
        timeouts: Timeouts | None = None,
        concurrency: int = 64,
        retry: RetryPolicy | None = None,
        headers: dict[str, str] | None = None,
        ssl_context: Any = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        network: Network | None = None,
    ) -> None:
        self.service = service
        self.timeouts = timeouts or Timeouts()
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._json_headers = {**self.headers, "Content-Type": "application/json"}
        self.ssl_context = ssl_context
        self.max_response_bytes = max_response_bytes
        self.requests_sent = 0
        self.network = network  # None: a session of its own (tools and tests)
        self._window: AdaptiveLimit | None = None
        self._session: aiohttp.ClientSession | None = None
        self._timeout: aiohttp.ClientTimeout | None = None

    @property
    def window(self) -> AdaptiveLimit:
        """Requests in flight at once, adapting to the server (made in the loop)."""
        if self._window is None:
            self._window = AdaptiveLimit(self.concurrency)
        return self._window

    async def __aenter__(self) -> HttpClient:
        import aiohttp

        # The client's own timeouts, built once: the shared pool serves services whose
        # patience differs (a querybatch may take a minute, a status check should not).
        self._timeout = aiohttp.ClientTimeout(
            total=self.timeouts.total(self.timeouts.read),
            connect=self.timeouts.connect,
            sock_read=self.timeouts.read,
        )
        if self.network is not None:
            self._session = await self.network.session()
            return self
        connector = aiohttp.TCPConnector(
            limit=self.concurrency + 8,
            ttl_dns_cache=300,
            ssl=self.ssl_context if self.ssl_context is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            raise_for_status=False,
            cookie_jar=aiohttp.DummyCookieJar(),  # JSON APIs: no cookies to keep
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None and self.network is None:
            await self._session.close()
        self._session = None

    async def get_json(
        self,
        url: str | Url,
        parse: Callable[[Any], T],
        *,
        read_timeout: float | None = None,
        missing_ok: bool = False,
    ) -> T | None:
        """GET a JSON document and read it into its wire type with `parse`; None only
        for a 404 when `missing_ok`.

        `parse` raises ValueError on an answer of the wrong shape: it is retried like a
        5xx, and fails the request (naming the service) when retries run out.
        """
        data = await self._request("GET", url, None, read_timeout, missing_ok, parse)
        return None if data is None else cast(T, data)

    async def post_json(
        self,
        url: str | Url,
        body: Any,
        parse: Callable[[Any], T],
        *,
        read_timeout: float | None = None,
    ) -> T:
        """POST a JSON body; the answer read into its wire type with `parse`."""
        return cast(
            T, await self._request("POST", url, orjson.dumps(body), read_timeout, False, parse)
        )

    async def preconnect(
        self, url: str | Url, count: int, until: Callable[[], Awaitable[object]]
    ) -> int:
        """Open up to `count` kept-alive connections to `url`'s server before the
        requests that will need them -- each new one a TCP and, for https, a TLS
        handshake: round trips and CPU better spent while the caller waits on a slower
        answer. The connections are held (so each is a new one) until `until()`
        returns, then all go back to the pool, idle. Best effort: a failure here is the
        real request's to report. Returns how many were opened."""
        import asyncio

        import aiohttp
        from yarl import URL

        assert self._session is not None, "HttpClient used outside `async with`"
        connector = self._session.connector
        if connector is None or count <= 0:
            return 0
        try:  # the connection key its requests will have (same host, port and TLS)
            request = aiohttp.ClientRequest(
                "GET", URL(reveal(url)), loop=asyncio.get_running_loop()
            )
        except (TypeError, ValueError):  # an aiohttp whose request this is not
            return 0
        session, timeout = self._session, self._timeout or aiohttp.ClientTimeout()
        try:  # traced as the session's own requests are, so -v counts these too
            from aiohttp.tracing import Trace

            traces = [Trace(session, c, c.trace_config_ctx()) for c in session.trace_configs]
        except (ImportError, TypeError, AttributeError):
            traces = []
        held: list[Any] = []
        opening = asyncio.Semaphore(PRECONNECT_AT_ONCE)

        async def one() -> None:
            async with opening:
                held.append(await connector.connect(request, traces, timeout))

        async def open_all() -> None:
            await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)

        opener = asyncio.ensure_future(open_all())
        waiter = asyncio.ensure_future(until())
        opened = 0

        def release() -> None:  # back to the pool, idle and kept alive
            nonlocal opened
            while held:
                held.pop().release()
                opened += 1

        try:
            await asyncio.wait((opener, waiter), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (opener, waiter):
                task.cancel()
            release()  # before awaiting: a cancelled caller may not get past that await
            await asyncio.gather(opener, waiter, return_exceptions=True)
            release()
        return opened

    async def deliver(self, url: str | Url, body: Any) -> None:
        """POST a JSON document where any 2xx answer means delivered (a webhook)."""
        await self._request("POST", url, orjson.dumps(body), None, False, None, raw=True)

    async def get_revalidated(
        self, url: str | Url, etag: str | None, *, validate: Validator | None = None
    ) -> HttpResult:
        """GET honouring HTTP caching: sends If-None-Match, reports 304/404, ETag and
        Cache-Control max-age so the caller can keep its cached copy fresh."""
        result = await self._request("GET", url, None, None, True, validate, etag=etag, meta=True)
        assert isinstance(result, HttpResult)
        return result

    async def get_document(self, url: str | Url, etag: str | None, *, max_bytes: int) -> HttpResult:
        """Like get_revalidated, but `data` is the raw body (any content type), and a
        body larger than `max_bytes` is refused instead of held in memory."""
        result = await self._request(
            "GET", url, None, None, True, None, raw=True, etag=etag, meta=True, limit=max_bytes
        )
        assert isinstance(result, HttpResult)
        return result

    async def get_range(
        self, url: str | Url, start: int, end: int | None, *, max_bytes: int
    ) -> HttpResult:
        """GET bytes [start, end) (`start` < 0: the last -start bytes). A server that
        ignores Range answers 200 with the whole file, up to `max_bytes`."""
        first, last = (str(start), "") if start < 0 else (str(start), str((end or 0) - 1))
        spec = f"bytes={first}-{last}" if start >= 0 else f"bytes={first}"
        result = await self._request(
            "GET",
            url,
            None,
            None,
            False,
            None,
            raw=True,
            meta=True,
            limit=max_bytes,
            extra_headers={"Range": spec, "Accept-Encoding": "identity"},
        )
        assert isinstance(result, HttpResult)
        return result

    async def get_text(self, url: str | Url) -> str:
        data = await self._request("GET", url, None, None, False, None, raw=True)
        assert isinstance(data, bytes)
        return data.decode("utf-8", "replace")

    async def download(
        self,
        url: str | Url,
        target: Path,
        *,
        max_bytes: int = 2 * 1024**3,
        missing_ok: bool = False,
    ) -> int | None:
        """Stream a (possibly large) file to disk with the same retries; returns its
        size, or None for a 404 when `missing_ok`."""
        import aiohttp
        import anyio

        assert self._session is not None, "HttpClient used outside `async with`"
        last_error = "no attempt made"
        made = 0
        for attempt in range(self.retry.attempts):
            made = attempt + 1
            try:
                # Large files: no bound on the whole transfer, only on each read.
                unbounded = aiohttp.ClientTimeout(
                    total=None, connect=self.timeouts.connect, sock_read=self.timeouts.read
                )
                async with self._session.get(
                    reveal(url), headers=self.headers, timeout=unbounded
                ) as response:
                    if response.status != 200:
                        body = await response.read()
                        verdict = self._interpret(
                            response.status, response.headers, body, url, missing_ok
                        )
                        if verdict is None:
                            return None  # a 404, and the caller expects one
                    size = 0
                    async with await anyio.open_file(target, "wb") as handle:
                        async for chunk in response.content.iter_chunked(1 << 20):
                            size += len(chunk)
                            if size > max_bytes:
                                raise ServiceError(
                                    self.service, url, f"download larger than {max_bytes} bytes"
                                )
                            await handle.write(chunk)
                    return size
            except _Retryable as exc:
                last_error = str(exc)
            except aiohttp.ClientConnectorError as exc:
                last_error = _connect_failure(exc)
                if attempt + 1 >= self.retry.connect_attempts:
                    break
            except (aiohttp.ClientError, TimeoutError) as exc:
                last_error = _describe(exc)
            await anyio.sleep(self.retry.backoff(attempt))
        last_error = _scrub(last_error, url)
        raise ServiceError(self.service, url, f"{last_error} (gave up after {made} attempts)")

    async def _request(
        self,
        method: str,
        url: str | Url,
        body: bytes | None,
        read_timeout: float | None,
        missing_ok: bool,
        validate: Validator | None,
        *,
        raw: bool = False,
        etag: str | None = None,
        meta: bool = False,
        limit: int | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Any:
        import asyncio

        import aiohttp

        assert self._session is not None, "HttpClient used outside `async with`"
        timeout = (
            aiohttp.ClientTimeout(
                total=self.timeouts.total(read_timeout),
                connect=self.timeouts.connect,
                sock_read=read_timeout,
            )
            if read_timeout is not None
            else self._timeout
        )
        headers = self._json_headers if body is not None else self.headers
        if etag:
            headers = {**headers, "If-None-Match": etag}
        if extra_headers:
            headers = {**headers, **extra_headers}
        last_error = "no attempt made"
        attempt = 0
        congested = 0
        connect_failures = 0
        while True:
            epoch = await self.window.acquire()
            outcome: dict[str, bool] = {}
            asked_to_wait = False  # a 429/503: the server's own request for patience
            try:
                self.requests_sent += 1
                async with self._session.request(
                    method,
                    reveal(url),  # the one place a URL's secret goes: onto the wire
                    data=body,
                    headers=headers,
                    timeout=timeout,
                ) as response:
                    payload = await self._read_capped(
                        response, url, self.max_response_bytes if limit is None else limit
                    )
                    delivered = raw and method == "POST" and 200 <= response.status < 300
                    if delivered or (raw and response.status in (200, 206)):
                        if meta:
                            return HttpResult(
                                response.status,
                                response.headers.get("ETag"),
                                _max_age(response.headers),
                                payload,
                                response.content_type,
                                response.headers.get("Content-Range"),
                            )
                        return payload
                    if meta and response.status == 304:
                        return HttpResult(304, etag, _max_age(response.headers), None)
                    data = self._interpret(
                        response.status, response.headers, payload, url, missing_ok
                    )
                    response_etag = response.headers.get("ETag")
                    status = response.status
                    max_age = _max_age(response.headers)
                if validate is not None and data is not None:
                    try:
                        data = validate(data)
                    except ValueError as exc:
                        raise _Retryable(f"malformed response: {exc}") from None
                outcome["ok"] = True
                if meta:
                    return HttpResult(status, response_etag, max_age, data)
                return data
            except _Retryable as exc:
                last_error = str(exc)
                delay = exc.delay
                outcome["congested"] = asked_to_wait = exc.congested
            except aiohttp.ClientConnectorError as exc:
                connect_failures += 1
                last_error = _connect_failure(exc)
                delay = None
                if connect_failures >= self.retry.connect_attempts:
                    break
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                last_error = _describe(exc)
                delay = None
                outcome["congested"] = isinstance(exc, asyncio.TimeoutError)
            finally:
                await self.window.release(epoch, **outcome)
            if asked_to_wait and congested < self.retry.congested_attempts:
                congested += 1
            else:
                attempt += 1
            if attempt >= self.retry.attempts:
                break
            tries = attempt + congested
            wait = delay if delay is not None else self.retry.backoff(tries - 1)
            log.debug(
                "%s: %s %s failed (%s); retry %d in %.2fs",
                self.service,
                method,
                as_url(url),
                redact_text(last_error),
                tries,
                wait,
            )
            await asyncio.sleep(wait)
        last_error = _scrub(last_error, url)
        raise ServiceError(
            self.service, url, f"{last_error} (gave up after {attempt + congested} attempts)"
        )

    async def _read_capped(
        self, response: aiohttp.ClientResponse, url: str | Url, limit: int
    ) -> bytes:
        def too_big() -> ServiceError:
            return ServiceError(self.service, url, f"response larger than {limit} bytes refused")

        if response.content_length is not None:
            if response.content_length > limit:
                raise too_big()
            return await response.read()  # aiohttp reads no more than Content-Length
        body = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > limit:
                raise too_big()
        return bytes(body)

    def _interpret(
        self, status: int, headers: Any, payload: bytes, url: str | Url, missing_ok: bool
    ) -> Any:
        if status == 200:
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError:
                raise _Retryable(f"invalid JSON in response ({len(payload)} bytes)") from None
        if status == 429:
            raise _Retryable(
                "HTTP 429 Too Many Requests",
                self._retry_after(headers.get("Retry-After")),
                congested=True,
            )
        if status >= 500:
            raise _Retryable(f"HTTP {status}", congested=status == 503)
        if status == 404 and missing_ok:
            return None
        raise ServiceError(self.service, url, f"HTTP {status}: {_server_message(payload)}")

    def _retry_after(self, value: str | None) -> float | None:
        if not value:
            return None
        import email.utils
        import time

        try:
            seconds = float(value)
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            seconds = parsed.timestamp() - time.time()
        return max(0.0, min(seconds, self.retry.max_retry_after))


def _connect_failure(exc: aiohttp.ClientConnectorError) -> str:
    reason = getattr(exc.os_error, "strerror", None) or str(exc.os_error)
    return f"cannot connect to {exc.host}:{exc.port} ({reason})"


def _scrub(text: str, url: str | Url) -> str:
    """An exception's text may quote the URL whole (a webhook's secret is its path):
    it is shown as the Url shows itself."""
    raw = reveal(url)
    return text.replace(raw, str(as_url(url))) if raw and raw in text else text


def _describe(exc: BaseException) -> str:
    import asyncio

    if isinstance(exc, asyncio.TimeoutError):
        return "timed out waiting for the server"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def _server_message(payload: bytes) -> str:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload[:200].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(data, dict):
        for key in ("message", "error", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return str(data)[:200]
