"""Broken and hostile inputs: one line naming the file (and line), a distinct exit code,
never a traceback, never anything executed or written outside the cache."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import run_cli
from vulnsweep.advisories.matching import compile_affected, record_affects
from vulnsweep.advisories.records import read_advisory
from vulnsweep.errors import InputError
from vulnsweep.sources import deduplicate
from vulnsweep.sources.lockfiles import LockFileSource
from vulnsweep.sources.requirements.source import RequirementsSource

Maker = Callable[[Path], tuple[list[str], str]]


def write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def binary(tmp: Path) -> tuple[list[str], str]:
    p = write(tmp / "requirements.txt", b"\x00\x01\x02\xff")
    return ["-r", str(p)], f"{p}: is a binary file, not text"


def bad_utf8(tmp: Path) -> tuple[list[str], str]:
    p = write(tmp / "requirements.txt", b"six==1.16.0\ncaf\xe9==1.0\n")
    return ["-r", str(p)], f"{p}:2: is not valid UTF-8 (byte offset 15)"


def missing_include(tmp: Path) -> tuple[list[str], str]:
    p = write(tmp / "requirements.txt", "six==1.16.0\n-r nowhere.txt\n")
    return ["-r", str(p)], f"{p}:2: included file not found: nowhere.txt"


def invalid_toml_lock(tmp: Path) -> tuple[list[str], str]:
    p = write(tmp / "poetry.lock", "[[package]\nname = 'x'\n")
    return [str(p)], f"{p}:1: invalid TOML: Expected ']]' at the end of an array declaration"


def invalid_json_lock(tmp: Path) -> tuple[list[str], str]:
    p = write(tmp / "Pipfile.lock", '{"default": {"six": {"version": "==1"}}, ]')
    return [str(p)], f"{p}:1: invalid JSON: Expecting property name enclosed in double quotes"


def unknown_uv_version(tmp: Path) -> tuple[list[str], str]:
    p = write(tmp / "uv.lock", "version = 7\n")
    return [str(p)], f"{p}: unsupported uv.lock version 7 (supported: 1.x)"


def xml_bomb(tmp: Path) -> tuple[list[str], str]:
    p = write(
        tmp / "bom.xml",
        '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "a">]>'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.6">&a;</bom>',
    )
    return ["--sbom", str(p)], (
        f"{p}: refused unsafe XML (DTDForbidden): entity declarations are not allowed in an SBOM"
    )


def invalid_sbom_json(tmp: Path) -> tuple[list[str], str]:
    p = write(tmp / "sbom.cdx.json", '{"bomFormat": "CycloneDX", "components": [}')
    return ["--sbom", str(p)], f"{p}:1: invalid JSON: Expecting value"


def traversal_zip(tmp: Path) -> tuple[list[str], str]:
    p = tmp / "evil.zip"
    with zipfile.ZipFile(p, "w") as archive:
        archive.writestr("../../../etc/evil.json", '{"id": "X"}')
    return ["db", "import", str(p), "--cache-dir", str(tmp / "cache")], (
        f"{p}: refused: archive entry '../../../etc/evil.json' points outside the archive"
    )


def not_a_directory(tmp: Path) -> tuple[list[str], str]:
    return ["--path", str(tmp / "nope")], (
        f"{tmp / 'nope'}: --path must name a site-packages directory"
    )


CASES: dict[str, Maker] = {
    "binary file": binary,
    "invalid UTF-8": bad_utf8,
    "missing include": missing_include,
    "invalid TOML lock": invalid_toml_lock,
    "invalid JSON lock": invalid_json_lock,
    "unknown lock version": unknown_uv_version,
    "XML entities in CycloneDX": xml_bomb,
    "invalid SBOM JSON": invalid_sbom_json,
    "zip with ../ entries": traversal_zip,
    "missing site-packages": not_a_directory,
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_clear_line(case: str, tmp_path: Path) -> None:
    argv, message = CASES[case](tmp_path)
    proc = run_cli(*argv, "--dry-run") if argv[0] != "db" else run_cli(*argv)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"vulnsweep: error: {message}\n"
    assert proc.stdout == ""
    assert not (tmp_path.parent / "etc").exists()


def test_tree_walk_survives_symlink_loops_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "up").symlink_to(tmp_path / "a", target_is_directory=True)
    write(tmp_path / "a" / "requirements.txt", "six==1.16.0\n")
    write(tmp_path / "a" / "b" / "requirements.txt", b"\xff\xfe")
    proc = run_cli(str(tmp_path), "-R", "--dry-run")
    # The walk goes on past the broken file, and the run says it could not read it.
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.endswith(
        "Dry run: would audit 1 packages (1 skipped)\nvulnsweep: error: 1 input could "
        f"not be read, the first: {tmp_path / 'a' / 'b' / 'requirements.txt'}:1: is not valid "
        "UTF-8 (byte offset 0)\n"
    )


def test_huge_single_line_and_long_file_are_handled(tmp_path: Path) -> None:
    huge = write(tmp_path / "huge.txt", "x" * (10 * 1024 * 1024) + "==1.0\n")
    proc = run_cli("-r", str(huge), "--dry-run")
    # No index holds such a name: an input error, named in one short line.
    assert proc.returncode == 2
    assert proc.stderr == (
        "Dry run: would audit 0 packages (1 skipped)\n"
        f"vulnsweep: error: 1 input could not be read, the first: {huge}:1: the name "
        f"'{'x' * 40}'... is 10485760 characters long: not a name any index can hold\n"
    )
    lines = write(
        tmp_path / "long.txt", "".join(f"pkg{i % 5000}==1.{i % 7}\n" for i in range(1_000_000))
    )
    proc = run_cli("-r", str(lines), "--dry-run")
    assert proc.returncode == 0
    assert proc.stderr == "Dry run: would audit 35000 packages (0 skipped)\n"


def test_malformed_osv_ranges_are_skipped_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    record = {
        "id": "BAD-1",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "foo"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "0"},
                            {"fixed": ["x"]},
                            {"what": "1"},
                            "nonsense",
                        ],
                    },
                    "not a range",
                    {"type": "ECOSYSTEM"},
                ],
                "versions": [1, None, "2.0"],
            },
            "not an entry",
        ],
    }
    compiled = compile_affected(record)
    # An unreadable event leaves its range unplaceable: not matched, and named.
    assert record_affects(compiled["foo"], "5.0") is False
    assert record_affects(compiled["foo"], "2.0") is True
    advisory = read_advisory(record)
    assert advisory is not None and advisory.unreadable == {
        None: "`affected[1]` names no package ('not an entry')",
        # the first of its problems: `versions` holds 1 and None, the range `["x"]`
        "foo": "`affected[0]`.versions[0] 1 is not a string",
    }
    assert "BAD-1" in caplog.text


# -- fuzzing ------------------------------------------------------------------------

requirement_text = st.text(
    alphabet=st.sampled_from(list("abcXYZ019-_.=<>!~;[], '\"#\\\n\r\t@/:${}*+")), max_size=200
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(requirement_text)
def test_fuzz_requirements_parser(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.txt"
    path.write_text(text, encoding="utf-8")
    try:
        deduplicate(RequirementsSource([str(path)]).collect())
    except InputError as exc:
        assert str(exc).startswith(str(path))


toml_text = st.text(
    alphabet=st.sampled_from(list("[]{}=,\"' \nabc01.version=package")), max_size=200
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    toml_text,
    st.sampled_from(["uv.lock", "poetry.lock", "pdm.lock", "pylock.toml", "Pipfile.lock"]),
)
def test_fuzz_lock_parsers(tmp_path: Path, text: str, name: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    try:
        deduplicate(LockFileSource(path).collect())
    except InputError as exc:
        assert str(exc).startswith(str(path))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "introduced",
                    "fixed",
                    "last_affected",
                    "limit",
                    "type",
                    "events",
                    "ranges",
                    "versions",
                    "package",
                    "name",
                    "ecosystem",
                    "affected",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from(["0", "1.0", "2.5rc1", "not-a-version"]))
def test_fuzz_matcher_never_crashes(affected: object, version: str) -> None:
    record = {"id": "FUZZ", "affected": affected if isinstance(affected, list) else [affected]}
    for entries in compile_affected(record).values():
        record_affects(entries, version)


def test_fuzz_corpus_is_bounded(tmp_path: Path) -> None:
    # The parsers above must also stay fast: a pathological line must not backtrack.
    line = "a" * 50_000 + "[" * 10_000
    write(tmp_path / "r.txt", line + "\n")
    proc = run_cli("-r", str(tmp_path / "r.txt"), "--dry-run", timeout=60)
    # Nothing in the file is a requirement: one line naming it, exit 2, no traceback.
    assert proc.returncode == 2
    assert proc.stderr.count(os.linesep) == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"vulnsweep: error: {tmp_path / 'r.txt'}: no requirement")


def test_permission_denied_is_named_even_when_running_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores file modes, so the refusal is simulated where the OS would raise it.
    from vulnsweep.sources import tree
    from vulnsweep.sources.requirements import source as requirements_module

    locked = tmp_path / "locked"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(str(path)) == locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(tree.os, "scandir", scandir)
    with pytest.raises(InputError) as info:
        list(tree.walk(tmp_path))
    assert str(info.value) == f"{locked}: permission denied: cannot list directory"

    secret = write(tmp_path / "requirements.txt", "six==1.16.0\n")

    real_open = open

    def guarded_open(file: object, *args: object, **kwargs: object) -> object:
        if str(file) == str(secret):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", guarded_open)
    with pytest.raises(InputError) as info:
        list(requirements_module.RequirementsSource([str(secret)]).collect())
    assert str(info.value) == f"{secret}: permission denied"
