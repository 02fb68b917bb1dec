"""Every format on one fixed audit of real data, against golden files; CycloneDX and
SARIF also against their schemas. Regenerate goldens with UPDATE_GOLDEN=1."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import pytest

from tests.helpers import DATA
from tests.servers.osv import DATA_ZIP
from vulnsweep.audit import audit
from vulnsweep.cache import advisorydb
from vulnsweep.model import AuditResult, Dependency, Origin, SkippedDependency
from vulnsweep.output import FORMATS, OutputOptions
from vulnsweep.output.writers import writer_for
from vulnsweep.policy import Gate, IgnorePolicy, IgnoreRule
from vulnsweep.services.offline import OfflineService

GOLDEN = DATA / "golden"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    db = tmp_path_factory.mktemp("golden") / advisorydb.DB_NAME
    advisorydb.build(db, advisorydb.records_from_archive(DATA_ZIP), source="test")
    deps = [
        Dependency("aiohttp", "3.8.4", (Origin("requirements.txt", 3), Origin("uv.lock", 41))),
        Dependency("Jinja2", "2.10.1", (Origin("requirements.txt", 4),)),
        Dependency("six", "1.16.0", (Origin("requirements.txt", 5),)),
    ]
    skipped = [
        SkippedDependency(
            "flask",
            "requirement 'flask>=2' is not pinned with == or ===",
            (Origin("requirements.txt", 6),),
        )
    ]
    policy = IgnorePolicy(
        rules=[
            IgnoreRule(
                "CVE-2020-28493",
                "templates are trusted",
                "jinja2",
                dt.date(2030, 1, 1),
                "pyproject.toml",
            )
        ],
        gate=Gate(min_severity="HIGH"),
        today=dt.date(2026, 11, 24),
    )
    return audit(deps, skipped, OfflineService(db), policy).result


def render(result: AuditResult, fmt: str) -> str:
    buffer = io.BytesIO()
    writer_for(fmt, OutputOptions(desc=fmt != "columns", aliases=True)).write(result, buffer)
    text = buffer.getvalue().decode()
    # Values that change on every run or machine.
    text = re.sub(r"urn:uuid:[0-9a-f-]+", "urn:uuid:SERIAL", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", "TIMESTAMP", text)
    return text.replace(Path.cwd().resolve().as_uri(), "file:///SRCROOT")


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden(result: AuditResult, fmt: str) -> None:
    text = render(result, fmt)
    golden = GOLDEN / f"report.{fmt}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_findings_behind_the_goldens(result: AuditResult) -> None:
    aiohttp = next(fs for dep, fs in result.audited if dep.name == "aiohttp")
    assert [
        (
            f.vulnerability.id,
            f.vulnerability.severity,
            f.vulnerability.score,
            f.passing_reason is None,
        )
        for f in aiohttp
    ] == [
        ("PYSEC-2023-120", None, None, True),
        ("PYSEC-2023-246", "HIGH", 7.5, True),
        ("PYSEC-2023-250", "MEDIUM", 5.3, False),
        ("PYSEC-2023-251", "MEDIUM", 5.3, False),
        ("PYSEC-2024-24", "HIGH", 7.5, True),
        ("PYSEC-2024-26", "MEDIUM", 6.5, False),
    ]
    jinja = next(fs for dep, fs in result.audited if dep.name == "Jinja2")
    assert [(f.vulnerability.id, f.ignored_reason) for f in jinja] == [
        ("PYSEC-2021-66", "templates are trusted (until 2030-01-01) [pyproject.toml]")
    ]


def test_sarif_validates_against_the_2_1_0_schema(result: AuditResult) -> None:
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    log = json.loads(render(result, "sarif"))
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    # aiohttp is pinned in two files: one result per pinning location.
    assert len(results) == 2 * 6 + 1
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {
        "requirements.txt",
        "uv.lock",
    }
    suppressed = [r for r in results if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["PYSEC-2021-66"]
    rule = next(r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "PYSEC-2023-246")
    assert rule["properties"]["security-severity"] == "7.5"


@pytest.mark.parametrize("version", ["1.4", "1.5", "1.6"])
def test_cyclonedx_validates_with_the_library(result: AuditResult, version: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    from cyclonedx.validation.xml import XmlValidator

    schema = {"1.4": SchemaVersion.V1_4, "1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}[
        version
    ]
    options = OutputOptions(desc=True, aliases=True, cyclonedx_version=version)
    for fmt, validator in (
        ("cyclonedx-json", JsonStrictValidator(schema)),
        ("cyclonedx-xml", XmlValidator(schema)),
    ):
        buffer = io.BytesIO()
        writer_for(fmt, options).write(result, buffer)
        errors = validator.validate_str(buffer.getvalue().decode())
        assert errors is None, (fmt, version, errors)
    bom = json.loads(render(result, "cyclonedx-json"))
    assert [c["purl"] for c in bom["components"]] == [
        "pkg:pypi/aiohttp@3.8.4",
        "pkg:pypi/jinja2@2.10.1",
        "pkg:pypi/six@1.16.0",
    ]
    assert bom["metadata"]["tools"]["components"][0]["name"] == "vulnsweep"
    ids = [v["id"] for v in bom["vulnerabilities"]]
    assert len(ids) == 7
    ignored = next(v for v in bom["vulnerabilities"] if v["id"] == "PYSEC-2021-66")
    assert ignored["analysis"] == {
        "detail": "ignored: templates are trusted (until 2030-01-01) [pyproject.toml]",
        "response": ["will_not_fix"],
    }
    rated = next(v for v in bom["vulnerabilities"] if v["id"] == "PYSEC-2023-246")
    assert rated["ratings"][0]["score"] == 7.5 and rated["ratings"][0]["severity"] == "high"
    assert rated["affects"] == [
        {"ref": "aiohttp==3.8.4", "versions": [{"status": "affected", "version": "3.8.4"}]}
    ]
