"""The README says exactly what the tool does (issue 28, item 2): every option of
`vulnsweep --help` is in the options table and every row of the table is an option;
every environment variable the README names is one vulnsweep reads, and every one it
reads is named; every key the JSON report can carry is documented."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson

from vulnsweep.model import (
    AuditResult,
    Dependency,
    Epss,
    Finding,
    FixResult,
    KnownExploited,
    Origin,
    PastFinding,
    ProjectReport,
    ProjectStatus,
    SkippedDependency,
    Unaudited,
    VexStatement,
    Vulnerability,
)
from vulnsweep.options import build_parser
from vulnsweep.output import OutputOptions
from vulnsweep.output.json import JsonWriter

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
SRC = REPO / "src" / "vulnsweep"


def _section(title: str) -> str:
    start = README.index(title)
    following = README.find("\n## ", start + len(title))
    return README[start : following if following > 0 else len(README)]


def table_options() -> set[str]:
    """Every --flag (and -x) named in the first cell of the usage options table."""
    usage = _section("## Usage")
    table = usage[usage.index("| flag | meaning |") :]
    options: set[str] = set()
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1]
        options.update(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", first))
    return options


def parser_options() -> set[str]:
    found: set[str] = set()
    for action in build_parser()._actions:
        found.update(action.option_strings)
    return found - {"-h", "--help"}


def test_every_option_is_documented_and_every_documented_option_exists() -> None:
    documented, real = table_options(), parser_options()
    assert sorted(real - documented) == []  # in --help, missing from the README table
    assert sorted(documented - real) == []  # in the README table, not an option


def test_the_check_fails_when_an_option_is_added_without_docs() -> None:
    parser = build_parser()
    parser.add_argument("--brand-new-flag", action="store_true")
    added = {s for a in parser._actions for s in a.option_strings} - {"-h", "--help"}
    assert added - table_options() == {"--brand-new-flag"}


def _environment_in_source() -> set[str]:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        names.update(re.findall(r"\"((?:VULNSWEEP|PIP_AUDIT|PIP)_[A-Z_]+)\"", text))
    return names


def test_documented_environment_variables_exist_and_all_are_documented() -> None:
    in_source = _environment_in_source() - {"VULNSWEEP_ACTION_COMMAND"}  # tests only
    in_readme = set(re.findall(r"\b((?:VULNSWEEP|PIP_AUDIT|PIP)_[A-Z_]+)\b", README))
    assert sorted(in_source - in_readme) == []
    assert sorted(in_readme - in_source - {"PIP_AUDIT_"}) == []


def _keys(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            _keys(item, found)
    elif isinstance(value, list):
        for item in value:
            _keys(item, found)
    return found


def rich_result() -> AuditResult:
    """A result with every part the JSON report can show."""
    resolved = Dependency("Flask", "2.0.01", (Origin("r.txt", 1),), (("app", "flask"),))
    vuln = Vulnerability(
        "PYSEC-1", ("CVE-1",), "summary", "details", ("2.0.2",), severity="HIGH", score=7.5,
        kev=KnownExploited("CVE-1", "2025-01-01", "2025-02-01", "Known"), kev_checked=True,
        epss=Epss("CVE-1", 0.5, 0.99, "2025-09-03"), malicious=True,
    )  # fmt: skip
    findings = [
        Finding(resolved, vuln, passing_reason="below --min-severity", baseline_state="new",
                first_seen="2026-12-01"),
        Finding(resolved, Vulnerability("PYSEC-2"), ignored_reason="not reachable",
                vex=VexStatement(frozenset({"PYSEC-2"}), (("flask", None),), "not_affected",
                                 "component_not_present", None, "team", "2026-12-01", "v.json")),
    ]  # fmt: skip
    failed = Dependency("six", "1.0", (Origin("r.txt", 2),))
    return AuditResult(
        audited=[(resolved, findings)],
        skipped=[SkippedDependency("x", "unpinned", (Origin("r.txt", 3),), version="1")],
        unaudited=[Unaudited(failed, "OSV query failed")],
        statuses={resolved.key: ProjectStatus("archived", "moved", True, "broken")},
        fixes=[FixResult("flask", "2.0.1", "2.0.2"), FixResult("six", "1.0", None, "no fix")],
        projects=[ProjectReport("app", ("@team",), ("r.txt",), tuple(findings), 2, 1)],
        absent=[PastFinding("idna", "2.7", "PYSEC-3", ("CVE-3",), "2026-11-01")],
        baseline_date="2026-12-01",
        generated_at="2026-12-06T00:00:00Z",
        owners={"r.txt": ("@team",)},
        exploitation="CISA KEV 2025.08.25, EPSS 2025-09-03",
    )


def test_every_json_field_is_documented() -> None:
    buffer = io.BytesIO()
    JsonWriter(OutputOptions(desc=True, aliases=True)).write(rich_result(), buffer)
    keys = _keys(orjson.loads(buffer.getvalue()), set())
    fields = _section("### JSON fields")
    documented = set(re.findall(r"`([a-z_]+)`", fields))
    assert sorted(keys - documented) == []
    assert {"severity", "cvss_score"} <= keys  # the two the issue found undocumented


def test_make_run_falls_back_to_the_vendored_snapshot_with_a_banner(tmp_path: Path) -> None:
    """What a new user sees without network: one line, a banner, real findings, exit 0."""
    import subprocess
    import sys

    from tests.helpers import cli_env

    vulnsweep = Path(sys.executable).parent / "vulnsweep"
    env = cli_env(
        {"VULNSWEEP_DEMO_PROBE": "unreachable.invalid", "VULNSWEEP_DEMO_CACHE": str(tmp_path)}
    )
    proc = subprocess.run(
        ["bash", str(REPO / "examples" / "demo.sh"), str(vulnsweep)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "make run: api.osv.dev cannot be reached from here; auditing against the vendored "
        "advisory snapshot instead"
    )
    assert " OFFLINE DEMONSTRATION: advisories as of 2024-10-10 (the PyPA advisory database" in (
        proc.stdout
    )
    assert "jinja2       2.10.1   PYSEC-2021-66" in proc.stdout
    assert lines[-1] == (
        "make run: audit completed; the example pins known-vulnerable releases (exit 1)"
    )
    assert proc.stderr == "Found 22 known vulnerabilities in 9 packages\n"
