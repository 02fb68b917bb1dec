from __future__ import annotations

from vulnsweep.model import Dependency, Vulnerability
from vulnsweep.policy import IgnorePolicy

DEP = Dependency("flask", "1.0")
VULN = Vulnerability("PYSEC-2023-62", ("CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"))
OTHER = Vulnerability("PYSEC-2019-179", ("CVE-2019-1010083",))


def test_ignore_matches_id_or_alias_and_reports_unused() -> None:
    policy = IgnorePolicy(["GHSA-m2qf-hxjv-5gpq", "CVE-1999-0001"])
    findings = policy.findings(DEP, [VULN, OTHER])
    assert [(f.vulnerability.id, f.ignored_reason) for f in findings] == [
        ("PYSEC-2023-62", "--ignore-vuln GHSA-m2qf-hxjv-5gpq"),
        ("PYSEC-2019-179", None),
    ]
    assert policy.unused == ["CVE-1999-0001"]
