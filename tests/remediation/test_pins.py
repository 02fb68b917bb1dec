"""The --fix planner and rewriter on their own: which version is chosen (and when none
can be), and exactly what each kind of pinning line becomes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from vulnsweep.errors import InputError
from vulnsweep.model import AuditResult, Dependency, Finding, Origin, Vulnerability
from vulnsweep.remediation import pins as fix

Key = tuple[str, str]


def result_of(dep: Dependency, *vulns: Vulnerability, ignored: Sequence[str] = ()) -> AuditResult:
    findings = [Finding(dep, v, "ignored" if v.id in ignored else None) for v in vulns]
    return AuditResult(audited=[(dep, findings)])


class Auditor:
    """Answers for candidate versions from a table; records what it was asked."""

    def __init__(self, table: dict[str, list[Vulnerability] | None]) -> None:
        self.table = table
        self.asked: list[list[str]] = []

    def __call__(self, deps: list[Dependency]) -> dict[Key, list[Vulnerability] | None]:
        self.asked.append([d.version for d in deps])
        return {d.key: self.table.get(d.version, []) for d in deps}


A = Vulnerability("PYSEC-A", fix_versions=("1.2", "2.0"))
B = Vulnerability("PYSEC-B", fix_versions=("1.5",))
C = Vulnerability("PYSEC-C", fix_versions=("1.7",))


def test_smallest_version_that_fixes_every_advisory() -> None:
    auditor = Auditor({})
    (planned,) = fix.plan(result_of(Dependency("Lib", "1.0"), A, B), auditor)
    assert (planned.new_version, planned.skip_reason) == ("1.5", None)
    assert auditor.asked == [["1.5"]]  # the candidate itself was audited


def test_a_candidate_with_advisories_of_its_own_moves_on() -> None:
    auditor = Auditor({"1.5": [C]})
    (planned,) = fix.plan(result_of(Dependency("lib", "1.0"), A, B), auditor)
    assert planned.new_version == "1.7"
    assert auditor.asked == [["1.5"], ["1.7"]]


@pytest.mark.parametrize(
    "dep, vulns, table, reason",
    [
        (Dependency("lib", "2.5"), [A], {}, "PYSEC-A has no fix version above 2.5"),
        (Dependency("lib", "1.0"), [A], {"1.2": None}, "could not audit candidate 1.2"),
        (Dependency("lib", "nightly"), [A], {}, "version 'nightly' is not PEP 440"),
        (
            Dependency("lib", "1.0"),
            [Vulnerability("PYSEC-D", fix_versions=("abcdef0123",))],
            {},
            "PYSEC-D has no fix version above 1.0",
        ),
    ],
)
def test_when_no_version_can_be_chosen(
    dep: Dependency,
    vulns: list[Vulnerability],
    table: dict[str, list[Vulnerability] | None],
    reason: str,
) -> None:
    (planned,) = fix.plan(result_of(dep, *vulns), Auditor(table))
    assert (planned.new_version, planned.skip_reason) == (None, reason)


def test_ignored_findings_need_no_fix() -> None:
    auditor = Auditor({})
    (planned,) = fix.plan(result_of(Dependency("lib", "1.0"), A, B, ignored=["PYSEC-B"]), auditor)
    assert planned.new_version == "1.2"
    assert fix.plan(result_of(Dependency("lib", "1.0"), A, ignored=["PYSEC-A"]), auditor) == []


def planned(name: str, old: str, new: str, path: Path, line: int, **extra: object) -> fix.Fix:
    dep = Dependency(name, old, (Origin(str(path), line),), **extra)  # type: ignore[arg-type]
    return fix.Fix(dep, new_version=new)


def no_hashes(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    raise AssertionError("no line here carries hashes")


def test_only_the_version_changes_on_a_requirement_line(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_bytes(b"# pinned\r\nJinja2[i18n] == 2.10.1 ; python_version >= '3.8'  # web\r\n")
    (rewrite,) = fix.rewrite_files([planned("jinja2", "2.10.1", "2.11.3", req, 2)], no_hashes)
    assert (
        rewrite.after == "# pinned\r\nJinja2[i18n] == 2.11.3 ; python_version >= '3.8'  # web\r\n"
    )
    assert (
        rewrite.diff().splitlines()[-1]
        == "+Jinja2[i18n] == 2.11.3 ; python_version >= '3.8'  # web"
    )


def test_a_pyproject_dependency_string(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = [\n  "Werkzeug==0.15.3",\n  "flask>=2",\n]\n')
    fixes = [planned("werkzeug", "0.15.3", "2.2.3", pyproject, 3)]
    (rewrite,) = fix.rewrite_files(fixes, no_hashes)
    assert '"Werkzeug==2.2.3",' in rewrite.after and '"flask>=2",' in rewrite.after
    assert fixes[0].files == [f"{pyproject}:3"]


def test_hashes_follow_the_new_version(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(
        "urllib3==1.26.4 \\\n    --hash=sha256:aaaa \\\n    --hash=sha256:bbbb\n"
        "idna==3.6 --hash=sha256:cccc  # inline\n"
    )
    asked: list[list[tuple[str, str]]] = []

    def hashes(pairs: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        asked.append(pairs)
        return {("urllib3", "1.26.18"): ["1111", "2222", "3333"], ("idna", "3.7"): ["4444"]}

    fixes = [planned("urllib3", "1.26.4", "1.26.18", req, 1), planned("idna", "3.6", "3.7", req, 4)]
    (rewrite,) = fix.rewrite_files(fixes, hashes)
    assert rewrite.after == (
        "urllib3==1.26.18 \\\n"
        "    --hash=sha256:1111 \\\n"
        "    --hash=sha256:2222 \\\n"
        "    --hash=sha256:3333\n"
        "idna==3.7 --hash=sha256:4444  # inline\n"
    )
    assert asked == [[("idna", "3.7"), ("urllib3", "1.26.18")]]  # one lookup for all


def test_no_hashes_on_the_index_means_no_rewrite(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("idna==3.6 --hash=sha256:cccc\n")
    with pytest.raises(InputError, match=r"no hashes for idna==3\.7 on the index"):
        fix.rewrite_files([planned("idna", "3.6", "3.7", req, 1)], lambda pairs: {})
    assert req.read_text() == "idna==3.6 --hash=sha256:cccc\n"


def test_lock_files_are_left_to_their_tools(tmp_path: Path) -> None:
    lock = tmp_path / "poetry.lock"
    lock.write_text('[[package]]\nname = "idna"\nversion = "3.6"\n')
    fixes = [planned("idna", "3.6", "3.7", lock, 3)]
    assert fix.rewrite_files(fixes, no_hashes) == []
    assert fixes[0].files == []


def test_a_resolved_dependency_gets_advice_instead_of_an_edit(tmp_path: Path) -> None:
    req = tmp_path / "requirements.in"
    req.write_text("flask>=2\nwerkzeug>=0.15\n")
    transitive = planned("markupsafe", "2.0.0", "2.1.1", req, 1, paths=(("flask", "markupsafe"),))
    ranged = planned("werkzeug", "0.15.3", "2.2.3", req, 2, paths=(("werkzeug",),))
    assert fix.rewrite_files([transitive, ranged], no_hashes) == []
    assert transitive.new_version is None and transitive.skip_reason == (
        "a dependency of flask: require markupsafe>=2.1.1 (a constraints file will do) "
        "or upgrade flask"
    )
    assert ranged.skip_reason == (
        f"resolved from a version range, not pinned: require werkzeug>=2.2.3 at {req}:2"
    )


def test_the_reader_records_where_each_version_is_and_fix_edits_there(tmp_path: Path) -> None:
    from vulnsweep.sources import deduplicate
    from vulnsweep.sources.requirements.source import RequirementsSource

    req = tmp_path / "requirements.txt"
    req.write_text(
        "six==1.16.0\n"
        "   Jinja2 ==  2.10.1   # indented, spaced\n"
        "idna==3.6 \\\n    --hash=sha256:cccc\n"
        "urllib3==1.26.4 --hash=sha256:dddd\n"
    )
    deps, _ = deduplicate(RequirementsSource([str(req)]).collect())
    columns = {d.canonical_name: (d.origins[0].line, d.origins[0].column) for d in deps}
    assert columns == {
        "six": (1, 5),
        "jinja2": (2, 14),
        "idna": (3, None),  # a continued line: the rewriter finds it by pattern
        "urllib3": (5, 9),
    }
    jinja = next(d for d in deps if d.canonical_name == "jinja2")
    (rewrite,) = fix.rewrite_files([fix.Fix(jinja, new_version="2.11.3")], lambda pairs: {})
    assert rewrite.after.splitlines()[1] == "   Jinja2 ==  2.11.3   # indented, spaced"


def test_a_stale_column_falls_back_to_finding_the_pin(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("# moved\nsix==1.16.0\n")
    dep = Dependency("six", "1.16.0", (Origin(str(req), 2, column=40),))
    (rewrite,) = fix.rewrite_files([fix.Fix(dep, new_version="1.17.0")], no_hashes)
    assert rewrite.after == "# moved\nsix==1.17.0\n"
