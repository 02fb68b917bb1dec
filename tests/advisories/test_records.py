from __future__ import annotations

from typing import Any

import pytest

from vulnsweep.advisories.records import fix_versions, merge, read_advisory, sort_versions


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


# -- the lenient reader: every damage the issue names, each read as far as it can be --

DAMAGES: list[tuple[str, Any]] = [
    ("aliases", ["GHSA-jf66-3q76-h5p5,"]),  # the real PYSEC-2022-184
    ("aliases", [1234]),
    ("aliases", "CVE-2020-1"),
    ("aliases", ["CVE-2020-1 GHSA-aaaa-bbbb-cccc"]),
    ("summary", 42),
    ("details", {"text": "x"}),
    ("severity", {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}),
    ("severity", ["CVSS:3.1/AV:N"]),
    ("severity", [{"type": "CVSS_V3", "score": "garbage"}]),
    ("modified", "yesterday"),
    ("modified", 17),
    ("references", "https://x"),
    ("credits", 7),
    ("related", {"a": 1}),
    ("published", []),
    ("schema_version", 1.6),
    ("database_specific", "HIGH"),
    ("withdrawn", True),
]


@pytest.mark.parametrize(("key", "value"), DAMAGES)
def test_a_damaged_field_never_loses_the_advisory(key: str, value: Any) -> None:
    rec = record("PYSEC-2020-1", ["CVE-2020-1"], {"foo": ["1.4"]})
    rec[key] = value
    vulns = merge([rec], "foo")
    assert [(v.id, v.fix_versions) for v in vulns] == [("PYSEC-2020-1", ("1.4",))]
    assert read_advisory(rec).unreadable == {}  # type: ignore[union-attr]


def test_salvaged_aliases_still_group_and_ignore_together() -> None:
    pysec = record("PYSEC-2022-184", ["GHSA-jf66-3q76-h5p5,"], {"keylime": ["6.3.2"]})
    ghsa = record("GHSA-jf66-3q76-h5p5", [], {"keylime": ["6.3.2"]})
    vulns = merge([pysec, ghsa], "keylime")
    assert [(v.id, v.aliases) for v in vulns] == [("PYSEC-2022-184", ("GHSA-jf66-3q76-h5p5",))]
    assert read_advisory({"id": "X-1", "aliases": "A-1, B-2 ;C-3"}).aliases == (  # type: ignore[union-attr]
        "A-1",
        "B-2",
        "C-3",
    )


def test_a_garbage_vector_leaves_the_other_severity_sources() -> None:
    rec = record("GHSA-aaaa-bbbb-cccc", [], {"foo": ["1"]})
    rec["severity"] = [{"type": "CVSS_V3", "score": "CVSS:3.1/garbage"}]
    rec["database_specific"] = {"severity": "MODERATE"}
    (vuln,) = merge([rec], "foo")
    assert (vuln.severity, vuln.score) == ("MEDIUM", None)


@pytest.mark.parametrize(
    ("affected", "unreadable"),
    [
        ("jinja2", {None: "`affected` 'jinja2' is not a list"}),
        ([{"package": "jinja2"}], {None: "`affected[0]` names no package ('jinja2')"}),
        (
            [{"package": {"ecosystem": "PyPI", "name": 5}}],
            {None: "`affected[0]` names no package ({'ecosystem': 'PyPI', 'name': 5})"},
        ),
        (
            [{"package": {"ecosystem": "PyPI", "name": "foo"}, "versions": "1.0"}],
            {"foo": "`affected[0]`.versions '1.0' is not a list"},
        ),
        (
            [{"package": {"ecosystem": "PyPI", "name": "foo"}, "versions": ["1.0", 2.0]}],
            {"foo": "`affected[0]`.versions[1] 2.0 is not a string"},
        ),
        (
            [{"package": {"ecosystem": "PyPI", "name": "foo"}, "ranges": [{"type": "X"}]}],
            {"foo": "`affected[0]`.ranges[0] type 'X' is not one this reader can evaluate"},
        ),
        (
            [
                {
                    "package": {"ecosystem": "PyPI", "name": "foo"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": 0}]}],
                }
            ],
            {
                "foo": "`affected[0]`.ranges[0] event {'introduced': 0} is not one the schema "
                "defines"
            },
        ),
        ([{"package": {"ecosystem": "npm", "name": 5}}], {}),  # not ours to read
    ],
)
def test_decisive_fields_that_cannot_be_read_are_named(
    affected: Any, unreadable: dict[str | None, str]
) -> None:
    advisory = read_advisory({"id": "PYSEC-1", "affected": affected})
    assert advisory is not None
    assert advisory.unreadable == unreadable
    # The advisory itself is still reportable where a server decided it applies.
    assert [v.id for v in merge([{"id": "PYSEC-1", "affected": affected}], "foo")] == ["PYSEC-1"]


def test_a_record_without_any_id_is_refused_loudly() -> None:
    assert read_advisory({"summary": "x"}) is None
    assert read_advisory({"id": 5}, expected_id="PYSEC-9").id == "PYSEC-9"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="without an id"):
        merge([{"summary": "x"}], "foo")
