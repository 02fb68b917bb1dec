"""`-f html`: one self-contained page. Everything from advisories and files is escaped;
nothing is fetched; in a real browser (headless Chromium) it loads without a console
error, filters and sorts."""

from __future__ import annotations

import asyncio
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.browser import Chromium, find_chromium
from tests.helpers import many_findings, run_cli
from tests.monorepo import WORKER_AFTER, build_monorepo
from tests.servers.osv import OsvDatabase, OsvServer
from vulnsweep.model import AuditResult, Dependency, Finding, Origin, Vulnerability
from vulnsweep.output import OutputOptions
from vulnsweep.output.html import HtmlWriter

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def render(result: AuditResult) -> str:
    buffer = io.BytesIO()
    HtmlWriter(OutputOptions(desc=True, aliases=True)).write(result, buffer)
    return buffer.getvalue().decode()


def parsed(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_advisory_and_file_text_is_escaped() -> None:
    dep = Dependency(f"evil{HOSTILE}", "1.0", (Origin(f"reqs/{HOSTILE}.txt", 1),))
    vuln = Vulnerability(
        "GHSA-aaaa-bbbb-cccc",
        aliases=(f"CVE-2026-1{HOSTILE}",),
        summary=f"summary {HOSTILE}",
        fix_versions=(f"2.0{HOSTILE}",),
        severity="HIGH",
    )
    page = render(AuditResult(audited=[(dep, [Finding(dep, vuln)])]))
    tags = parsed(page)
    assert [t for t, _ in tags.tags].count("script") == 1  # the page's own, inline
    assert not any(t == "img" for t, _ in tags.tags)
    assert not any(k.startswith("on") for _, attrs in tags.tags for k in attrs)
    text = "".join(tags.text)
    assert f"summary {HOSTILE}" in text  # shown as text, every character of it
    assert f"2.0{HOSTILE}" in text


def test_nothing_is_fetched_by_the_page(osv_db: OsvDatabase) -> None:
    dep = Dependency("jinja2", "2.10.1", (Origin("requirements.txt", 1),))
    vulns = [Vulnerability(i, summary="x") for i in osv_db.match("jinja2", "2.10.1")]
    page = render(AuditResult(audited=[(dep, [Finding(dep, v) for v in vulns])]))
    tags = parsed(page).tags
    assert "default-src 'none'" in next(
        a["content"] or "" for t, a in tags if t == "meta" and a.get("http-equiv")
    )
    for tag, attrs in tags:
        assert tag not in ("link", "img", "iframe", "object", "embed"), tag
        assert "src" not in attrs or (tag == "script" and attrs["src"] is None)
    links = [a["href"] for t, a in tags if t == "a"]
    assert set(links) == {
        "https://pypi.org/project/jinja2",
        *(f"https://osv.dev/vulnerability/{v.id}" for v in vulns),
    }


def test_two_thousand_findings_stay_small(osv_db: OsvDatabase) -> None:
    report = many_findings(list(osv_db.records.values()), 2000)
    page = render(report)
    assert len(page.encode()) < 2 * 1024**2
    assert page.count('<tr data-sev="') == 2000


# -- in a real browser ---------------------------------------------------------------

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium here (Debian's `chromium` package; .ci/run installs it when it can)",
)


def report_of_monorepo(tmp_path: Path, osv: OsvServer) -> Path:
    root = build_monorepo(tmp_path / "repo")
    common = ["-R", ".", "--osv-url", osv.url, "--cache-dir", str(tmp_path / "cache")]
    first = tmp_path / "first.json"
    run_cli(*common, "-f", "json", "-o", str(first), cwd=root)
    (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)
    out = tmp_path / "report.html"
    proc = run_cli(*common, "--baseline", str(first), "-f", "html", "-o", str(out), cwd=root)
    assert proc.returncode == 1, proc.stderr
    return out


async def drive(report: Path, screenshot: Path) -> dict[str, Any]:
    import aiohttp

    assert CHROMIUM is not None
    with Chromium(CHROMIUM) as browser:
        async with aiohttp.ClientSession() as session:
            page = await browser.page(session)
            await page.load(report)
            visible = "document.querySelectorAll('#findings tbody tr:not([hidden])').length"
            seen: dict[str, Any] = {"all": await page.evaluate(visible)}
            await page.evaluate(
                "var q=document.getElementById('q'); q.value='URLLIB3';"
                "q.dispatchEvent(new Event('input')); 0"
            )
            seen["urllib3"] = await page.evaluate(visible)
            seen["shown"] = await page.evaluate("document.getElementById('shown').textContent")
            await page.evaluate(
                "var q=document.getElementById('q'); q.value='';"
                "q.dispatchEvent(new Event('input'));"
                "var s=document.getElementById('sev'); s.value='HIGH';"
                "s.dispatchEvent(new Event('change')); 0"
            )
            seen["high"] = await page.evaluate(visible)
            await page.evaluate(
                "var s=document.getElementById('sev'); s.value='';"
                "s.dispatchEvent(new Event('change'));"
                "var n=document.getElementById('only-new'); n.click(); 0"
            )
            seen["new"] = await page.evaluate(visible)
            await page.evaluate("document.getElementById('only-new').click(); 0")
            # Sort by severity: a click on its header puts the most severe first.
            await page.evaluate(
                "Array.from(document.querySelectorAll('#findings th'))"
                ".find(th => th.textContent === 'Severity').click(); 0"
            )
            seen["first_severity"] = await page.evaluate(
                "document.querySelector('#findings tbody tr').getAttribute('data-sev')"
            )
            await page.screenshot(screenshot)
            seen["errors"] = page.errors
            seen["requests"] = page.requests
            return seen


@needs_chromium
def test_report_in_chromium(tmp_path: Path, osv_server: OsvServer) -> None:
    report = report_of_monorepo(tmp_path, osv_server)
    html = report.read_text()
    rows = re.findall(r'<tr data-sev="(\w+)" data-state="(\w*)"', html)
    seen = asyncio.run(drive(report, tmp_path / "report.png"))
    assert seen["errors"] == []
    assert seen["requests"] == [report.as_uri()]  # the page itself, nothing else
    assert seen["all"] == len(rows) > 30
    assert seen["urllib3"] == 3 and seen["shown"] == "3"  # case-insensitive filter
    assert seen["high"] == sum(s == "HIGH" for s, _ in rows) > 0
    assert seen["new"] == 3
    assert seen["first_severity"] == min((s for s, _ in rows), key=SEVERITY_ORDER.index)
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


SEVERITY_ORDER = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
