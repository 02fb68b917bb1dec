"""No credential leaves the process (issue 21): credentials in --osv-url, --index-url,
--extra-index-url, PIP_INDEX_URL, --pypi-url and --webhook, against servers that
refuse, hang past --deadline, answer 500, 401 or garbage, or redirect. The secrets
must appear in no output format, log line (-vv), error line, -o file, state database,
cache file or webhook body."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers.background import BackgroundServer

PASSWORD = "S3cr3tPa55w0rd"
HOOK_SECRET = "T0kenInThePath"
QUERY_SECRET = "QueryT0ken"
SECRETS = (PASSWORD, HOOK_SECRET, QUERY_SECRET)
MODES = ("refuse", "hang", "500", "401", "garbage", "redirect")


class HostileServer(BackgroundServer):
    """Every path under /<mode>/ misbehaves as the mode says; /hook/ takes webhooks."""

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list[bytes] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/hook/{rest:.*}", self._hook)
        app.router.add_route("*", "/{mode}/{rest:.*}", self._misbehave)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        self.hooks.append(await request.read())
        return web.Response(status=500)  # retried, then only a warning

    async def _misbehave(self, request: web.Request) -> web.StreamResponse:
        mode = request.match_info["mode"]
        if mode == "hang":
            await asyncio.sleep(6)  # past --deadline
        if mode == "401":
            return web.Response(status=401, text=f"bad credentials for {request.url}")
        if mode == "garbage":
            return web.Response(body=b"\x00{not json" + str(request.url).encode())
        if mode == "redirect":
            raise web.HTTPFound(f"/500/{request.match_info['rest']}")
        return web.Response(status=500, text=f"failed: {request.url}")


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base(server: HostileServer, mode: str) -> str:
    if mode == "refuse":
        return f"http://user:{PASSWORD}@127.0.0.1:{_closed_port()}/refuse"
    return f"http://user:{PASSWORD}@127.0.0.1:{server.port}/{mode}"


def _assert_no_secret(where: str, data: bytes | str) -> None:
    text = data if isinstance(data, str) else data.decode("latin-1")
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked in {where}"


FORMATS = ("json", "html", "sarif", "markdown", "cyclonedx-json", "ndjson")


@pytest.mark.parametrize("mode", MODES)
def test_no_secret_in_any_output(mode: str, hostile: HostileServer, tmp_path: Path) -> None:
    base = _base(hostile, mode)
    hook = f"http://127.0.0.1:{hostile.port}/hook/{HOOK_SECRET}?token={QUERY_SECRET}"
    pins = tmp_path / "requirements.txt"
    pins.write_text("six==1.16.0\nidna\n")  # idna unpinned: resolved on the index
    fmt = FORMATS[MODES.index(mode) % len(FORMATS)]
    common = ("-r", str(pins), "-vv", "--timeout", "1", "--deadline", "4", "-f", fmt)
    runs = [
        run_cli(
            *common,
            "--osv-url", base,
            "--index-url", f"{base}/simple",
            "--extra-index-url", f"{base}/extra",
            "--webhook", hook,
            "--state", str(tmp_path / "state.db"),
            "--cache-dir", str(tmp_path / "cache"),
            "-o", str(tmp_path / f"report-a.{fmt}"),
        ),
        run_cli(
            *common,
            "-s", "pypi", "--pypi-url", base,
            "--cache-dir", str(tmp_path / "cache"),
            "-o", str(tmp_path / f"report-b.{fmt}"),
            env={"PIP_INDEX_URL": f"{base}/pip-index"},
        ),
    ]  # fmt: skip
    for number, proc in enumerate(runs):
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode in (2, 3), proc.stderr  # something failed, and says so
        _assert_no_secret(f"run {number} stdout", proc.stdout)
        _assert_no_secret(f"run {number} stderr", proc.stderr)
        if mode != "garbage":  # a garbage index page reads as a page with no files
            assert "****" in proc.stderr  # the URL is named, redacted
    for path in tmp_path.rglob("*"):
        if path.is_file():
            _assert_no_secret(str(path), path.read_bytes())
    for body in hostile.hooks:
        _assert_no_secret("webhook body", body)


def test_the_url_type_never_prints_its_secret() -> None:
    from vulnsweep.errors import ServiceError
    from vulnsweep.url import Url

    url = Url(f"https://user:{PASSWORD}@example.invalid/simple")
    hook = Url(f"https://hooks.example.invalid/services/T/B/{HOOK_SECRET}", secret_path=True)
    for shown in (str(url), repr(url), f"{url}", f"{url}", str(ServiceError("x", url, "y"))):
        assert PASSWORD not in shown and "****" in shown
    assert str(hook) == "https://hooks.example.invalid/****"
    assert url.reveal().startswith("https://user:")
    assert str(url.join("/six/")) == "https://****@example.invalid/simple/six/"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(url)
