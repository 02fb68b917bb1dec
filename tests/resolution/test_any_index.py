"""Resolution on an index that advertises no PEP 658 metadata and has no JSON API
(like the PyPI reachable here, older Artifactory/Nexus, devpi): metadata comes from
the wheels themselves, by range requests or whole, and the result is still pip's."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.resolution.test_against_pip import CASES, pins, resolve_file
from tests.servers.index import IndexFaults, IndexServer, Project
from vulnsweep.errors import InputError

BARE = {"advertise_metadata": False, "json_api": False, "files": True}
MODES = {
    "ranges": IndexFaults(**BARE),
    "ranges-deep": IndexFaults(**BARE, wheel_padding=70_000, wheel_members=1_500),
    "no-ranges": IndexFaults(**BARE, ranges=False),
    "html": IndexFaults(**BARE, html_only=True),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ["web", "yanked", "backtrack", "constrained", "libs"])
def test_same_set_as_pip_without_index_metadata(
    case: str, mode: str, index_server: IndexServer
) -> None:
    index_server.reset(MODES[mode])
    recorded = json.loads((CASES / f"{case}.pip.json").read_text())
    resolved = resolve_file(CASES / f"{case}.in", index_server)
    assert pins(resolved) == recorded["install"]
    assert resolved.skipped == []
    assert index_server.hits["metadata"] == 0 and index_server.hits["pypi"] == 0
    if mode == "no-ranges":
        assert index_server.hits["range_bytes"] == 0
    else:
        assert index_server.hits["range"] > 0


def test_reads_per_wheel(index_server: IndexServer) -> None:
    """One tail read when METADATA sits in the tail; three when neither it nor the
    central directory does."""
    from collections import Counter

    for faults, reads in [
        (IndexFaults(**BARE), 1),
        (IndexFaults(**BARE, wheel_padding=70_000, wheel_members=1_500), 3),
    ]:
        index_server.reset(faults)
        resolved = resolve_file(CASES / "backtrack.in", index_server)
        per_wheel = Counter(p.rsplit("/", 1)[-1] for p in index_server.paths if p.endswith(".whl"))
        # Prefetches still in flight when the resolution ends are cancelled part-way.
        assert max(per_wheel.values()) == reads
        for dependency in resolved.dependencies:
            [wheel] = [w for w in per_wheel if w.lower().startswith(
                f"{dependency.name.replace('-', '_')}-{dependency.version}-"
            )]  # fmt: skip
            assert per_wheel[wheel] == reads


def test_warm_run_asks_nothing(index_server: IndexServer, tmp_path: Path) -> None:
    index_server.reset(IndexFaults(**BARE))
    cold = resolve_file(CASES / "web.in", index_server, tmp_path)
    index_server.reset(IndexFaults(**BARE))
    warm = resolve_file(CASES / "web.in", index_server, tmp_path)
    assert pins(warm) == pins(cold)
    assert warm.requests_sent == 0 and sum(index_server.hits.values()) == 0


@pytest.mark.parametrize(
    ("ranges", "why"),
    [
        (False, "reading METADATA from the whole wheel failed (the file does not match the "
                "sha256 the index gave for it)"),
        (True, "reading the wheel's METADATA with range requests failed (no zip "
               "end-of-central-directory record)"),
    ],
)  # fmt: skip
def test_wrong_hash_and_truncated_wheel_are_explained(
    ranges: bool, why: str, index_server: IndexServer
) -> None:
    """Whole files are checked against the page's hash; a truncated file read by
    ranges has no end record. Either way the release is a skip that says so."""
    wheel = "django-5.1.15-py3-none-any.whl"
    index_server.reset(IndexFaults(**BARE, ranges=ranges, truncate={wheel}))
    resolved = resolve_file(CASES / "web.in", index_server)
    reasons = {(s.name, s.version): s.reason for s in resolved.skipped}
    assert reasons == {
        ("django", "5.1.15"): f"django 5.1.15 is audited, but its dependencies are unknown: "
        f"{why}; the JSON API has no such release (404) (vulnsweep never builds or runs "
        "package code)"
    }


def _sdist_project(pkg_info: str, filename: str = "legacy-tool-0.3.tar.gz") -> Project:
    return Project("legacy-tool", [{"filename": filename, "hashes": {}}], {filename: pkg_info})


@pytest.mark.parametrize("filename", ["legacy-tool-0.3.tar.gz", "legacy-tool-0.3.zip"])
def test_static_sdist_metadata_is_used(filename: str, tmp_path: Path) -> None:
    pkg_info = "Metadata-Version: 2.2\nName: legacy-tool\nVersion: 0.3\nRequires-Dist: idna<3.20\n"
    requirements = tmp_path / "r.in"
    requirements.write_text("legacy-tool\n")
    with IndexServer(extra={"legacy-tool": _sdist_project(pkg_info, filename)}) as index:
        index.reset(IndexFaults(**BARE))
        resolved = resolve_file(requirements, index)
    assert pins(resolved) == {"legacy-tool": "0.3", "idna": "3.19"}
    assert resolved.skipped == []


@pytest.mark.parametrize(
    ("pkg_info", "why"),
    [
        ("Metadata-Version: 2.2\nName: legacy-tool\nVersion: 0.3\nDynamic: Requires-Dist\n",
         "marks Requires-Dist as Dynamic"),
        ("Metadata-Version: 2.1\nName: legacy-tool\nVersion: 0.3\nRequires-Dist: idna\n",
         "Metadata-Version 2.1, before static metadata (PEP 643) existed"),
    ],
)  # fmt: skip
def test_dynamic_sdist_metadata_is_a_skip_that_says_what_was_tried(
    pkg_info: str, why: str, tmp_path: Path
) -> None:
    requirements = tmp_path / "r.in"
    requirements.write_text("legacy-tool\n")
    with IndexServer(extra={"legacy-tool": _sdist_project(pkg_info)}) as index:
        index.reset(IndexFaults(**BARE))
        resolved = resolve_file(requirements, index, tmp_path / "cache")
        # Warm: the stored resolution is reused, and says the same, flag and all.
        index.reset(IndexFaults(**BARE))
        reused = resolve_file(requirements, index, tmp_path / "cache")
        assert index.paths == []
    assert reused.dependencies == resolved.dependencies
    assert reused.skipped == resolved.skipped
    assert pins(resolved) == {"legacy-tool": "0.3"}
    [skip] = resolved.skipped
    assert (
        skip.reason
        == (
            "legacy-tool 0.3 is audited, but its dependencies are unknown: the JSON API has "
            f"no such release (404); the sdist's PKG-INFO is {why}"
            if "2.1" in why
            else "legacy-tool 0.3 is audited, but its dependencies are unknown: the JSON API "
            f"has no such release (404); the sdist {why} (only a build can tell)"
        )
        + "; it has no egg-info requires.txt and no pyproject.toml [project] (vulnsweep "
        "never builds or runs package code)"
    )
    assert skip.unresolved  # the run exits 3: what it pulls in is unknown


OLD_PKG_INFO = "Metadata-Version: 2.1\nName: legacy-tool\nVersion: 0.3\n"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        # hdfs's shape: an old PKG-INFO, and setuptools' requires.txt with sections.
        (
            {"legacy_tool.egg-info/requires.txt":
             "idna<3.20\n\n[socks]\nPySocks\n\n[:python_version < \"3\"]\nsix\n"},
            {"legacy-tool": "0.3", "idna": "3.19"},
        ),
        (
            {"src/legacy_tool.egg-info/requires.txt": "idna<3.20\n"},
            {"legacy-tool": "0.3", "idna": "3.19"},
        ),
        (
            {"pyproject.toml": '[project]\nname = "legacy-tool"\nversion = "0.3"\n'
             'dependencies = ["idna<3.19"]\n'},
            {"legacy-tool": "0.3", "idna": "3.18"},
        ),
    ],
)  # fmt: skip
def test_an_old_sdist_is_read_from_its_static_files(
    members: dict[str, str], expected: dict[str, str], tmp_path: Path
) -> None:
    """PKG-INFO before PEP 643, but the sdist carries what setuptools wrote (egg-info
    requires.txt) or a static pyproject [project]: read, never built."""
    project = _sdist_project(OLD_PKG_INFO)
    project.sdist_members = {"legacy-tool-0.3.tar.gz": members}
    requirements = tmp_path / "r.in"
    requirements.write_text("legacy-tool\n")
    with IndexServer(extra={"legacy-tool": project}) as index:
        index.reset(IndexFaults(**BARE))
        resolved = resolve_file(requirements, index)
    assert pins(resolved) == expected
    assert resolved.skipped == []


def test_a_dynamic_pyproject_in_an_old_sdist_is_no_source(tmp_path: Path) -> None:
    project = _sdist_project(OLD_PKG_INFO)
    project.sdist_members = {
        "legacy-tool-0.3.tar.gz": {
            "pyproject.toml": '[project]\nname = "legacy-tool"\ndynamic = ["dependencies"]\n'
        }
    }
    requirements = tmp_path / "r.in"
    requirements.write_text("legacy-tool\n")
    with IndexServer(extra={"legacy-tool": project}) as index:
        index.reset(IndexFaults(**BARE))
        resolved = resolve_file(requirements, index)
    [skip] = resolved.skipped
    assert skip.reason.endswith(
        "its pyproject.toml marks dependencies as dynamic (vulnsweep never builds or runs "
        "package code)"
    )


def _python_gated(name: str, versions: dict[str, str]) -> Project:
    """Releases whose pages say nothing of Requires-Python; only METADATA does."""
    files, metadata = [], {}
    for version, requires_python in versions.items():
        filename = f"{name}-{version}-py3-none-any.whl"
        files.append({"filename": filename, "hashes": {}})
        metadata[filename] = (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Requires-Python: {requires_python}\nProvides-Extra: fast\n"
        )
    return Project(name, files, metadata)


def test_requires_python_from_metadata_is_honoured(tmp_path: Path) -> None:
    gated = _python_gated("gated", {"1.0": ">=3.8", "2.0": ">=3.13"})
    requirements = tmp_path / "r.in"
    requirements.write_text("gated\n")
    with IndexServer(extra={"gated": gated}) as index:
        index.reset(IndexFaults(**BARE))
        assert pins(resolve_file(requirements, index)) == {"gated": "1.0"}
        requirements.write_text("gated>=2\n")
        with pytest.raises(InputError) as caught:
            resolve_file(requirements, index)
    assert "gated 2.0 requires Python>=3.13, but the target Python is 3.11.7" in str(caught.value)


def test_unknown_extra_warns_like_pip(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    gated = _python_gated("gated", {"1.0": ">=3.8"})
    requirements = tmp_path / "r.in"
    requirements.write_text("gated[fast,nonexistent]\n")
    with IndexServer(extra={"gated": gated}) as index, caplog.at_level(logging.WARNING):
        index.reset(IndexFaults(**BARE))
        assert pins(resolve_file(requirements, index)) == {"gated": "1.0"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["gated 1.0 does not provide the extra 'nonexistent'"]


def test_no_match_names_yanked_releases(index_server: IndexServer, tmp_path: Path) -> None:
    requirements = tmp_path / "r.in"
    requirements.write_text("urllib3>2.0.0,<2.0.2\n")
    with pytest.raises(InputError) as caught:
        resolve_file(requirements, index_server)
    assert str(caught.value) == (
        f"{requirements}:1 requires urllib3>2.0.0,<2.0.2, but no release "
        "matches (newest: 2.8.0, 2.7.0, 2.6.3, 2.6.2, 2.6.1); excluded yanked: 2.0.1"
    )


def test_no_match_names_releases_for_another_python(tmp_path: Path) -> None:
    project = Project(
        "modern",
        [{"filename": "modern-2.0-py3-none-any.whl", "hashes": {}, "requires-python": ">=3.13"}],
        {"modern-2.0-py3-none-any.whl": "Metadata-Version: 2.1\nName: modern\nVersion: 2.0\n"},
    )
    requirements = tmp_path / "r.in"
    requirements.write_text("modern\n")
    with IndexServer(extra={"modern": project}) as index, pytest.raises(InputError) as caught:
        resolve_file(requirements, index)
    assert str(caught.value).endswith(
        "requires modern, but no installable release of modern is on the index; excluded "
        "not for Python 3.11.7: 2.0 (>=3.13)"
    )


def test_a_resolution_is_reused_only_while_its_pages_are_unchanged(
    index_server: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vulnsweep.cache import Cache, HttpEntry, source_key
    from vulnsweep.index.client import PAGE_KEY, strip_credentials
    from vulnsweep.resolution.backjump import DedupingResolver

    cold = resolve_file(CASES / "web.in", index_server, tmp_path)
    runs: list[int] = []
    real = DedupingResolver.resolve

    def counted(self: object, *args: object, **kwargs: object) -> object:
        runs.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DedupingResolver, "resolve", counted)
    warm = resolve_file(CASES / "web.in", index_server, tmp_path)
    assert runs == [] and warm.dependencies == cold.dependencies
    assert [d.paths for d in warm.dependencies] == [d.paths for d in cold.dependencies]
    # One page revalidated since (a new expiry): the stored result no longer counts.
    cache = Cache(tmp_path)
    source = source_key("index:" + strip_credentials(index_server.url))
    key = strip_credentials(f"{index_server.url}/flask/") + PAGE_KEY
    entry = cache.get_http(source, [key])[key]
    cache.put_http(source, [(key, HttpEntry(entry.etag, entry.expires + 1, entry.body))])
    cache.close()
    again = resolve_file(CASES / "web.in", index_server, tmp_path)
    assert runs == [1] and again.dependencies == cold.dependencies


def test_a_project_required_back_by_its_own_group_is_the_local_project(tmp_path: Path) -> None:
    """llm's dev group has llm-echo, which requires llm: that is the project itself."""
    from tests.resolution.test_against_pip import TARGET
    from vulnsweep.cache import Cache
    from vulnsweep.resolution.resolve import ResolverSettings, resolve_all
    from vulnsweep.sources import deduplicate
    from vulnsweep.sources.pyproject import PyprojectSource

    plugin = Project(
        "llm-echo",
        [{"filename": "llm_echo-0.3-py3-none-any.whl", "hashes": {}}],
        {
            "llm_echo-0.3-py3-none-any.whl": "Metadata-Version: 2.1\nName: llm-echo\n"
            "Version: 0.3\nRequires-Dist: llm>=0.19\nRequires-Dist: idna>=3.10\n"
        },
    )
    project = tmp_path / "pyproject.toml"
    project.write_text(
        '[project]\nname = "llm"\nversion = "0.20"\ndependencies = ["idna>=3"]\n\n'
        '[dependency-groups]\ndev = ["llm-echo"]\n'
    )
    with IndexServer(extra={"llm-echo": plugin}) as index:
        requests: list = []  # type: ignore[type-arg]
        deduplicate(PyprojectSource(project, resolve=True).collect(), requests)
        cache = Cache(None)
        resolved = resolve_all(
            requests, ResolverSettings(cache=cache, index_url=index.url, target=TARGET)
        )
    assert pins(resolved) == {"idna": "3.20", "llm-echo": "0.3"}
    assert resolved.skipped == []


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "revalidated"])
def test_a_damaged_cached_page_is_fetched_again(
    fresh: bool, index_server: IndexServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored page that no longer parses (fresh, or confirmed current by a 304) is
    fetched again whole: the resolution is the same and the cache is mended."""
    from vulnsweep.cache import Cache, HttpEntry, source_key
    from vulnsweep.index.client import PAGE_KEY, strip_credentials

    cold = resolve_file(CASES / "web.in", index_server, tmp_path)
    cache = Cache(tmp_path)
    source = source_key("index:" + strip_credentials(index_server.url))
    key = strip_credentials(f"{index_server.url}/flask/") + PAGE_KEY
    entry = cache.get_http(source, [key])[key]
    # A new expiry, so the stored resolution is not reused; an expired page is
    # revalidated with its etag, and the server answers 304.
    expires = entry.expires + 1 if fresh else 0.0
    cache.put_http(source, [(key, HttpEntry(entry.etag, expires, b'{"files": [trunc'))])
    cache.close()
    index_server.reset()
    again = resolve_file(CASES / "web.in", index_server, tmp_path)
    assert pins(again) == pins(cold)
    assert index_server.paths.count("/simple/flask/") == (1 if fresh else 2)
    assert index_server.hits["not_modified"] == (0 if fresh else 1)
    assert "the cached index page of flask could not be read; fetching it again" in caplog.text
    cache = Cache(tmp_path)
    assert cache.get_http(source, [key])[key].body == entry.body
    cache.close()
