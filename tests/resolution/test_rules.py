"""pip's candidate rules, on real files from the captured index."""

from __future__ import annotations

import json
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from vulnsweep.index.client import parse_core_metadata
from vulnsweep.index.pages import Distribution, Fits, Releases, read_page
from vulnsweep.resolution.provider import Requirement, allowed_versions, dependencies_of
from vulnsweep.target import TargetEnvironment, target_environment

INDEX = Path(__file__).resolve().parents[1] / "data" / "index"
PY311 = TargetEnvironment(target_environment("3.11.7", "linux"), "linux")


def releases(project: str, target: TargetEnvironment = PY311) -> Releases:
    data = json.loads((INDEX / f"{project}.json").read_text())
    page = {"files": [{**f, "url": f"/files/{f['filename']}"} for f in data["files"]]}
    read, _ = read_page(
        project, json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json",
        "http://index.test/simple/x/", "http://index.test/simple", Fits(target),
    )  # fmt: skip
    return Releases([read])


def versions(project: str, spec: str, pre: bool = False) -> list[str]:
    wanted = Requirement(project, frozenset(), SpecifierSet(spec), f"{project}{spec}")
    return [str(v) for v, _ in allowed_versions(releases(project), [wanted], pre)]


def test_yanked_releases_are_passed_over() -> None:
    assert versions("requests", ">=2.31,<2.32.2") == ["2.31.0"]
    assert versions("urllib3", ">=2,<2.0.3") == ["2.0.2"]


def test_an_exact_pin_may_pick_a_yanked_release_when_nothing_else_matches() -> None:
    assert versions("urllib3", "==2.0.1") == ["2.0.1"]
    # ... but not when a range also matches releases that are not yanked
    assert versions("urllib3", ">=2.0.0,<2.0.3") == ["2.0.2"]


def test_pre_releases_need_pre_a_specifier_naming_one_or_nothing_else() -> None:
    assert versions("sqlalchemy", ">=2.0.50")[0] == "2.0.54"
    assert versions("sqlalchemy", ">=2.0.50", pre=True)[0] == "2.1.0rc2"
    assert versions("sqlalchemy", ">=2.1.0b1")[0] == "2.1.0rc2"
    # only pre-releases match: pip takes them
    assert versions("sqlalchemy", ">2.0.54")[:2] == ["2.1.0rc2", "2.1.0rc1"]


def test_requires_python_filters_files_for_the_target() -> None:
    django_311 = [str(v) for v, _ in releases("django")]
    assert "6.0" not in django_311 and "5.2.17" in django_311
    py313 = TargetEnvironment(target_environment("3.13.1", "linux"), "linux")
    assert "6.1.1" in [str(v) for v, _ in releases("django", py313)]


def test_binary_wheels_must_match_the_target_platform() -> None:
    assert releases("markupsafe")  # cp311 manylinux wheels were captured
    windows = TargetEnvironment(target_environment("3.11.7", "windows"), "windows")
    assert not releases("markupsafe", windows)  # no win_amd64 wheel, no sdist
    assert releases("flask", windows)  # pure Python: py3-none-any


def test_markers_and_extras_of_dependencies() -> None:
    text = json.loads((INDEX / "requests.json").read_text())["metadata"][
        "requests-2.32.3-py3-none-any.whl"
    ]
    metadata = parse_core_metadata(text, "core metadata")
    plain = [r.name for r in dependencies_of(metadata, PY311, frozenset(), "requests")]
    assert plain == ["charset-normalizer", "idna", "urllib3", "certifi"]
    socks = [r.name for r in dependencies_of(metadata, PY311, frozenset({"socks"}), "requests")]
    assert socks == [*plain, "pysocks"]


def test_click_needs_colorama_only_on_windows() -> None:
    text = json.loads((INDEX / "click.json").read_text())["metadata"][
        "click-8.1.8-py3-none-any.whl"
    ]
    metadata = parse_core_metadata(text, "core metadata")
    windows = TargetEnvironment(target_environment("3.11.7", "windows"), "windows")
    assert [r.name for r in dependencies_of(metadata, PY311, frozenset(), "click")] == []
    assert [r.name for r in dependencies_of(metadata, windows, frozenset(), "click")] == [
        "colorama"
    ]


def test_html_pages_give_the_same_files_as_json() -> None:
    from tests.servers.index import IndexServer, _html_page

    server = IndexServer()
    entries = server._entries(server.projects["urllib3"])
    html = _html_page("urllib3", entries).encode()
    page = json.dumps({"files": entries}).encode()
    base = "http://index.test/simple/urllib3/"
    fits = Fits(PY311)

    def files(body: bytes, content_type: str) -> list[Distribution]:
        read, _ = read_page("urllib3", body, content_type, base, "http://index.test/simple", fits)
        return [dist for _, dists in Releases([read]) for dist in dists]

    from_html = files(html, "text/html")
    from_json = files(page, "application/vnd.pypi.simple.v1+json")
    assert from_html == from_json
    assert len(from_json) == len(entries)
    yanked = next(d for d in from_json if d.version == Version("2.0.0"))
    assert yanked.yanked is not None and yanked.yanked.startswith("Truncated response bodies")
