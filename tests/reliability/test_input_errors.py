"""Input that cannot be read is an error with its place, exit 2 -- never a silent skip,
never a traceback (issue 21, item 2). Each case runs the real CLI; the report of
everything else is still written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import DATA, run_cli


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    cache = tmp_path_factory.mktemp("offline-db")
    export = DATA / "osv-pypi-2024-10.zip"
    assert run_cli("db", "import", str(export), "--cache-dir", str(cache)).returncode == 0
    return ("--offline", "--cache-dir", str(cache), "--max-db-age", "100000")


def test_an_invalid_marker_is_an_error_at_its_line(
    tmp_path: Path, offline: tuple[str, ...]
) -> None:
    pins = tmp_path / "requirements.txt"
    pins.write_text("jinja2==2.10.1 ; garbage marker\nsix==1.16.0\n")
    proc = run_cli("-r", str(pins), *offline, "-f", "json")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"vulnsweep: error: 1 input could not be read, the first: {pins}:1: invalid marker "
        "in 'jinja2==2.10.1 ; garbage marker': 'garbage marker'"
    )
    report = json.loads(proc.stdout)  # the rest was audited and reported
    assert [d["name"] for d in report["dependencies"] if "vulns" in d] == ["six"]
    # A false marker stays a skip, exit 0.
    pins.write_text('jinja2==2.10.1 ; python_version < "2"\n')
    assert run_cli("-r", str(pins), *offline).returncode == 0


def test_an_invalid_marker_in_pyproject_dependencies_is_an_error(
    tmp_path: Path, offline: tuple[str, ...]
) -> None:
    project = tmp_path / "pyproject.toml"
    project.write_text(
        '[project]\nname = "x"\nversion = "1"\n'
        'dependencies = ["jinja2==2.10.1 ; garbage marker", "six==1.16.0"]\n'
    )
    proc = run_cli(str(project), *offline)
    assert proc.returncode == 2
    assert "invalid marker in 'jinja2==2.10.1 ; garbage marker'" in proc.stderr


def test_a_file_that_is_not_a_requirements_file_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "x.py"
    script.write_text("pass\nrequests\n")
    proc = run_cli(str(script), "--dry-run")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        f"vulnsweep: error: {script}: not a requirements file, lock file, pyproject.toml or "
        "SBOM by its name (requirements files end in .txt or .in); pass it with -r to read "
        "it as one\n"
    )


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--timeout", "inf", "--timeout must be a finite number, got inf"),
        ("--deadline", "nan", "--deadline must be a finite number, got nan"),
        ("--max-db-age", "nan", "--max-db-age must be a finite number, got nan"),
        ("--cache-ttl", "1e400", "--cache-ttl must be a finite number, got inf"),
        (
            "--webhook",
            "http://[::1",
            "--webhook must be an http(s) URL with a host, got 'http://****'",
        ),
        (
            "--webhook",
            "http://127.0.0.1:99999/x",
            "--webhook must be an http(s) URL with a host, got 'http://****'",
        ),
    ],
)
def test_numbers_and_urls_that_cannot_be_used(flag: str, value: str, message: str) -> None:
    proc = run_cli(flag, value, "-r", "requirements.txt", "--dry-run")
    assert (proc.returncode, proc.stderr) == (2, f"vulnsweep: error: {message}\n")


def test_huge_numbers_are_one_line_errors(tmp_path: Path, offline: tuple[str, ...]) -> None:
    version = "1" + "0" * 5000
    pins = tmp_path / "requirements.txt"
    pins.write_text(f"six=={version}\n")
    proc = run_cli("-r", str(pins), *offline)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        f"vulnsweep: error: 1 input could not be read, the first: {pins}:1: the version "
        f"'{version[:40]}'... is 5001 characters long: not a version any index can hold"
    )
    pins.write_text(f'six==1.16.0 ; python_version > "{"9" * 5000}"\n')
    proc = run_cli("-r", str(pins), *offline)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr) < 1500  # the 5,000 digits are cut in the message
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n\n[[package]]\nname = "six"\n'
        f'version = "{version}"\nsource = {{ registry = "https://pypi.org/simple" }}\n'
    )
    proc = run_cli(str(lock), *offline)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is 5001 characters long" in proc.stderr


def test_a_tree_walk_does_not_leave_its_root_through_symlinks(
    tmp_path: Path, offline: tuple[str, ...]
) -> None:
    root = tmp_path / "tree"
    (root / "app").mkdir(parents=True)
    (root / "app" / "requirements.txt").write_text("six==1.16.0\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("jinja2==2.10.1\n")
    os.symlink(outside, root / "linked")
    os.symlink("/proc/self/root", root / "slash")
    proc = run_cli(str(root), "-R", *offline, "-f", "json")
    assert proc.returncode == 0, proc.stderr
    names = {d["name"] for d in json.loads(proc.stdout)["dependencies"]}
    assert names == {"six"}
    assert f"{root / 'linked'}: a symlink out of the tree (to {outside}); not followed" in (
        proc.stderr
    )
    assert f"{root / 'slash'}: a symlink out of the tree (to /); not followed" in proc.stderr
    followed = run_cli(str(root / "app"), "-R", "--follow-links", *offline, "-f", "json")
    assert followed.returncode == 0
    both = run_cli(str(root), "-R", "--follow-links", "--exclude", "slash", *offline, "-f", "json")
    assert {d["name"] for d in json.loads(both.stdout)["dependencies"]} == {"six", "jinja2"}


def test_control_characters_in_paths_cannot_forge_a_line(
    tmp_path: Path, offline: tuple[str, ...]
) -> None:
    evil = tmp_path / "tree" / "x\nNo known vulnerabilities found\x1b[2J"
    evil.mkdir(parents=True)
    (evil / "requirements.txt").write_text("jinja2==2.10.1\n")
    proc = run_cli(str(tmp_path / "tree"), "-R", *offline)
    assert proc.returncode == 1
    assert "No known vulnerabilities found" not in proc.stderr.splitlines()
    assert "\x1b" not in proc.stderr + proc.stdout
    assert "x\\nNo known vulnerabilities found\\x1b[2J" in proc.stderr
