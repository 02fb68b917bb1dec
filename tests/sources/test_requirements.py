from __future__ import annotations

import io
import logging
import re
import sys
from pathlib import Path

import pytest

from tests.helpers import REQUIREMENTS
from vulnsweep.errors import InputError
from vulnsweep.model import Dependency, Origin, SkippedDependency
from vulnsweep.sources import deduplicate
from vulnsweep.sources.requirements.source import RequirementsSource


def collect(
    *paths: str | Path, **kwargs: object
) -> tuple[list[Dependency], list[SkippedDependency]]:
    source = RequirementsSource([str(p) for p in paths], **kwargs)  # type: ignore[arg-type]
    return deduplicate(source.collect())


def pins(deps: list[Dependency]) -> list[tuple[str, str]]:
    return [(d.canonical_name, d.version) for d in deps]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- real files ---------------------------------------------------------------------


def test_uv_compiled_jupyter_every_pin_with_its_line() -> None:
    path = REQUIREMENTS / "uv-jupyter.txt"
    lines = path.read_text().splitlines()
    expected = [
        (number, line.split("==")[0], line.split("==")[1])
        for number, line in enumerate(lines, start=1)
        if re.match(r"^[A-Za-z0-9]", line)
    ]
    deps, skipped = collect(path)
    assert skipped == []
    assert len(deps) == len(expected) == 93
    assert [(d.origins[0].line, d.name, d.version) for d in deps] == expected
    assert deps[0] == Dependency("anyio", "4.2.0", (Origin(str(path), 3),))


def test_pip_compile_hashes_and_continuations() -> None:
    path = REQUIREMENTS / "pip-build-requirements.txt"
    deps, skipped = collect(path, require_hashes=True)
    assert skipped == []
    assert [(d.name, d.version, d.origins[0].line) for d in deps] == [
        ("build", "1.5.0", 7),
        ("flit-core", "3.12.0", 11),
        ("packaging", "25.0", 15),
        ("pyproject-hooks", "1.2.0", 19),
    ]


def test_scalibr_multiline_and_comments() -> None:
    path = REQUIREMENTS / "scalibr-multiline_and_comments.txt"
    deps, skipped = collect(path)
    assert skipped == []
    assert [(d.name, d.version, d.origins[0].line) for d in deps] == [
        ("pkgA", "1.0", 3),
        ("pkgB", "2.0", 7),
    ]


def test_uv_all_kinds_direct_references() -> None:
    path = REQUIREMENTS / "uv-all-kinds.txt"
    text_pins = [
        line
        for line in path.read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    ]
    deps, skipped = collect(path)
    # The wheel and sdist URLs name their exact versions; the git reference does not.
    assert len(deps) == len(text_pins) + 2 == 34
    assert ("flask", "3.0.0") in pins(deps)
    werkzeug = next(d for d in deps if d.name == "werkzeug")
    assert (werkzeug.version, werkzeug.origins) == ("3.0.1", (Origin(str(path), 73),))
    assert [s.name for s in skipped] == ["pydantic-extra-types"]
    assert skipped[0].unresolved
    assert "its version is only known by building it" in skipped[0].reason


def test_osv_scanner_include_cycle_reads_each_file_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        deps, skipped = collect(REQUIREMENTS / "pip" / "cyclic-r-complex-1.txt")
    assert skipped == []
    assert sorted(pins(deps)) == [
        ("cyclic-r-complex", "1"),
        ("cyclic-r-complex", "2"),
        ("cyclic-r-complex", "3"),
    ]
    assert "include cycle" in caplog.text


def test_osv_scanner_duplicate_includes_merge_origins() -> None:
    base = REQUIREMENTS / "pip"
    deps, skipped = collect(base / "duplicate-r-dev.txt", base / "duplicate-r-test.txt")
    assert skipped == []
    # Read in pip's order: dev.txt includes base.txt, then test.txt, then its own pins.
    assert pins(deps) == [
        ("django", "0.1.0"),
        ("requests", "1.2.3"),
        ("unittest", "1.0.0"),
        ("pandas", "0.23.4"),
    ]
    assert deps[1].origins == (
        Origin(str(base / "duplicate-r-test.txt"), 3),
        Origin(str(base / "duplicate-r-dev.txt"), 5),
    )


def test_osv_scanner_per_requirement_options() -> None:
    path = REQUIREMENTS / "pip" / "with-per-requirement-options.txt"
    deps, skipped = collect(path)
    assert pins(deps) == [("boto3", "1.26.121"), ("foo", "1.0.0"), ("fooproject", "1.2")]
    assert [(s.name, s.origins) for s in skipped] == [("BarProject", (Origin(str(path), 12),))]
    assert "not pinned" in skipped[0].reason


# -- grammar details -----------------------------------------------------------------


