"""Would HTTP/2 beat aiohttp's HTTP/1.1 pool over TLS at the cold audit's scale?

    python -m benchmarks.http2 [--latency 0.05] [--records 1369] [--repeat 3]

One hypercorn server (a separate process, TLS with a trustme CA, ALPN h2 and
http/1.1, 100 concurrent streams per connection as Google's front ends allow) serves
the export's advisories by id with injected latency. Each client fetches the same
records -- what a cold audit's hydration does -- and is timed by wall clock and by its
own CPU time: aiohttp over HTTP/1.1 as vulnsweep uses it, and httpx over HTTP/2
(h2, pure Python) with a few multiplexed connections. Needs the bench extra.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import socket
import ssl
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

STREAMS_PER_CONNECTION = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(port: int, cert: str, key: str, latency: float, ready: Any) -> None:
    """The server process: hypercorn over a bare ASGI app (no framework cost)."""
    import sys

    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (its tracebacks when terminated)
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from tests.servers.osv import OsvDatabase

    bodies = OsvDatabase.from_zip().bodies

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        record_id = scope["path"].rsplit("/", 1)[-1]
        body = bodies.get(record_id)
        await asyncio.sleep(latency)
        status = 200 if body is not None else 404
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body or b"{}"})

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = cert, key
    config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = STREAMS_PER_CONNECTION
    config.backlog = 4096
    config.keep_alive_max_requests = 1_000_000  # no GOAWAY mid-run
    config.accesslog = config.errorlog = None
    ready.set()
    asyncio.run(serve(app, config))  # type: ignore[arg-type]


async def _aiohttp(base: str, ids: list[str], cafile: str, connections: int) -> int:
    import aiohttp

    context = ssl.create_default_context(cafile=cafile)
    connector = aiohttp.TCPConnector(limit=connections, ssl=context)
    limit = asyncio.Semaphore(connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def fetch(record_id: str) -> int:
            async with limit, session.get(f"{base}/v1/vulns/{record_id}") as response:
                return len(await response.read())

        sizes = await asyncio.gather(*(fetch(i) for i in ids))
    return sum(sizes)


async def _httpx(base: str, ids: list[str], cafile: str, connections: int) -> int:
    import httpx

    context = ssl.create_default_context(cafile=cafile)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    limit = asyncio.Semaphore(connections * STREAMS_PER_CONNECTION)
    async with httpx.AsyncClient(http2=True, verify=context, limits=limits) as client:

        async def fetch(record_id: str) -> int:
            async with limit:
                response = await client.get(f"{base}/v1/vulns/{record_id}")
                assert response.http_version == "HTTP/2", response.http_version
                return len(response.content)

        sizes = await asyncio.gather(*(fetch(i) for i in ids))
    return sum(sizes)


async def _pipelined(host: str, port: int, ids: list[str], cafile: str) -> list[float]:
    """Seconds after sending at which each of `ids`' responses arrived, all requests
    written back to back on one HTTP/1.1 connection (pipelining)."""
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["http/1.1"])
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    start = time.perf_counter()
    for record_id in ids:
        writer.write(f"GET /v1/vulns/{record_id} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    arrivals = []
    for _ in ids:
        length = 0
        while (line := await reader.readline()) != b"\r\n":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        arrivals.append(time.perf_counter() - start)
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1)
    return arrivals


def _timed(fn: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    import uvloop

    cpu, wall = time.process_time(), time.perf_counter()
    size = uvloop.run(fn())
    return time.perf_counter() - wall, time.process_time() - cpu, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--records", type=int, default=1369)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    import aiohttp  # noqa: F401  (imported before timing: start-up is measured elsewhere)
    import httpx  # noqa: F401
    import trustme
    from tests.servers.osv import OsvDatabase

    ids = sorted(OsvDatabase.from_zip().records)[: args.records]
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-h2-"))
    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1")
    cert, key, cafile = work / "cert.pem", work / "key.pem", work / "ca.pem"
    server_cert.cert_chain_pems[0].write_to_path(str(cert))
    server_cert.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(cafile))
    port = _free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(
        target=_serve, args=(port, str(cert), str(key), args.latency, ready), daemon=True
    )
    server.start()
    ready.wait(60)
    time.sleep(0.5)  # hypercorn binds after `serve` starts
    base = f"https://127.0.0.1:{port}"
    clients: list[tuple[str, Callable[[], Awaitable[int]]]] = [
        ("aiohttp HTTP/1.1, 256 connections", lambda: _aiohttp(base, ids, str(cafile), 256)),
        ("aiohttp HTTP/1.1, 64 connections", lambda: _aiohttp(base, ids, str(cafile), 64)),
        ("httpx HTTP/2, 1 connection", lambda: _httpx(base, ids, str(cafile), 1)),
        ("httpx HTTP/2, 4 connections", lambda: _httpx(base, ids, str(cafile), 4)),
        ("httpx HTTP/2, 14 connections", lambda: _httpx(base, ids, str(cafile), 14)),
    ]
    try:
        _timed(clients[0][1])  # warm the server (imports, first handshakes)
        print(
            f"{len(ids)} records by id over TLS, {args.latency * 1000:.0f} ms per request; "
            f"server: hypercorn, {STREAMS_PER_CONNECTION} streams per HTTP/2 connection"
        )
        print(f"{'client':<36} {'wall s':>8} {'CPU s':>7} {'CPU/request':>12}")
        for label, fn in clients:
            runs = [_timed(fn) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"{label:<36} {wall:>8.3f} {cpu:>7.3f} {cpu / len(ids) * 1e6:>9.0f} us")
        import uvloop

        arrivals = uvloop.run(_pipelined("127.0.0.1", port, ids[:10], str(cafile)))
        print(
            "HTTP/1.1 pipelining, 10 requests written at once on one connection: responses "
            f"after {', '.join(f'{a * 1000:.0f}' for a in arrivals)} ms: the server does not "
            "answer a connection's requests concurrently, so pipelining saves no round trip"
        )
    finally:
        server.terminate()
        server.join(5)
        for path in (cert, key, cafile):
            os.unlink(path)
        work.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
