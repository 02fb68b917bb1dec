"""Exploitation signals (issue 25, items 1-3 and 6): KEV membership and EPSS scores
matched through CVE aliases, unknown never shown as zero, the gates and the risk order,
and MAL- records that always fail -- on the real KEV catalogue and the real export."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import DATA, run_cli
from tests.servers.osv import DATA_ZIP, OsvDatabase

KEV = DATA / "kev" / "known_exploited_vulnerabilities.json"


def epss_file(path: Path, scores: dict[str, tuple[float, float]], gz: bool = True) -> Path:
    """A file in the daily file's exact shape (see shared/data/README.md)."""
    text = "#model_version:v2025.03.14,score_date:2025-09-03T00:00:00+0000\n"
    text += "cve,epss,percentile\n"
    text += "".join(f"{cve},{p:.5f},{q:.5f}\n" for cve, (p, q) in scores.items())
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


@pytest.fixture(scope="module")
def export() -> OsvDatabase:
    return OsvDatabase.from_zip()


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("triage-cache")
    assert run_cli("db", "import", str(DATA_ZIP), "--cache-dir", str(cache)).returncode == 0
    return cache


def kev_cves() -> set[str]:
    return {v["cveID"] for v in json.loads(KEV.read_text())["vulnerabilities"]}


def affected_pin(db: OsvDatabase, record: dict[str, Any]) -> tuple[str, str] | None:
    for entry in record.get("affected") or ():
        name = (entry.get("package") or {}).get("name")
        for version in reversed(entry.get("versions") or []):
            if name and record["id"] in db.match(name, version):
                return name, version
    return None


