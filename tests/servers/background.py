"""An aiohttp app on 127.0.0.1, run in its own thread and event loop, so tests and
benchmarks can use it with `with Server(...) as server:` next to blocking code."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, TypeVar

from aiohttp import web

S = TypeVar("S", bound="BackgroundServer")


class BackgroundServer:
    ssl_context: Any = None

    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None  # set when the server shuts down

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self, port: int = 0) -> None:
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        # aiohttp's default backlog (128) drops SYNs when a client opens hundreds of
        # connections at once, and each drop costs that client a 1 s retransmit:
        # production front ends take far more.
        site = web.TCPSite(
            self._runner, "127.0.0.1", port, ssl_context=self.ssl_context, backlog=4096
        )
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def __enter__(self: S) -> S:
        ready = threading.Event()

        def serve() -> None:
            try:
                import uvloop

                self._loop = uvloop.new_event_loop()
            except ImportError:
                self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
