"""VEX in and out (issue 25, items 4-5): OpenVEX 0.2 and CycloneDX VEX statements
suppress or annotate exactly the stated pairs, and -f openvex validates against the
OpenVEX schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.helpers import DATA, run_cli
from tests.servers.osv import DATA_ZIP

SCHEMA = DATA / "vex" / "openvex_json_schema.json"


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    cache = tmp_path_factory.mktemp("vex-cache")
    assert run_cli("db", "import", str(DATA_ZIP), "--cache-dir", str(cache)).returncode == 0
    return ("--offline", "--cache-dir", str(cache), "--max-db-age", "1e5")


def openvex(path: Path, statements: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.invalid/vex/1",
                "author": "Security Team <security@example.invalid>",
                "timestamp": "2026-11-30T10:00:00Z",
                "version": 1,
                "statements": statements,
            }
        )
    )
    return path


def pins(tmp_path: Path) -> Path:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10.1\nrequests==2.19.1\n")
    return requirements


def test_openvex_not_affected_suppresses_exactly_the_stated_pairs(
    offline: tuple[str, ...], tmp_path: Path
) -> None:
    vex = openvex(
        tmp_path / "team.openvex.json",
        [
            {  # by alias (the CVE), for this version of jinja2 only
                "vulnerability": {"name": "CVE-2020-28493"},
                "products": [{"@id": "pkg:pypi/jinja2@2.10.1"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
            },
            {  # versionless purl, annotation only
                "vulnerability": {"name": "PYSEC-2023-74"},
                "products": [{"@id": "pkg:pypi/requests"}],
                "status": "under_investigation",
            },
            {  # another version: matches nothing
                "vulnerability": {"name": "PYSEC-2018-28"},
                "products": [{"@id": "pkg:pypi/requests@2.31.0"}],
                "status": "not_affected",
                "justification": "component_not_present",
            },
        ],
    )
    proc = run_cli("-r", str(pins(tmp_path)), *offline, "--vex", str(vex), "-f", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    reported = {(d["name"], v["id"]) for d in report["dependencies"] for v in d.get("vulns", [])}
    assert reported == {("requests", "PYSEC-2018-28"), ("requests", "PYSEC-2023-74")}
    (ignored,) = report["ignored"]
    assert (ignored["name"], ignored["id"]) == ("jinja2", "PYSEC-2021-66")
    assert ignored["reason"] == (
        "VEX not_affected: vulnerable_code_not_in_execute_path (Security Team "
        f"<security@example.invalid>, 2026-11-30T10:00:00Z; {vex}: statement 1)"
    )
    annotated = {v["id"]: v.get("vex") for d in report["dependencies"] for v in d.get("vulns", [])}
    assert annotated["PYSEC-2023-74"]["status"] == "under_investigation"
    assert annotated["PYSEC-2018-28"] is None
    assert f"VEX {vex}: statement 3 (PYSEC-2018-28) matched no finding" in proc.stderr
    sarif = json.loads(
        run_cli("-r", str(pins(tmp_path)), *offline, "--vex", str(vex), "-f", "sarif").stdout
    )
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["PYSEC-2021-66"]


def test_cyclonedx_vex_is_read_too(offline: tuple[str, ...], tmp_path: Path) -> None:
    vex = tmp_path / "vex.cdx.json"
    vex.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "version": 1,
                "components": [
                    {"type": "library", "bom-ref": "c1", "name": "jinja2", "version": "2.10.1",
                     "purl": "pkg:pypi/jinja2@2.10.1"}
                ],
                "vulnerabilities": [
                    {"id": "PYSEC-2021-66", "analysis": {"state": "not_affected",
                     "justification": "code_not_reachable"}, "affects": [{"ref": "c1"}]}
                ],
            }
        )
    )  # fmt: skip
    proc = run_cli("-r", str(pins(tmp_path)), *offline, "--vex", str(vex), "-f", "json")
    report = json.loads(proc.stdout)
    assert [i["id"] for i in report["ignored"]] == ["PYSEC-2021-66"]


def test_a_file_that_is_not_vex_is_an_error(offline: tuple[str, ...], tmp_path: Path) -> None:
    bogus = tmp_path / "notes.json"
    bogus.write_text('{"hello": "world"}')
    proc = run_cli("-r", str(pins(tmp_path)), *offline, "--vex", str(bogus))
    assert (proc.returncode, proc.stderr) == (
        2,
        f"vulnsweep: error: {bogus}: not a VEX document (neither OpenVEX nor CycloneDX)\n",
    )


def test_openvex_output_validates_and_carries_every_finding(
    offline: tuple[str, ...], tmp_path: Path
) -> None:
    vex = openvex(
        tmp_path / "in.json",
        [
            {
                "vulnerability": {"name": "PYSEC-2021-66"},
                "products": [{"@id": "pkg:pypi/jinja2@2.10.1"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_present",
            }
        ],
    )
    proc = run_cli(
        "-r", str(pins(tmp_path)), *offline, "--vex", str(vex), "--ignore-vuln",
        "PYSEC-2018-28", "-f", "openvex",
    )  # fmt: skip
    document = json.loads(proc.stdout)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    by_id = {s["vulnerability"]["name"]: s for s in document["statements"]}
    assert set(by_id) == {"PYSEC-2021-66", "PYSEC-2018-28", "PYSEC-2023-74"}
    assert by_id["PYSEC-2021-66"]["status"] == "not_affected"
    assert by_id["PYSEC-2021-66"]["justification"] == "vulnerable_code_not_present"
    assert by_id["PYSEC-2018-28"]["status"] == "not_affected"
    assert by_id["PYSEC-2018-28"]["impact_statement"] == "--ignore-vuln PYSEC-2018-28"
    assert by_id["PYSEC-2023-74"]["status"] == "affected"
    assert by_id["PYSEC-2023-74"]["action_statement"] == "Upgrade requests to one of: 2.31.0"
    assert by_id["PYSEC-2023-74"]["products"] == [{"@id": "pkg:pypi/requests@2.19.1"}]
