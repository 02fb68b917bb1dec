"""SARIF that GitHub code scanning accepts at fleet size (issue 23, item 7): at most
25,000 results a run (each further run its own category), 20 runs a file, 10 MB
gzipped, most important results first because only 5,000 of a run are shown."""

from __future__ import annotations

import gzip
import io
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.helpers import DATA
from tests.servers.osv import DATA_ZIP
from vulnsweep.model import AuditResult, Dependency, Finding, Origin, ProjectReport, Vulnerability
from vulnsweep.output import OutputOptions
from vulnsweep.output import sarif as sarif_module
from vulnsweep.output.sarif import SarifWriter

LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", None)


def fleet(projects: int, per_project: int) -> AuditResult:
    """`projects` projects pinning the same `per_project` vulnerable packages: one real
    advisory each (texts as published), every severity in turn."""
    with zipfile.ZipFile(DATA_ZIP) as archive:
        names = sorted(archive.namelist())[:per_project]
        records = [json.loads(archive.read(name)) for name in names]
    audited, reports = [], []
    for number in range(projects):
        file = f"project-{number}/requirements.txt"
        found = []
        for index, record in enumerate(records):
            dep = Dependency(f"package-{index}", "1.0", (Origin(file, index + 1),))
            vuln = Vulnerability(
                record["id"],
                tuple(record.get("aliases") or ()),
                record.get("summary"),
                record.get("details"),
                ("9.9",),
                severity=LEVELS[index % 5],
            )
            finding = Finding(dep, vuln, baseline_state="new" if index % 7 == 0 else "unchanged")
            audited.append((dep, [finding]))
            found.append(finding)
        reports.append(
            ProjectReport(f"project-{number}", ("@team",), (file,), tuple(found), per_project)
        )
    return AuditResult(
        audited=audited,
        projects=reports,
        generated_at="2026-11-29T00:00:00Z",
        baseline_date="2026-11-28",
    )


def write(result: AuditResult) -> tuple[bytes, dict[str, Any]]:
    buffer = io.BytesIO()
    SarifWriter(OutputOptions(desc=True, aliases=True)).write(result, buffer)
    return buffer.getvalue(), json.loads(buffer.getvalue())


def _rank(result: dict[str, Any], rules: dict[str, Any]) -> tuple[int, float]:
    state = {"new": 0, "unchanged": 2}[result["baselineState"]]
    severity = rules[result["ruleId"]]["properties"].get("security-severity", "0")
    return state, -float(severity)


def test_a_2000_project_tree_fits_github_and_validates() -> None:
    data, log = write(fleet(2000, 36))
    results = [r for run in log["runs"] for r in run["results"]]
    assert len(results) == 72_000  # nothing left out: within the limits
    assert [len(run["results"]) for run in log["runs"]] == [25_000, 25_000, 22_000]
    assert len(log["runs"]) <= 20
    assert len(gzip.compress(data)) <= 10 * 1024 * 1024
    assert [run["automationDetails"]["id"] for run in log["runs"]] == [
        "vulnsweep/part-1-of-3/",
        "vulnsweep/part-2-of-3/",
        "vulnsweep/part-3-of-3/",
    ]
    for run in log["runs"]:  # each run's ruleIndex points into its own rules
        rules = run["tool"]["driver"]["rules"]
        assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])
    rules = {rule["id"]: rule for run in log["runs"] for rule in run["tool"]["driver"]["rules"]}
    ranks = [_rank(r, rules) for r in results]
    assert ranks == sorted(ranks)  # the most important first: new, then most severe
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(log, schema)


def test_past_10_mb_gzipped_the_least_important_go_and_say_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    full = fleet(60, 36)
    _, whole = write(full)
    monkeypatch.setattr(sarif_module, "MAX_GZIPPED", 60_000)
    caplog.set_level(logging.WARNING)
    data, log = write(full)
    assert len(gzip.compress(data)) <= 60_000
    kept = [r for run in log["runs"] for r in run["results"]]
    left_out = log["runs"][0]["properties"]["resultsLeftOut"]
    assert left_out == len(whole["runs"][0]["results"]) - len(kept) > 0
    assert "projects" not in log["runs"][0]["properties"]  # summaries went first
    # What is kept is the head of the full ranking.
    assert kept == whole["runs"][0]["results"][: len(kept)]
    assert f"the {left_out} least important results are left out" in caplog.text


def test_writing_it_from_the_cli_keeps_every_other_format_whole(tmp_path: Path) -> None:
    """The limits are SARIF's alone: JSON from the same run keeps every finding."""
    from tests.helpers import run_cli

    pins = tmp_path / "requirements.txt"
    pins.write_text("jinja2==2.10.1\n")
    cache = tmp_path / "cache"
    assert run_cli("db", "import", str(DATA_ZIP), "--cache-dir", str(cache)).returncode == 0
    proc = run_cli(
        "-r", str(pins), "--offline", "--cache-dir", str(cache), "--max-db-age", "1e5",
        "-f", "json", "--report", f"sarif:{tmp_path / 'out.sarif'}",
    )  # fmt: skip
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    sarif = json.loads((tmp_path / "out.sarif").read_text())
    assert len(sarif["runs"][0]["results"]) == len(report["dependencies"][0]["vulns"])


def test_the_html_report_stays_usable_at_fleet_size(caplog: pytest.LogCaptureFixture) -> None:
    from vulnsweep.output.html import HtmlWriter

    caplog.set_level(logging.WARNING)
    buffer = io.BytesIO()
    HtmlWriter(OutputOptions(desc=True, aliases=True)).write(fleet(2000, 36), buffer)
    page = buffer.getvalue().decode()
    assert len(page) < 1_000_000  # a 55 MB page before
    table = page.split('<table id="findings">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr data-sev=") == 36  # one row per package, version, advisory
    assert "project-0, project-1, project-2 (+1997 more)" in table
    note = (
        "72,000 findings: one row per package, version and advisory (36 rows), with the "
        "projects that have it. The JSON report (-f json) has every finding."
    )
    assert note in page and f"HTML report: {note}" in caplog.text
