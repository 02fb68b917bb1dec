"""The run's network: one event loop per process and one aiohttp connection pool per
run, both opened on first use -- so a run the cache answers entirely never imports
aiohttp, and resolution, queries, status checks, `--fix` rounds and the webhook all
reuse the same loop and the same kept-alive connections (and TLS sessions)."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from vulnsweep import __version__
from vulnsweep.errors import UsageError

USER_AGENT = f"vulnsweep/{__version__}"

if TYPE_CHECKING:
    import asyncio

    import aiohttp

T = TypeVar("T")
log = logging.getLogger("vulnsweep")


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class Network:
    """Owned by the run; `close()` (always called) closes the pool, then the loop."""

    def __init__(self, *, ca_bundle: str | None = None, connections: int = 128) -> None:
        if ca_bundle is not None:
            import os

            if not os.path.isfile(ca_bundle):
                raise UsageError(f"--cert {ca_bundle}: no such file")
        self.ca_bundle = ca_bundle
        self.connections = connections
        self._runner: Any = None  # asyncio.Runner (3.11+) or a plain loop on 3.10
        self._session: aiohttp.ClientSession | None = None
        self._ssl: Any = None
        self.stats: Counter[str] = Counter()
        self.tls = False  # set when a request goes to an https:// URL

    @property
    def started(self) -> bool:
        return self._runner is not None

    def run(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine to completion on the process's one event loop."""
        if self._runner is None:
            import asyncio

            if sys.version_info >= (3, 11):
                self._runner = asyncio.Runner(loop_factory=_loop_factory())
            else:  # pragma: no cover - 3.10 has no asyncio.Runner
                self._runner = _LoopRunner(_loop_factory()())
        # The result travels outside the task: on 3.11, Runner.run's signal.getsignal()
        # formats repr(task) -- its whole result -- into an error it then discards, and
        # the repr of a large audit's answers costs tens of milliseconds each call.
        box: list[T] = []
        self._runner.run(_awaited(fn, box))
        return box[0]

    def ssl_context(self) -> Any:
        """Built once per run, and only when a request needs TLS verification against
        a bundle of its own; otherwise aiohttp's default verification applies."""
        if self._ssl is None and self.ca_bundle is not None:
            import ssl

            try:
                self._ssl = ssl.create_default_context(cafile=self.ca_bundle)
            except (ssl.SSLError, OSError) as exc:
                raise UsageError(
                    f"--cert {self.ca_bundle}: not a usable CA bundle ({exc})"
                ) from None
        return self._ssl

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            ssl_context = self.ssl_context()
            connector = aiohttp.TCPConnector(
                limit=self.connections,
                ttl_dns_cache=300,
                ssl=ssl_context if ssl_context is not None else True,
            )
            # Connections opened (each a TCP and, for https, a TLS handshake), requests
            # and DNS lookups, reported at -v when the run ends; traced only then, as
            # each traced request awaits a few more signal handlers.
            traces = [self._trace()] if log.isEnabledFor(logging.INFO) else []
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                raise_for_status=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # JSON APIs: no cookies to keep
                trace_configs=traces,
            )
        return self._session

    def _trace(self) -> aiohttp.TraceConfig:
        import aiohttp

        trace = aiohttp.TraceConfig()

        async def opened(*_: object) -> None:
            self.stats["connections"] += 1

        async def resolved(*_: object) -> None:
            self.stats["dns lookups"] += 1

        async def sent(_session: object, _context: object, params: Any) -> None:
            self.stats["requests"] += 1
            self.tls = self.tls or params.url.scheme == "https"

        trace.on_connection_create_end.append(opened)
        trace.on_dns_resolvehost_end.append(resolved)
        trace.on_request_start.append(sent)
        return trace

    def close(self) -> None:
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        try:
            if self._session is not None:
                session, self._session = self._session, None
                runner.run(session.close())
                if self.stats:
                    log.info(
                        "network: %d requests over %d connections (%s), %d DNS lookups",
                        self.stats["requests"],
                        self.stats["connections"],
                        "each with a TLS handshake" if self.tls else "plain HTTP",
                        self.stats["dns lookups"],
                    )
        finally:
            runner.close()


async def _awaited(fn: Callable[[], Awaitable[T]], box: list[T]) -> None:
    box.append(await fn())


class _LoopRunner:  # pragma: no cover - Python 3.10 only
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coroutine: Awaitable[T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        import asyncio

        loop = self.loop
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def run_once(fn: Callable[[], Awaitable[T]]) -> T:
    """For a caller with no run around it (a maintenance command, a library user): a
    network of its own for one coroutine, closed afterwards."""
    network = Network()
    try:
        return network.run(fn)
    finally:
        network.close()
