"""Ignore policy from configuration: ids or aliases, per package, with expiry; stale
entries reported; option defaults from the file, the command line winning."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from tests.helpers import run_cli
from tests.servers.osv import OsvServer
from vulnsweep.errors import InputError
from vulnsweep.model import Dependency, Vulnerability
from vulnsweep.policy import Gate, IgnorePolicy
from vulnsweep.policy.config import find_config, load_config

CONFIG = """
[tool.vulnsweep]
format = "json"
ignore-until-fixed = ["GHSA-no-fix-yet"]
ignore-packages = ["Internal_Tool"]

[[tool.vulnsweep.ignore]]
id = "CVE-2020-28493"
package = "jinja2"
reason = "template input is trusted"
until = 2026-12-31

[[tool.vulnsweep.ignore]]
id = "PYSEC-2023-62"
reason = "old exception"
until = 2026-03-01

[[tool.vulnsweep.ignore]]
id = "PYSEC-1999-1"
reason = "nothing matches this"
"""

JINJA = Dependency("jinja2", "2.10.1")
REDOS = Vulnerability("PYSEC-2021-66", ("CVE-2020-28493",), fix_versions=("2.11.3",))


def policy_at(tmp_path: Path, today: dt.date) -> IgnorePolicy:
    path = tmp_path / "pyproject.toml"
    path.write_text(CONFIG)
    config = load_config(find_config(tmp_path / "sub"))
    return IgnorePolicy(
        rules=config.rules, until_fixed=config.until_fixed, packages=config.packages, today=today
    )


@pytest.mark.parametrize(
    ("today", "ignored"),
    [
        (dt.date(2026, 12, 30), True),
        (dt.date(2026, 12, 31), True),
        (dt.date(2027, 1, 1), False),
    ],
)
def test_until_applies_through_the_day(tmp_path: Path, today: dt.date, ignored: bool) -> None:
    (tmp_path / "sub").mkdir()
    policy = policy_at(tmp_path, today)
    (finding,) = policy.findings(JINJA, [REDOS])
    assert finding.ignored is ignored
    if ignored:
        assert finding.ignored_reason == (
            "template input is trusted (until 2026-12-31) [pyproject.toml]"
        )
    else:
        assert (
            "ignore for CVE-2020-28493 expired on 2026-12-31 (pyproject.toml): it is "
            "reported again" in policy.messages()
        )


def test_package_scope_until_fixed_packages_and_stale(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    policy = policy_at(tmp_path, dt.date(2026, 11, 24))
    other = Dependency("jinja3", "1.0")
    assert not policy.findings(other, [REDOS])[0].ignored  # rule is for jinja2 only
    no_fix = Vulnerability("GHSA-no-fix-yet")
    fixed = Vulnerability("GHSA-no-fix-yet", fix_versions=("2.0",))
    assert policy.findings(other, [no_fix])[0].ignored_reason == (
        "ignore-until-fixed GHSA-no-fix-yet: no fix exists yet"
    )
    assert not policy.findings(other, [fixed])[0].ignored
    tool = Dependency("internal-tool", "1.0")
    assert policy.findings(tool, [REDOS])[0].ignored_reason == (
        "package internal-tool is in ignore-packages"
    )
    messages = policy.messages()
    assert (
        "ignore for PYSEC-2023-62 expired on 2026-03-01 (pyproject.toml): it is reported "
        "again" in messages
    )
    assert "ignore entry PYSEC-1999-1 matched no finding (stale?)" in messages
    assert "ignore entry CVE-2020-28493 matched no finding (stale?)" in messages


def test_gate_min_severity_unknown_and_only_fixable() -> None:
    high = Vulnerability("A", severity="HIGH", fix_versions=("1",))
    low = Vulnerability("B", severity="LOW", fix_versions=("1",))
    unknown = Vulnerability("C")
    gate = Gate(min_severity="MEDIUM")
    assert gate.passing_reason(high) is None
    assert gate.passing_reason(low) == "severity LOW below --min-severity MEDIUM"
    assert gate.passing_reason(unknown) is None  # unknown counts as failing by default
    assert Gate(min_severity="MEDIUM", ignore_unknown_severity=True).passing_reason(unknown)
    assert Gate(only_fixable=True).passing_reason(unknown) == ("no fix available (--only-fixable)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[tool.vulnsweep.ignore]]\nid = "X"\n', "[[ignore]] entry 1 (X) needs a `reason`"),
        (
            '[[tool.vulnsweep.ignore]]\nid = "X"\nreason = "r"\nuntil = "soon"\n',
            "[[ignore]] entry 1 (X): `until` must be a date like 2026-12-31",
        ),
        ('[tool.vulnsweep]\nignore-packages = "x"\n', "`ignore-packages` must be an array"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_config(path)
    assert info.value.message == message


def test_cli_reads_config_and_flags_win(osv_server: OsvServer, tmp_path: Path) -> None:
    (tmp_path / "vulnsweep.toml").write_text(
        'format = "json"\nmin-severity = "critical"\n'
        '[[ignore]]\nid = "GHSA-g3rq-g295-4j3m"\nreason = "trusted templates"\n'
    )
    (tmp_path / "requirements.txt").write_text("jinja2==2.10.1\nflask==1.0\n")
    common = (
        "-r",
        "requirements.txt",
        "--osv-url",
        osv_server.url,
        "--cache-dir",
        str(tmp_path / "c"),
    )
    proc = run_cli(*common, cwd=tmp_path)
    # flask's advisory has no severity: unknown counts as failing.
    assert proc.returncode == 1, proc.stderr
    report = orjson.loads(proc.stdout)
    assert report["ignored"] == [
        {
            "name": "jinja2",
            "version": "2.10.1",
            "id": "PYSEC-2021-66",
            "aliases": ["CVE-2020-28493", "GHSA-g3rq-g295-4j3m", "SNYK-PYTHON-JINJA2-1012994"],
            "reason": "trusted templates [vulnsweep.toml]",
        }
    ]
    assert proc.stderr == "Found 1 known vulnerability (1 ignored) in 1 package\n"
    passing = run_cli(*common, "--ignore-unknown-severity", "-f", "columns", cwd=tmp_path)
    assert passing.returncode == 0
    assert passing.stdout.startswith("Name  Version ID            Fix Versions")
    assert passing.stderr == (
        "Found 1 known vulnerability (1 ignored, 1 not failing the run) in 1 package\n"
    )
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "vulnsweep.toml").write_text('format = "yaml"\n')
    proc = run_cli("-r", str(tmp_path / "requirements.txt"), "--dry-run", cwd=bad)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"vulnsweep: error: {bad / 'vulnsweep.toml'}: format = 'yaml': "
        "choose from columns, json, markdown, ndjson, sarif, cyclonedx-json, "
        "cyclonedx-xml, html, openvex\n"
    )
