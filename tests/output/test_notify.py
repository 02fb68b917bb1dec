"""Where a scheduled job ends: the GitHub Actions job summary and a webhook. Neither
may change the audit's outcome; a hook that fails is a warning with its URL redacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.helpers import run_cli
from tests.monorepo import WORKER_AFTER, build_monorepo
from tests.servers.background import BackgroundServer
from tests.servers.osv import OsvServer


class Hook(BackgroundServer):
    """A webhook receiver: answers `status` the first `failures` times, then 204."""

    def __init__(self, failures: int = 0, status: int = 503) -> None:
        super().__init__()
        self.failures, self.status = failures, status
        self.received: list[dict[str, Any]] = []
        self.attempts = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.failures:
            return web.Response(status=self.status, text="busy")
        self.received.append(await request.json())
        return web.Response(status=204)


def job(root: Path, osv: OsvServer, *args: str, env: dict[str, str] | None = None) -> Any:
    proc = run_cli(
        "-R", ".", "--osv-url", osv.url, "--cache-dir", str(root.parent / "cache"),
        "--progress-spinner", "off", *args, cwd=root, env=env,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_step_summary_lists_new_findings_per_project_and_owner(
    tmp_path: Path, osv_server: OsvServer
) -> None:
    root = build_monorepo(tmp_path / "repo")
    first = tmp_path / "first.json"
    job(root, osv_server, "-f", "json", "-o", str(first))
    (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    proc = job(
        root, osv_server, "--baseline", str(first), "--summary",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert proc.returncode == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n## vulnsweep\n")  # appended, not replaced
    assert "3 new, " in text and "4 fixed since " in text
    assert "### services/worker (@acme/worker, @alice)" in text
    rows = [line for line in text.splitlines() if line.startswith("urllib3 |")]
    assert [row.split(" | ")[2].split("]")[0][1:] for row in rows] == [
        "PYSEC-2021-108",
        "PYSEC-2023-192",
        "PYSEC-2023-212",
    ]
    assert "services/api" not in text  # nothing new there

    proc = job(root, osv_server, "--summary")  # outside GitHub Actions: a warning only
    assert proc.returncode == 1 and "GITHUB_STEP_SUMMARY is not set" in proc.stderr


def test_webhook_gets_the_new_findings(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    first = tmp_path / "first.json"
    job(root, osv_server, "-f", "json", "-o", str(first))
    (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)
    with Hook(failures=1) as hook:  # one 503, then delivered on the retry
        proc = job(
            root,
            osv_server,
            "--baseline",
            str(first),
            "--webhook",
            f"http://127.0.0.1:{hook.port}/hook",
        )
    assert proc.returncode == 1 and "not delivered" not in proc.stderr
    (payload,) = hook.received
    assert payload["counts"]["new"] == 3 and payload["counts"]["fixed"] == 4
    assert sorted(f["id"] for f in payload["new"]) == [
        "PYSEC-2021-108",
        "PYSEC-2023-192",
        "PYSEC-2023-212",
    ]
    assert payload["new"][0]["owners"] == ["@acme/worker", "@alice"]
    worker = next(p for p in payload["projects"] if p["path"] == "services/worker")
    assert worker["verdict"] == "fail" and len(worker["new"]) == 3
    assert orjson.dumps(payload)  # plain JSON all through


def test_a_failing_webhook_only_warns_and_hides_its_token(
    tmp_path: Path, osv_server: OsvServer
) -> None:
    root = build_monorepo(tmp_path / "repo")
    with Hook(failures=100, status=500) as hook:
        url = f"http://bot:s3cr3t-token@127.0.0.1:{hook.port}/hook"
        proc = job(root, osv_server, "--webhook", url)
    assert proc.returncode == 1  # the audit's own verdict, untouched
    assert "--webhook" in proc.stderr and "not delivered" in proc.stderr
    assert "s3cr3t-token" not in proc.stderr
    assert hook.attempts == 3
    with Hook() as hook:
        pass  # closed: nothing listens on its port any more
    proc = job(root, osv_server, "--webhook", f"http://127.0.0.1:{hook.port}/hook")
    assert proc.returncode == 1 and "not delivered" in proc.stderr


def test_a_webhook_that_is_no_url_is_a_usage_error(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    proc = job(root, osv_server, "--webhook", "hooks.example/notify")
    assert proc.returncode == 2
    assert proc.stderr == (
        "vulnsweep: error: --webhook must be an http(s) URL with a host, got '****'\n"
    )
