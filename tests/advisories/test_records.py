from __future__ import annotations

from typing import Any

from vulnsweep.advisories.records import fix_versions, merge, sort_versions


def record(
    rid: str, aliases: list[str], fixes: dict[str, list[str]], **extra: Any
) -> dict[str, Any]:
    return {
        "id": rid,
        "aliases": aliases,
        "modified": "2024-01-01T00:00:00Z",
        "details": f"details of {rid}",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, *({"fixed": f} for f in fs)],
                    },
                    {"type": "GIT", "repo": "https://x", "events": [{"fixed": "abc"}]},
                ],
            }
            for name, fs in fixes.items()
        ],
        **extra,
    }


def test_fix_versions_only_for_the_package_and_ecosystem_ranges() -> None:
    rec = record("PYSEC-1", [], {"Foo_Bar": ["1.2"], "other": ["9.9"]})
    assert fix_versions(rec, "foo-bar") == ["1.2"]
    assert fix_versions(rec, "other") == ["9.9"]
    assert fix_versions(rec, "absent") == []


def test_sort_versions_is_pep440_order() -> None:
    assert sort_versions(["1.10", "1.9", "1.9.post1", "2.0rc1", "not-a-version", "1.9"]) == (
        "1.9",
        "1.9.post1",
        "1.10",
        "2.0rc1",
        "not-a-version",
    )


def test_aliases_merge_into_one_finding_preferring_pysec() -> None:
    ghsa = record("GHSA-aaaa-bbbb-cccc", ["CVE-2020-1"], {"foo": ["1.5"]})
    pysec = record("PYSEC-2020-1", ["CVE-2020-1", "GHSA-aaaa-bbbb-cccc"], {"foo": ["1.4"]})
    other = record("PYSEC-2021-9", [], {"foo": ["2.0"]})
    vulns = sorted(merge([ghsa, pysec, other], "foo"), key=lambda v: v.id)
    assert [(v.id, v.aliases, v.fix_versions) for v in vulns] == [
        ("PYSEC-2020-1", ("CVE-2020-1", "GHSA-aaaa-bbbb-cccc"), ("1.4", "1.5")),
        ("PYSEC-2021-9", (), ("2.0",)),
    ]
    assert vulns[0].description == "details of PYSEC-2020-1"


def test_a_shared_alias_links_records_into_one_group() -> None:
    # Real case (PYSEC-2021-335 / PYSEC-2021-370): two records sharing one GHSA id are
    # one group, as osv-scanner groups them, whatever order they arrive in.
    a = record("PYSEC-2021-335", ["CVE-2021-32807", "GHSA-qcx9-j53g-ccgf"], {"foo": ["5.2"]})
    b = record("PYSEC-2021-370", ["CVE-2021-32811", "GHSA-qcx9-j53g-ccgf"], {"foo": ["5.3"]})
    for order in ([a, b], [b, a]):
        (vuln,) = merge(order, "foo")
        assert (vuln.id, vuln.aliases, vuln.fix_versions) == (
            "PYSEC-2021-335",
            ("CVE-2021-32807", "CVE-2021-32811", "GHSA-qcx9-j53g-ccgf", "PYSEC-2021-370"),
            ("5.2", "5.3"),
        )


def test_real_shared_alias_groups_from_the_export() -> None:
    """The three groups the issue found, straight from the shared PyPA export."""
    from tests.servers.osv import OsvDatabase

    database = OsvDatabase.from_zip()
    cases = {
        ("accesscontrol", "4.1"): ("PYSEC-2021-335", "PYSEC-2021-370"),
        ("distributed", "1.10.0"): ("PYSEC-2021-871", "PYSEC-2021-872"),
        ("parlai", "0.1.20200610"): ("PYSEC-2021-330", "PYSEC-2021-334"),
    }
    for (package, _), (first, second) in cases.items():
        records = [database.records[first], database.records[second]]
        (vuln,) = merge(records, package)
        assert vuln.id == first and second in vuln.aliases


def test_alias_links_are_transitive() -> None:
    a = record("GHSA-aaaa-aaaa-aaaa", ["OSV-1"], {"foo": ["1"]})
    b = record("OSV-1", ["CVE-1"], {"foo": ["2"]})
    c = record("CVE-1", [], {"foo": ["3"]})
    (vuln,) = merge([c, b, a], "foo")
    assert (vuln.id, vuln.aliases, vuln.fix_versions) == (
        "GHSA-aaaa-aaaa-aaaa",
        ("CVE-1", "OSV-1"),
        ("1", "2", "3"),
    )


def test_withdrawn_records_are_dropped() -> None:
    live = record("PYSEC-1", [], {"foo": ["1"]})
    gone = record("PYSEC-2", [], {"foo": ["1"]}, withdrawn="2024-02-02T00:00:00Z")
    assert [v.id for v in merge([live, gone], "foo")] == ["PYSEC-1"]


def test_description_prefers_summary_on_one_line() -> None:
    rec = record("PYSEC-1", [], {"foo": []}, summary="line one\nline two")
    (vuln,) = merge([rec], "foo")
    assert vuln.description == "line one line two"
