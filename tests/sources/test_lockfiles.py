"""Lock files from real projects: counts computed here straight from TOML/JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomllib

from tests.helpers import DATA
from vulnsweep.errors import InputError
from vulnsweep.model import Dependency, Origin, SkippedDependency, canonical_name, version_key
from vulnsweep.sources import deduplicate
from vulnsweep.sources.lockfiles import GroupSelection, LockFileSource, sniff_lock_format

LOCKS = DATA / "locks"


def collect(path: Path, **kwargs: Any) -> tuple[list[Dependency], list[SkippedDependency]]:
    return deduplicate(LockFileSource(path, **kwargs).collect())


def keyset(pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(canonical_name(n), version_key(v)) for n, v in pairs}


def line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


@pytest.mark.parametrize(
    "path", [LOCKS / "uv.lock", LOCKS / "uv-legacy" / "uv.lock", LOCKS / "uv-built" / "uv.lock"]
)
def test_uv_lock_registry_packages_audited(path: Path) -> None:
    data = tomllib.loads(path.read_text())
    entries = data.get("package") or data.get("distribution")
    registry = [(p["name"], p["version"]) for p in entries if "registry" in p["source"]]
    local = [
        p for p in entries if any(k in p["source"] for k in ("path", "directory", "git", "url"))
    ]
    deps, skipped = collect(path)
    assert {d.key for d in deps} == keyset(registry)
    assert len(skipped) == len(local)


def test_uv_lock_counts_and_lines() -> None:
    path = LOCKS / "uv.lock"
    deps, skipped = collect(path)
    assert (len(deps), len(skipped)) == (88, 0)
    anyio = next(d for d in deps if d.name == "anyio")
    assert anyio.version == "4.13.0"
    assert anyio.origins == (Origin(str(path), line_of(path, 'name = "anyio"') - 1),)


def test_uv_lock_no_dev_follows_the_graph() -> None:
    path = LOCKS / "uv-built" / "uv.lock"
    everything, _ = collect(path)
    assert sorted(d.name for d in everything) == [
        "anyio",
        "colorama",
        "idna",
        "iniconfig",
        "packaging",
        "pluggy",
        "pytest",
        "sniffio",
    ]
    runtime, _ = collect(path, selection=GroupSelection(no_dev=True))
    # pytest is only in the dev group; anyio's own dependencies stay.
    assert sorted(d.name for d in runtime) == ["anyio", "idna", "sniffio"]
    dev, _ = collect(path, selection=GroupSelection(groups=("dev",)))
    assert len(dev) == 8


@pytest.mark.parametrize(
    "path",
    [
        LOCKS / "poetry.lock",
        LOCKS / "poetry-1.0" / "poetry.lock",
        LOCKS / "poetry-1.1" / "poetry.lock",
        LOCKS / "poetry-path" / "poetry.lock",
    ],
)
def test_poetry_lock(path: Path) -> None:
    entries = tomllib.loads(path.read_text())["package"]
    # Local code is not a release any advisory names; a git or URL source is audited at
    # the version the lock records for it.
    local = [p for p in entries if (p.get("source") or {}).get("type") in ("directory", "file")]
    registry = [(p["name"], p["version"]) for p in entries if p not in local]
    deps, skipped = collect(path)
    assert {d.key for d in deps} == keyset(registry)
    assert [s.name for s in skipped] == [p["name"] for p in local]


def test_poetry_groups() -> None:
    path = LOCKS / "poetry.lock"
    entries = tomllib.loads(path.read_text())["package"]
    main = [(p["name"], p["version"]) for p in entries if "main" in p["groups"]]
    deps, _ = collect(path, selection=GroupSelection(no_dev=True))
    assert {d.key for d in deps} == keyset(main)
    assert (len(collect(path)[0]), len(deps)) == (78, 53)  # poetry-core, from git, too
    v1 = LOCKS / "poetry-1.0" / "poetry.lock"
    v1_main = [p for p in tomllib.loads(v1.read_text())["package"] if p["category"] == "main"]
    assert len(collect(v1, selection=GroupSelection(no_dev=True))[0]) == len(v1_main) == 49


@pytest.mark.parametrize(
    "path",
    [LOCKS / "pdm.lock", LOCKS / "pdm-3.1" / "pdm.lock", LOCKS / "pdm-unversioned" / "pdm.lock"],
)
def test_pdm_lock(path: Path) -> None:
    entries = tomllib.loads(path.read_text())["package"]
    registry = [
        (p["name"], p["version"])
        for p in entries
        if not any(k in p for k in ("git", "path", "url", "editable"))
    ]
    deps, skipped = collect(path)
    assert {d.key for d in deps} == keyset(registry)
    assert len(skipped) == len(entries) - len(registry)


def test_pdm_default_group_only() -> None:
    path = LOCKS / "pdm.lock"
    entries = tomllib.loads(path.read_text())["package"]
    default = {(p["name"], p["version"]) for p in entries if "default" in p["groups"]}
    deps, _ = collect(path, selection=GroupSelection(no_dev=True))
    assert {d.key for d in deps} == keyset(sorted(default))
    assert len(deps) == 38


def test_pipfile_lock() -> None:
    path = LOCKS / "pipenv" / "Pipfile.lock"
    data = json.loads(path.read_text())
    pinned = [
        (n, e["version"][2:])
        for s in ("default", "develop")
        for n, e in data[s].items()
        if "version" in e
    ]
    deps, skipped = collect(path)
    assert {d.key for d in deps} == keyset(pinned)
    assert len(skipped) == sum(len(data[s]) for s in ("default", "develop")) - len(pinned)
    default_only, _ = collect(path, selection=GroupSelection(no_dev=True))
    assert len(default_only) == len(data["default"])
    first = next(iter(data["default"]))
    dep = next(d for d in deps if d.name == first)
    assert dep.origins[0].line == next(
        n
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if line.strip().startswith(f'"{first}":')
    )


def test_pylock_from_pipenv_with_dev_group_markers() -> None:
    path = LOCKS / "pipenv" / "pylock.toml"
    entries = tomllib.loads(path.read_text())["packages"]
    deps, skipped = collect(path)
    assert len(deps) == len(entries) and skipped == []
    not_dev = [p for p in entries if "'dev' in dependency_groups" not in p.get("marker", "")]
    runtime, _ = collect(path, selection=GroupSelection(no_dev=True))
    assert {d.key for d in runtime} == keyset([(p["name"], p["version"]) for p in not_dev])


def test_pylock_pip_audit_assets() -> None:
    base = LOCKS / "pylock-pip-audit"
    deps, skipped = collect(base / "pylock.basic.toml")
    assert sorted((d.name, d.version) for d in deps) == [
        ("attrs", "25.1.0"),
        ("cattrs", "24.1.2"),
        ("numpy", "2.2.3"),
    ]
    with pytest.raises(InputError, match="no pylock lock-version"):
        collect(base / "pylock.missing-version.toml")
    deps, skipped = collect(base / "pylock.skipped.toml")
    assert [(s.name, s.reason) for s in skipped] == [("attrs", "package entry has no version")]
    assert deps == []


def test_invalid_toml_names_file_and_line() -> None:
    path = LOCKS / "pylock-pip-audit" / "pylock.invalid.toml"
    with pytest.raises(InputError) as info:
        collect(path)
    assert info.value.path == str(path)
    assert info.value.line == 1
    assert info.value.message.startswith("invalid TOML")


def test_unknown_lock_versions_are_refused(tmp_path: Path) -> None:
    cases = {
        "uv.lock": (
            'version = 2\n[[package]]\nname = "a"\nversion = "1"\n',
            "unsupported uv.lock version 2 (supported: 1.x)",
        ),
        "poetry.lock": (
            '[[package]]\nname = "a"\nversion = "1"\n[metadata]\nlock-version = "3.0"\n',
            "unsupported poetry.lock lock-version '3.0' (supported: 1.x, 2.x)",
        ),
        "pylock.toml": (
            "lock-version = '2.0'\n[[packages]]\nname = 'a'\n",
            "unsupported pylock lock-version '2.0' (supported: 1.x)",
        ),
        "Pipfile.lock": (
            '{"_meta": {"pipfile-spec": 5}, "default": {}}',
            "unsupported Pipfile.lock pipfile-spec 5 (supported: 6)",
        ),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError) as info:
            collect(path)
        assert info.value.message == message, name


def test_invalid_json_and_binary(tmp_path: Path) -> None:
    path = tmp_path / "Pipfile.lock"
    path.write_text('{\n  "default": {,\n}')
    with pytest.raises(InputError) as info:
        collect(path)
    assert (info.value.line, info.value.message) == (
        2,
        "invalid JSON: Expecting property name enclosed in double quotes",
    )
    path.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match="binary"):
        collect(path)


def test_format_sniffed_from_content() -> None:
    assert sniff_lock_format(Path("x.lock"), (LOCKS / "uv.lock").read_text()) == "uv.lock"
    assert sniff_lock_format(Path("x.lock"), (LOCKS / "pdm.lock").read_text()) == "pdm.lock"
    assert sniff_lock_format(Path("x"), (LOCKS / "poetry.lock").read_text()) == "poetry.lock"
    assert sniff_lock_format(Path("x"), (LOCKS / "pipenv" / "Pipfile.lock").read_text()) == (
        "Pipfile.lock"
    )