def test_exactly_the_findings_whose_cves_are_in_kev_are_flagged(
    export: OsvDatabase, offline: Path, tmp_path: Path
) -> None:
    """The export has six CVEs in the real catalogue (apache-airflow, pyspark, salt)."""
    listed = kev_cves()
    in_kev = {
        rid: record
        for rid, record in export.records.items()
        if not record.get("withdrawn") and set(record.get("aliases") or ()) & listed
    }
    cves = {c for r in in_kev.values() for c in r.get("aliases", []) if c in listed}
    assert len(cves) == 6
    pins = {affected_pin(export, r) for r in in_kev.values()} - {None}
    pins.add(("jinja2", "2.10.1"))  # a finding whose CVE is not in KEV
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pins)))  # type: ignore[misc]
    proc = run_cli(
        "-r", str(requirements), "--offline", "--cache-dir", str(offline),
        "--max-db-age", "1e5", "--kev", str(KEV), "-f", "json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    flagged, not_flagged = set(), set()
    for dep in json.loads(proc.stdout)["dependencies"]:
        for vuln in dep.get("vulns", []):
            ids = {vuln["id"], *vuln["aliases"]}
            has_cve = any(i.startswith("CVE-") for i in ids)
            if vuln["kev"] is None:
                assert not has_cve  # unknown only where there is no CVE to look up
            elif vuln["kev"]["listed"]:
                flagged.add(vuln["id"])
                assert ids & listed
                assert set(vuln["kev"]) == {
                    "listed", "date_added", "due_date", "known_ransomware_campaign_use"
                }  # fmt: skip
            else:
                not_flagged.add(vuln["id"])
                assert not ids & listed
    assert flagged and flagged <= set(in_kev)
    assert "PYSEC-2021-66" in not_flagged  # jinja2's, CVE-2020-28493: not exploited


def test_epss_values_equal_the_file_and_unknown_is_never_zero(
    offline: Path, tmp_path: Path
) -> None:
    scores = epss_file(tmp_path / "epss.csv.gz", {"CVE-2020-28493": (0.00412, 0.71234)})
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10.1\nwerkzeug==0.15.3\n")
    proc = run_cli(
        "-r", str(requirements), "--offline", "--cache-dir", str(offline),
        "--max-db-age", "1e5", "--epss", str(scores), "-f", "json",
    )  # fmt: skip
    vulns = {v["id"]: v for d in json.loads(proc.stdout)["dependencies"] for v in d["vulns"]}
    assert vulns["PYSEC-2021-66"]["epss"] == {
        "probability": 0.00412,
        "percentile": 0.71234,
        "date": "2025-09-03",
    }
    others = [v for rid, v in vulns.items() if rid != "PYSEC-2021-66"]
    assert others and all(v["epss"] is None for v in others)  # unknown: null, never 0
    columns = run_cli(
        "-r", str(requirements), "--offline", "--cache-dir", str(offline),
        "--max-db-age", "1e5", "--epss", str(scores),
    ).stdout  # fmt: skip
    assert "EPSS 0.4%" in columns and "unknown" in columns


def test_fail_on_kev_and_min_epss_gates(offline: Path, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10.1\n")
    base = ("-r", str(requirements), "--offline", "--cache-dir", str(offline))
    base = (*base, "--max-db-age", "1e5")
    # Not in KEV: --fail-on kev passes it (reported, exit 0).
    assert run_cli(*base, "--kev", str(KEV), "--fail-on", "kev").returncode == 0
    low = epss_file(tmp_path / "low.csv", {"CVE-2020-28493": (0.004, 0.7)}, gz=False)
    high = epss_file(tmp_path / "high.csv", {"CVE-2020-28493": (0.5, 0.99)}, gz=False)
    assert run_cli(*base, "--epss", str(low), "--min-epss", "0.1").returncode == 0
    assert run_cli(*base, "--epss", str(high), "--min-epss", "0.1").returncode == 1
    # No score at all: unknown fails the gate unless --unknown-risk pass.
    none = epss_file(tmp_path / "none.csv", {"CVE-1999-0001": (0.9, 0.9)}, gz=False)
    assert run_cli(*base, "--epss", str(none), "--min-epss", "0.1").returncode == 1
    assert (
        run_cli(*base, "--epss", str(none), "--min-epss", "0.1", "--unknown-risk", "pass")
    ).returncode == 0
    # A gate with no data to decide by is a usage error, not a silent pass.
    proc = run_cli(*base, "--min-epss", "0.1")
    assert proc.returncode == 2 and "--min-epss needs EPSS scores" in proc.stderr
    proc = run_cli(*base, "--min-epss", "7")
    assert proc.returncode == 2 and "--min-epss takes a probability" in proc.stderr


def test_a_kev_finding_fails_with_fail_on_kev(
    export: OsvDatabase, offline: Path, tmp_path: Path
) -> None:
    listed = kev_cves()
    record = next(r for r in export.records.values() if set(r.get("aliases") or ()) & listed)
    name, version = affected_pin(export, record)  # type: ignore[misc]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{name}=={version}\njinja2==2.10.1\n")
    proc = run_cli(
        "-r", str(requirements), "--offline", "--cache-dir", str(offline), "--max-db-age",
        "1e5", "--kev", str(KEV), "--fail-on", "kev", "--sort", "risk", "-f", "json",
    )  # fmt: skip
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    first = report["dependencies"][0]["vulns"][0]
    assert first["kev"]["listed"]  # --sort risk: the known exploited come first


def test_malicious_packages_always_fail(tmp_path: Path) -> None:
    from vulnsweep.advisories.records import merge
    from vulnsweep.model import Dependency
    from vulnsweep.policy import Gate, IgnorePolicy

    record = {"id": "MAL-2024-1234", "summary": "malicious code", "affected": []}
    (vuln,) = merge([record], "evil-pkg")
    assert vuln.malicious and vuln.severity is None
    policy = IgnorePolicy(gate=Gate(min_severity="CRITICAL", ignore_unknown_severity=True))
    (finding,) = policy.findings(Dependency("evil-pkg", "1.0"), [vuln])
    assert finding.fails and finding.passing_reason is None


def _feeds(tmp_path: Path) -> tuple[bytes, bytes]:
    epss = epss_file(tmp_path / "feed.csv.gz", {"CVE-2020-28493": (0.00412, 0.71234)})
    return KEV.read_bytes(), epss.read_bytes()


def test_db_sync_fetches_both_conditionally_and_keeps_the_old_copy_on_failure(
    tmp_path: Path, offline: Path
) -> None:
    from aiohttp import web

    from tests.servers.background import BackgroundServer

    kev_body, epss_body = _feeds(tmp_path)
    state = {"mode": "ok"}
    hits: list[tuple[str, int]] = []

    class Feeds(BackgroundServer):
        def app(self) -> web.Application:
            app = web.Application()
            app.router.add_get("/{name}", self.serve)
            return app

        async def serve(self, request: web.Request) -> web.StreamResponse:
            body = kev_body if request.match_info["name"] == "kev.json" else epss_body
            etag = f'"{len(body)}"'
            if state["mode"] == "ok" and request.headers.get("If-None-Match") == etag:
                hits.append((request.path, 304))
                return web.Response(status=304, headers={"ETag": etag})
            hits.append((request.path, 200))
            if state["mode"] == "garbage":
                return web.Response(body=b"<html>maintenance</html>")
            if state["mode"] == "truncated":
                response = web.StreamResponse(headers={"Content-Length": str(len(body))})
                await response.prepare(request)
                await response.write(body[: len(body) // 2])
                request.transport.close()  # type: ignore[union-attr]
                return response
            return web.Response(body=body, headers={"ETag": etag})

    cache = tmp_path / "cache"
    with Feeds() as server:
        base = f"http://127.0.0.1:{server.port}"
        sync = ("db", "sync", "--only", "exploitation", "--cache-dir", str(cache),
                "--kev-url", f"{base}/kev.json", "--epss-url", f"{base}/epss.csv.gz")  # fmt: skip
        first = run_cli(*sync)
        assert first.returncode == 0, first.stderr
        assert first.stdout == (
            "KEV: 1404 CVEs (catalogue 2025.08.25)\nEPSS: 1 scores of 2025-09-03\n"
        )
        again = run_cli(*sync)
        assert again.stdout == "KEV: unchanged (304)\nEPSS: unchanged (304)\n"
        assert hits[-2:] == [("/kev.json", 304), ("/epss.csv.gz", 304)]
        stored = (cache / "triage.sqlite3").read_bytes()
        for mode in ("garbage", "truncated"):
            state["mode"] = mode
            failed = run_cli(*sync)
            assert failed.returncode == 3
            assert failed.stderr.count("the previous copy is kept") == 2, failed.stderr
    # The synced copy answers an offline run by itself, and survived both failures.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10.1\n")
    for name in ("advisories.sqlite3",):
        (cache / name).write_bytes((offline / name).read_bytes())
    proc = run_cli(
        "-r", str(requirements), "--offline", "--cache-dir", str(cache), "--max-db-age", "1e5",
        "-f", "json", "--min-epss", "0.001",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    (vuln,) = json.loads(proc.stdout)["dependencies"][0]["vulns"]
    assert vuln["epss"]["probability"] == 0.00412 and vuln["kev"] == {"listed": False}
    assert stored == (cache / "triage.sqlite3").read_bytes()


def test_the_html_report_and_job_summary_show_and_sort_by_risk(
    offline: Path, tmp_path: Path
) -> None:
    scores = epss_file(tmp_path / "e.csv", {"CVE-2020-28493": (0.25, 0.9)}, gz=False)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10.1\n")
    summary = tmp_path / "summary.md"
    proc = run_cli(
        "-r", str(requirements), "--offline", "--cache-dir", str(offline), "--max-db-age",
        "1e5", "--kev", str(KEV), "--epss", str(scores), "-f", "html", "--summary",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert "<th>Exploited</th>" in proc.stdout
    assert '<td data-sort="250">EPSS 25.0%</td>' in proc.stdout
    assert "| Exploited | Fix" in summary.read_text()
    assert "| EPSS 25.0% |" in summary.read_text()


def test_an_offline_run_says_how_old_the_exploitation_data_is(
    offline: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10.1\n")
    proc = run_cli(
        "-r", str(requirements), "--offline", "--cache-dir", str(offline), "--max-db-age",
        "30", "--kev", str(KEV),
    )  # fmt: skip
    assert "vulnsweep: WARNING: exploitation data: KEV catalogue 2025.08.25; no EPSS (" in (
        proc.stderr
    )
    assert "days old: run `vulnsweep db sync`)" in proc.stderr
