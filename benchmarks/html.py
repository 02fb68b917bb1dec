"""Size and render time of `-f html` for a 2,000-finding report, in headless Chromium.

    python -m benchmarks.html [--findings 2000] [--screenshot docs/html-report.png]

The report is built from real advisories of the shared export (2,000 of them over 400
packages); the page is opened over file:// and timed from navigation to the first
frame after `load` (the table built, the filter script run). `--screenshot` also
renders the monorepo report the tests use (a baseline, three projects) to a PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.browser import Chromium, find_chromium
from tests.helpers import many_findings
from tests.servers.osv import DATA_ZIP, OsvDatabase

from vulnsweep.output import OutputOptions
from vulnsweep.output.html import HtmlWriter


async def render_time(chromium: str, page_path: Path, repeat: int) -> list[float]:
    import aiohttp

    times = []
    for _ in range(repeat):
        with Chromium(chromium) as browser:
            async with aiohttp.ClientSession() as session:
                page = await browser.page(session)
                start = time.perf_counter()
                await page.send("Page.navigate", url=page_path.as_uri())
                await page.wait_for("Page.loadEventFired")
                await page.evaluate("new Promise(r => requestAnimationFrame(() => r(0)))")
                times.append(time.perf_counter() - start)
                if page.errors:
                    raise SystemExit(f"console errors: {page.errors}")
    return times


async def screenshot(chromium: str, page_path: Path, target: Path) -> None:
    import aiohttp

    with Chromium(chromium) as browser:
        async with aiohttp.ClientSession() as session:
            page = await browser.page(session)
            await page.load(page_path, height=1100)
            await page.screenshot(target)


def monorepo_report(work: Path) -> Path:
    from tests.helpers import run_cli
    from tests.monorepo import WORKER_AFTER, build_monorepo
    from tests.servers.osv import OsvServer

    with OsvServer(OsvDatabase.from_zip(DATA_ZIP)) as osv:
        root = build_monorepo(work / "repo")
        common = ["-R", ".", "--osv-url", osv.url, "--cache-dir", str(work / "cache")]
        run_cli(*common, "-f", "json", "-o", str(work / "first.json"), cwd=root)
        (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)
        out = work / "monorepo.html"
        run_cli(
            *common, "--baseline", str(work / "first.json"), "-f", "html", "-o", str(out), cwd=root
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args(argv)
    chromium = find_chromium()
    db = OsvDatabase.from_zip(DATA_ZIP)
    buffer = io.BytesIO()
    started = time.perf_counter()
    report = many_findings(list(db.records.values()), args.findings)
    HtmlWriter(OutputOptions(desc=True, aliases=True)).write(report, buffer)
    written = time.perf_counter() - started
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-html-bench-"))
    try:
        page_path = work / "report.html"
        page_path.write_bytes(buffer.getvalue())
        size = len(buffer.getvalue())
        print(f"{args.findings} findings: {size / 1024**2:.2f} MB (target < 2 MB), "
              f"written in {written:.3f} s")  # fmt: skip
        if chromium is None:
            print("no Chromium here: render time not measured")
            return 0
        times = asyncio.run(render_time(chromium, page_path, args.repeat))
        print(
            f"render (navigate -> first frame after load), median of {args.repeat}: "
            f"{statistics.median(times):.3f} s (target < 1 s); all: "
            + ", ".join(f"{t:.3f}" for t in times)
        )
        if args.screenshot is not None:
            asyncio.run(screenshot(chromium, monorepo_report(work), args.screenshot))
            print(f"screenshot: {args.screenshot}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
