"""pyproject.toml, installed environments, SBOMs and tree walks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib
from packaging.requirements import Requirement

from tests.helpers import DATA
from vulnsweep.errors import InputError, UsageError
from vulnsweep.model import Dependency, Origin, SkippedDependency
from vulnsweep.sources import deduplicate
from vulnsweep.sources.environment import EnvironmentSource, interpreter_site_dirs
from vulnsweep.sources.pyproject import ProjectSelection, PyprojectSource
from vulnsweep.sources.requirements.source import RequirementsSource
from vulnsweep.sources.sbom import SbomSource, parse_pypi_purl
from vulnsweep.sources.select import InputOptions, build_sources
from vulnsweep.sources.tree import walk
from vulnsweep.target import target_environment

PYPROJECTS = DATA / "pyproject"


def collect(source: Any) -> tuple[list[Dependency], list[SkippedDependency]]:
    return deduplicate(source.collect())


# -- pyproject ----------------------------------------------------------------------


def expected_requirements(data: dict[str, Any], groups: list[str] | None = None) -> list[str]:
    """Every requirement string, include-groups expanded, straight from the TOML."""
    project = data["project"]
    out = list(project.get("dependencies", []))
    for reqs in project.get("optional-dependencies", {}).values():
        out += reqs
    dep_groups = data.get("dependency-groups", {})

    def expand(name: str) -> list[str]:
        items: list[str] = []
        for item in dep_groups[name]:
            items += expand(item["include-group"]) if isinstance(item, dict) else [item]
        return items

    for name in groups if groups is not None else dep_groups:
        out += expand(name)
    return out


@pytest.mark.parametrize("project", ["jupyterlab", "cibuildwheel", "flask"])
def test_pyproject_every_group_by_default(project: str) -> None:
    path = PYPROJECTS / project / "pyproject.toml"
    strings = expected_requirements(tomllib.loads(path.read_text()))
    applicable = [
        s for s in strings if Requirement(s).marker is None or Requirement(s).marker.evaluate()
    ]  # type: ignore[union-attr]
    pinned = [
        s
        for s in applicable
        if any(sp.operator in ("==", "===") for sp in Requirement(s).specifier)
    ]
    deps, skipped = collect(PyprojectSource(path))
    assert {(d.name, d.version) for d in deps} == {
        (Requirement(s).name, next(iter(Requirement(s).specifier)).version) for s in pinned
    }
    assert len(skipped) == len(applicable) - len(pinned)
    assert all("is not pinned" in s.reason for s in skipped)


def test_pyproject_include_group_and_lines() -> None:
    path = PYPROJECTS / "cibuildwheel" / "pyproject.toml"
    deps, skipped = collect(PyprojectSource(path, selection=ProjectSelection(groups=("dev",))))
    data = tomllib.loads(path.read_text())
    expected = data["project"]["dependencies"] + expected_requirements(
        {"project": {}, "dependency-groups": data["dependency-groups"]}, ["dev"]
    )
    applicable = [
        s for s in expected if Requirement(s).marker is None or Requirement(s).marker.evaluate()
    ]  # type: ignore[union-attr]
    pinned = [s for s in applicable if "==" in s]
    assert len(skipped) == len(applicable) - len(pinned) == 24
    assert sorted((d.name, d.version) for d in deps) == [
        ("mkdocs", "1.6.1"),
        ("mkdocs-include-markdown-plugin", "7.1.8"),
    ]
    lines = path.read_text().splitlines()
    for skip in skipped[:5]:
        assert skip.origins[0].line is not None
        assert skip.name.lower().replace("_", "-") in lines[skip.origins[0].line - 1].lower()


def test_pyproject_pins_audited_and_unknown_extra_refused(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[project]\nname = "app"\nversion = "1"\n'
        'dependencies = ["flask==1.0", "requests>=2"]\n'
        '[project.optional-dependencies]\nyaml = ["pyyaml==5.3"]\n'
        '[dependency-groups]\ndev = ["pytest==8.0.0"]\n'
    )
    deps, skipped = collect(PyprojectSource(path))
    assert [(d.name, d.version, d.origins) for d in deps] == [
        ("flask", "1.0", (Origin(str(path), 4),)),
        ("pyyaml", "5.3", (Origin(str(path), 6),)),
        ("pytest", "8.0.0", (Origin(str(path), 8),)),
    ]
    assert [s.name for s in skipped] == ["requests"]
    main_only, _ = collect(PyprojectSource(path, selection=ProjectSelection(no_dev=True)))
    assert [d.name for d in main_only] == ["flask"]
    with pytest.raises(InputError, match="--extra nope: no such optional-dependencies group"):
        collect(PyprojectSource(path, selection=ProjectSelection(extras=("nope",))))


def test_pyproject_dynamic_dependencies_are_not_built() -> None:
    path = PYPROJECTS / "airflow" / "pyproject.toml"
    deps, skipped = collect(PyprojectSource(path))
    assert deps == []
    assert [s.reason for s in skipped] == [
        "[project] dependencies are dynamic (computed by the build backend); vulnsweep never "
        "runs build code, so they are not audited",
        "[project] optional-dependencies are dynamic (computed by the build backend); "
        "vulnsweep never runs build code, so they are not audited",
    ]


def test_marker_target_environment(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[project]\nname = "a"\nversion = "1"\ndependencies = ['
        "\"old==1.0; python_version < '3.8'\", \"win==2.0; sys_platform == 'win32'\"]\n"
    )
    env = target_environment("3.7", "windows")
    deps, _ = collect(PyprojectSource(path, marker_environment=env))
    assert [d.name for d in deps] == ["old", "win"]
    deps, _ = collect(PyprojectSource(path, marker_environment=target_environment("3.12", "linux")))
    assert deps == []
    with pytest.raises(UsageError):
        target_environment("three", None)


def test_a_full_marker_environment_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "pywin32==306 ; sys_platform == 'win32'\n"
        "uvloop==0.19.0 ; sys_platform != 'win32'\n"
        "graviton==1.0 ; platform_machine == 'aarch64' and python_version >= '3.12'\n"
    )
    arm = tmp_path / "arm.json"
    arm.write_text(
        json.dumps(
            {
                "sys_platform": "linux",
                "platform_machine": "aarch64",
                "python_version": "3.12",
                "python_full_version": "3.12.4",
            }
        )
    )
    env = target_environment(None, None, str(arm))
    deps, _ = collect(RequirementsSource([str(path)], marker_environment=env))
    assert [(d.name, d.version) for d in deps] == [("uvloop", "0.19.0"), ("graviton", "1.0")]
    # --python-version applies on top of the file
    env = target_environment("3.11", None, str(arm))
    deps, _ = collect(RequirementsSource([str(path)], marker_environment=env))
    assert [d.name for d in deps] == ["uvloop"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"sys_platform": "linux", "python_versoin": "3.12"}')
    with pytest.raises(InputError, match="unknown marker variables: python_versoin"):
        target_environment(None, None, str(bad))
    bad.write_text('["linux"]')
    with pytest.raises(InputError, match="must be a JSON object"):
        target_environment(None, None, str(bad))


# -- environments -------------------------------------------------------------------


def make_dist(site: Path, name: str, version: str, editable: bool = False) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if editable:
        (info / "direct_url.json").write_text(
            json.dumps({"url": "file:///src", "dir_info": {"editable": True}})
        )


def test_environment_from_site_packages(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    make_dist(site, "Flask", "1.0")
    make_dist(site, "mylib", "0.1", editable=True)
    deps, skipped = collect(EnvironmentSource([str(site)]))
    assert [(d.name, d.version) for d in deps] == [("Flask", "1.0")]
    assert deps[0].origins == (Origin(str(site / "Flask-1.0.dist-info")),)
    assert [(s.name, s.reason) for s in skipped] == [
        ("mylib", "editable install of a local project: its code is not a release")
    ]
    assert collect(EnvironmentSource([str(site)], skip_editable=True))[1] == []


def test_environment_of_another_interpreter_without_running_site(tmp_path: Path) -> None:
    dirs = interpreter_site_dirs(sys.executable)
    assert dirs and all(os.path.isdir(d) for d in dirs)
    deps, _ = collect(EnvironmentSource(dirs))
    assert "packaging" in {d.canonical_name for d in deps}
    with pytest.raises(InputError, match="no such interpreter"):
        interpreter_site_dirs(str(tmp_path / "nopython"))


# -- SBOMs --------------------------------------------------------------------------


def test_purl_parsing() -> None:
    assert parse_pypi_purl("pkg:pypi/django@4.2.1") == ("django", "4.2.1")
    assert parse_pypi_purl("pkg:pypi/zope.interface@5.0?extension=whl") == ("zope.interface", "5.0")
    assert parse_pypi_purl("pkg:npm/left-pad@1.0.0") is None
    assert parse_pypi_purl("pkg:pypi/flask") == ("flask", None)


def test_cyclonedx_json_with_nested_components(tmp_path: Path) -> None:
    path = tmp_path / "bom.cdx.json"
    path.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [
                    {
                        "type": "library",
                        "name": "flask",
                        "version": "1.0",
                        "purl": "pkg:pypi/flask@1.0",
                        "components": [{"name": "jinja2", "purl": "pkg:pypi/jinja2@2.10.1"}],
                    },
                    {"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.0.0"},
                    {"type": "library", "name": "noversion", "purl": "pkg:pypi/noversion"},
                ],
            },
            indent=1,
        )
    )
    deps, skipped = collect(SbomSource(path))
    assert [(d.name, d.version) for d in deps] == [("flask", "1.0"), ("jinja2", "2.10.1")]
    assert deps[0].origins[0].line == 9
    assert sorted(s.reason for s in skipped) == [
        "SBOM component has no version",
        "not a PyPI package (no pkg:pypi purl)",
    ]


def test_cyclonedx_xml_and_entity_expansion_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<bom xmlns="http://cyclonedx.org/schema/bom/1.5">\n'
        '<components><component type="library"><name>flask</name><version>1.0</version>'
        "<purl>pkg:pypi/flask@1.0</purl></component></components></bom>\n"
    )
    deps, _ = collect(SbomSource(path))
    assert [(d.name, d.version) for d in deps] == [("flask", "1.0")]
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE bom [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<bom xmlns="http://cyclonedx.org/schema/bom/1.5">&b;</bom>'
    )
    with pytest.raises(InputError, match="refused unsafe XML"):
        collect(SbomSource(bomb))


def test_spdx_json(tmp_path: Path) -> None:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(
        json.dumps(
            {
                "spdxVersion": "SPDX-2.3",
                "packages": [
                    {
                        "name": "requests",
                        "versionInfo": "2.19.1",
                        "externalRefs": [
                            {
                                "referenceCategory": "PACKAGE-MANAGER",
                                "referenceType": "purl",
                                "referenceLocator": "pkg:pypi/requests@2.19.1",
                            }
                        ],
                    },
                    {"name": "openssl", "versionInfo": "3.0"},
                ],
            }
        )
    )
    deps, skipped = collect(SbomSource(path))
    assert [(d.name, d.version) for d in deps] == [("requests", "2.19.1")]
    assert [s.name for s in skipped] == ["openssl"]


# -- trees --------------------------------------------------------------------------


def test_tree_walk_finds_supported_files_and_skips_noise(tmp_path: Path) -> None:
    (tmp_path / "svc-a" / "requirements").mkdir(parents=True)
    (tmp_path / "svc-a" / "requirements" / "base.txt").write_text("six==1.16.0\n")
    (tmp_path / "svc-a" / "requirements-dev.txt").write_text("six==1.16.0\npytest==8.0.0\n")
    (tmp_path / "svc-b").mkdir()
    (tmp_path / "svc-b" / "pyproject.toml").write_text('[project]\nname="b"\nversion="1"\n')
    (tmp_path / "svc-b" / "uv.lock").write_text("version = 1\n")
    (tmp_path / "svc-c").mkdir()
    (tmp_path / "svc-c" / "pyproject.toml").write_text('[project]\nname="c"\nversion="1"\n')
    for noise in (".venv", "node_modules", ".git", "build", "vendored"):
        (tmp_path / noise).mkdir()
        (tmp_path / noise / "requirements.txt").write_text("evil==1.0\n")
    (tmp_path / "svc-a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = [
        (f.path.relative_to(tmp_path).as_posix(), f.kind)
        for f in walk(tmp_path, excludes=["vendored"])
    ]
    assert found == [
        ("svc-a/requirements-dev.txt", "requirements"),
        ("svc-a/requirements/base.txt", "requirements"),
        ("svc-b/uv.lock", "lock"),
        ("svc-c/pyproject.toml", "pyproject"),
    ]


def test_tree_of_real_files_dedupes_across_files(tmp_path: Path) -> None:
    jupyter = (DATA / "requirements" / "uv-jupyter.txt").read_bytes()
    (tmp_path / "svc1").mkdir()
    (tmp_path / "svc1" / "requirements.txt").write_bytes(jupyter)
    (tmp_path / "svc2" / "requirements").mkdir(parents=True)
    (tmp_path / "svc2" / "requirements" / "prod.txt").write_bytes(jupyter)
    (tmp_path / "svc3").mkdir()
    (tmp_path / "svc3" / "uv.lock").write_bytes((DATA / "locks" / "uv.lock").read_bytes())
    sources = build_sources(InputOptions(paths=[str(tmp_path)], recursive=True))
    deps, skipped = deduplicate(item for s in sources for item in s.collect())
    assert skipped == []
    anyio = [d for d in deps if d.name == "anyio"]
    # jupyter pins anyio 4.2.0 twice; the uv.lock pins 4.13.0.
    assert [
        (d.version, [Path(o.path).relative_to(tmp_path).as_posix() for o in d.origins])
        for d in anyio
    ] == [
        ("4.2.0", ["svc1/requirements.txt", "svc2/requirements/prod.txt"]),
        ("4.13.0", ["svc3/uv.lock"]),
    ]
    assert len(deps) == len({d.key for d in deps})


def test_tree_with_nothing_found_does_not_audit_the_environment(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here\n")
    assert build_sources(InputOptions(paths=[str(tmp_path)], recursive=True)) == []


def test_tree_bad_file_is_a_skip_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"six==1.16.0\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "poetry.lock").write_text("not [valid toml\n")
    sources = build_sources(InputOptions(paths=[str(tmp_path)], recursive=True))
    deps, skipped = deduplicate(item for s in sources for item in s.collect())
    assert [d.name for d in deps] == ["six"]
    assert len(skipped) == 1 and skipped[0].origins[0].path == str(tmp_path / "sub/poetry.lock")
    assert "invalid TOML" in skipped[0].reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_directory_is_an_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            list(walk(tmp_path))
    finally:
        locked.chmod(0o700)


def test_a_tree_walk_resolves_in_files_that_have_no_compiled_txt(tmp_path: Path) -> None:
    """pip-tools: `x.in` is the intent, `x.txt` beside it what is installed. The walk
    audits the .txt, and resolves a .in only where nothing was compiled from it."""
    from vulnsweep.sources.tree import walk

    for name in ("requirements/main.in", "requirements/main.txt", "requirements/docs.in",
                 "svc/requirements.in", "svc/notes.in", "requirements-dev.in"):  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("six\n")
    found = sorted(str(f.path.relative_to(tmp_path)) for f in walk(tmp_path))
    assert found == [
        "requirements-dev.in",
        "requirements/docs.in",
        "requirements/main.txt",
        "svc/requirements.in",
    ]
