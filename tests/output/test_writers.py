from __future__ import annotations

import io
import re

import orjson

from vulnsweep.model import (
    AuditResult,
    Dependency,
    Finding,
    Origin,
    SkippedDependency,
    Unaudited,
    Vulnerability,
)
from vulnsweep.output import OutputOptions, open_output, resolve_toggle
from vulnsweep.output.writers import writer_for

FLASK = Dependency("Flask", "1.0", (Origin("req.txt", 2),))
JINJA = Dependency("jinja2", "2.10.1", (Origin("req.txt", 3), Origin("req.txt", 9)))
SIX = Dependency("six", "1.16.0", (Origin("req.txt", 4),))
V1 = Vulnerability(
    "PYSEC-2023-62",
    ("CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"),
    summary=None,
    details="Flask caching\nissue",
    fix_versions=("2.2.5", "2.3.2"),
)
V2 = Vulnerability("PYSEC-2021-66", ("CVE-2020-28493",), details="ReDoS", fix_versions=("2.11.3",))
RESULT = AuditResult(
    audited=[
        (FLASK, [Finding(FLASK, V1)]),
        (JINJA, [Finding(JINJA, V2, "--ignore-vuln CVE-2020-28493")]),
        (SIX, []),
    ],
    skipped=[
        SkippedDependency(
            "BarProject", "requirement 'BarProject>=1.2' is not pinned", (Origin("req.txt", 5),)
        )
    ],
    unaudited=[
        Unaudited(Dependency("idna", "2.7", (Origin("req.txt", 6),)), "OSV query failed: HTTP 503")
    ],
)


def render(fmt: str, desc: bool = False, aliases: bool = False) -> str:
    buffer = io.BytesIO()
    writer_for(fmt, OutputOptions(desc=desc, aliases=aliases)).write(RESULT, buffer)
    return buffer.getvalue().decode()


def test_columns_like_pip_audit() -> None:
    assert render("columns") == (
        "Name  Version ID            Fix Versions\n"
        "----- ------- ------------- ------------\n"
        "flask 1.0     PYSEC-2023-62 2.2.5,2.3.2\n"
        "\n"
        "Name   Version Ignored ID    Reason\n"
        "------ ------- ------------- ----------------------------\n"
        "jinja2 2.10.1  PYSEC-2021-66 --ignore-vuln CVE-2020-28493\n"
        "\n"
        "Name       Skip Reason\n"
        "---------- ---------------------------------------------\n"
        "barproject requirement 'BarProject>=1.2' is not pinned\n"
        "idna       not audited (2.7): OSV query failed: HTTP 503\n"
    )


def test_columns_with_aliases_and_description() -> None:
    lines = render("columns", desc=True, aliases=True).splitlines()
    assert lines[0].split() == [
        "Name",
        "Version",
        "ID",
        "Fix",
        "Versions",
        "Aliases",
        "Description",
    ]
    assert lines[2] == (
        "flask 1.0     PYSEC-2023-62 2.2.5,2.3.2  "
        "CVE-2023-30861, GHSA-m2qf-hxjv-5gpq Flask caching issue"
    )


def test_json_is_pip_audit_schema_plus_additions() -> None:
    data = orjson.loads(render("json", desc=True, aliases=True))
    assert data == {
        "dependencies": [
            {
                "name": "flask",
                "version": "1.0",
                "origins": ["req.txt:2"],
                "vulns": [
                    {
                        "id": "PYSEC-2023-62",
                        "fix_versions": ["2.2.5", "2.3.2"],
                        "aliases": ["CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"],
                        "description": "Flask caching issue",
                    }
                ],
            },
            {
                "name": "jinja2",
                "version": "2.10.1",
                "vulns": [],
                "origins": ["req.txt:3", "req.txt:9"],
            },
            {"name": "six", "version": "1.16.0", "vulns": [], "origins": ["req.txt:4"]},
            {
                "name": "barproject",
                "skip_reason": "requirement 'BarProject>=1.2' is not pinned",
                "origins": ["req.txt:5"],
            },
            {
                "name": "idna",
                "version": "2.7",
                "skip_reason": "not audited: OSV query failed: HTTP 503",
                "origins": ["req.txt:6"],
            },
        ],
        "fixes": [],
        "ignored": [
            {
                "name": "jinja2",
                "version": "2.10.1",
                "id": "PYSEC-2021-66",
                "aliases": ["CVE-2020-28493"],
                "reason": "--ignore-vuln CVE-2020-28493",
            }
        ],
    }


def test_json_without_desc_and_aliases_omits_the_keys() -> None:
    data = orjson.loads(render("json"))
    assert data["dependencies"][0]["vulns"] == [
        {"id": "PYSEC-2023-62", "fix_versions": ["2.2.5", "2.3.2"]}
    ]


def test_auto_toggles() -> None:
    assert resolve_toggle("auto", "json") is True
    assert resolve_toggle("auto", "columns") is False
    assert resolve_toggle("on", "columns") is True
    assert resolve_toggle("off", "json") is False


def test_output_file_is_replaced_atomically(tmp_path: object) -> None:
    from pathlib import Path

    target = Path(str(tmp_path)) / "report.json"
    target.write_text("previous")
    try:
        with open_output(str(target)) as stream:
            stream.write(b"partial")
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    assert target.read_text() == "previous"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]
    with open_output(str(target)) as stream:
        stream.write(b"new")
    assert target.read_text() == "new"


def test_columns_hyperlinks_keep_the_layout() -> None:
    buffer = io.BytesIO()
    writer_for("columns", OutputOptions(desc=False, aliases=False, hyperlinks=True)).write(
        RESULT, buffer
    )
    text = buffer.getvalue().decode()
    assert "\x1b]8;;https://pypi.org/project/flask\x1b\\flask\x1b]8;;\x1b\\" in text
    assert "\x1b]8;;https://osv.dev/vulnerability/PYSEC-2023-62\x1b\\PYSEC-2023-62" in text
    plain = re.sub(r"\x1b]8;;[^\x1b]*\x1b\\", "", text)
    assert plain == render("columns")


def test_columns_name_the_origin_when_several_files_are_audited() -> None:
    other = Dependency(
        "Flask", "1.0", (Origin("b/req.txt", 7), Origin("a/req.txt", 2), Origin("c/req.txt", 1))
    )
    result = AuditResult(audited=[(other, [Finding(other, V1)])])
    buffer = io.BytesIO()
    writer_for("columns", OutputOptions(desc=False, aliases=False)).write(result, buffer)
    assert buffer.getvalue().decode().splitlines() == [
        "Name  Version ID            Fix Versions Origin",
        "----- ------- ------------- ------------ ---------------------",
        "flask 1.0     PYSEC-2023-62 2.2.5,2.3.2  b/req.txt:7 (+2 more)",
    ]