def test_markers_extras_crlf_bom_and_inline_comments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.txt",
        (
            "\ufeffrequests[security,socks]==2.19.1  # inline comment\r\n"
            "old==1.0 ; python_version < '3.0'\r\n"
            "new==2.0 ; python_version >= '3.0'\r\n"
            "weird===1.0-custom\r\n"
            "spaced == 3.1\r\n"
        ),
    )
    deps, skipped = collect(path)
    assert skipped == []
    assert [(d.name, d.version, d.origins[0].line) for d in deps] == [
        ("requests", "2.19.1", 1),
        ("new", "2.0", 3),
        ("weird", "1.0-custom", 4),
        ("spaced", "3.1", 5),
    ]


def test_global_options_are_not_packages(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.txt",
        (
            "--index-url https://user:secret@example.invalid/simple\n"
            "--extra-index-url=https://example.invalid/extra\n"
            "-i https://example.invalid/simple\n"
            "--trusted-host example.invalid\n"
            "--find-links ./wheels\n"
            "-f ./more\n"
            "--pre\n"
            "--no-binary :all:\n"
            "--prefer-binary\n"
            "six==1.16.0\n"
        ),
    )
    deps, skipped = collect(path)
    assert pins(deps) == [("six", "1.16.0")]
    assert skipped == []


def test_env_var_expansion_pip_form_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIX_VERSION", "1.16.0")
    path = write(tmp_path, "r.txt", "six==${SIX_VERSION}\n")
    deps, _ = collect(path)
    assert pins(deps) == [("six", "1.16.0")]


def test_constraints_pin_unpinned_requirements(tmp_path: Path) -> None:
    write(tmp_path, "constraints.txt", "requests==2.19.1\nurllib3==1.24.1\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    path = write(sub, "r.txt", "-c ../constraints.txt\nrequests>=2\nflask\n")
    deps, skipped = collect(path)
    # Constraint-only pins (urllib3) are not installed by this file, so not audited.
    assert pins(deps) == [("requests", "2.19.1")]
    assert deps[0].origins == (Origin(str(path), 2), Origin(str(sub / "../constraints.txt"), 1))
    assert [(s.name, s.origins[0].line) for s in skipped] == [("flask", 3)]


def test_unpinned_wildcard_and_editable_are_skipped_with_reasons(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.txt",
        ("django==4.*\n-e git+https://github.com/org/proj.git#egg=proj\n./local/path\n"),
    )
    deps, skipped = collect(path)
    assert deps == []
    assert [(s.name, s.origins[0].line) for s in skipped] == [
        ("proj", 2),
        ("./local/path", 3),
        ("django", 1),
    ]
    assert "not pinned" in skipped[2].reason
    assert "editable" in skipped[0].reason


def test_invalid_line_is_a_skip_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "r.txt", "six==1.16.0\nthis is not valid!!\nidna==3.7\n")
    deps, skipped = collect(path)
    assert pins(deps) == [("six", "1.16.0"), ("idna", "3.7")]
    assert len(skipped) == 1
    assert skipped[0].origins == (Origin(str(path), 2),)
    assert skipped[0].reason.startswith(f"{path}:2: invalid requirement")


def test_require_hashes_option_line_enforced(tmp_path: Path) -> None:
    path = write(tmp_path, "r.txt", "--require-hashes\nsix==1.16.0 --hash=sha256:abc\nidna==3.7\n")
    with pytest.raises(InputError) as info:
        collect(path)
    assert str(info.value) == f"{path}:3: hashes are required but idna==3.7 has no --hash"


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (b"six==1.0\n\xff\xfe broken\n", "is not valid UTF-8 (byte offset 9)", 2),
        (b"\x00\x01\x02binary", "is a binary file, not text", None),
        (b"-r missing.txt\n", "included file not found: missing.txt", 1),
        (b"-r\n", "-r needs a value", 1),
        (b"six==1.0\n-c=\n", "-c needs a file name", 2),  # found by the fuzz test
        (b"-r .\n", "included path is a directory: .", 1),
    ],
)
def test_fatal_input_errors_name_the_file(
    tmp_path: Path, content: bytes, message: str, line: int | None
) -> None:
    path = write(tmp_path, "r.txt", content)
    with pytest.raises(InputError) as info:
        collect(path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert info.value.message == message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        collect(tmp_path / "absent.txt")
    with pytest.raises(InputError, match="is a directory"):
        collect(tmp_path)


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b"six==1.16.0\n"))
    monkeypatch.setattr(sys, "stdin", fake)
    deps, _ = collect("-")
    assert deps == [Dependency("six", "1.16.0", (Origin("<stdin>", 1),))]


def test_dedup_uses_pep503_names_and_pep440_versions(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", "Django==2.2.0\n")
    b = write(tmp_path, "b.txt", "django==2.2\n")
    deps, _ = collect(a, b)
    assert len(deps) == 1
    assert deps[0].version == "2.2.0"
    assert deps[0].origins == (Origin(str(a), 1), Origin(str(b), 1))
