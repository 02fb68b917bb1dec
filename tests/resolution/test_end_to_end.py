"""Unpinned input through the whole CLI: resolve on the local index, audit on the local
OSV server, report each transitive finding with the path that reached it."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.helpers import run_cli, unstamped
from tests.servers.index import IndexFaults, IndexServer, Project
from tests.servers.osv import OsvServer

CASES = Path(__file__).resolve().parents[1] / "data" / "resolution"
TARGET = ("--python-version", "3.11.7", "--platform", "linux")


def audit(
    index: IndexServer | str,
    osv: OsvServer,
    cache: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    url = index if isinstance(index, str) else index.url
    proc = run_cli(
        "--index-url", url, "--osv-url", osv.url, "--cache-dir", str(cache),
        "--progress-spinner", "off", *TARGET, *args,
        env=env, cwd=CASES,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def by_name(report: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {d["name"]: d for d in json.loads(report)["dependencies"]}


def test_transitive_findings_carry_their_path(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    code, out, err = audit(index_server, osv_server, cache_dir, "-r", "vulnerable.in", "-f", "json")
    assert code == 1
    deps = by_name(out)
    recorded = json.loads((CASES / "vulnerable.pip.json").read_text())["install"]
    assert {name: d["version"] for name, d in deps.items()} == recorded
    found = {name: sorted(v["id"] for v in d["vulns"]) for name, d in deps.items() if d["vulns"]}
    assert found == {
        "requests": ["PYSEC-2023-74"],
        "flask": ["PYSEC-2023-62"],
        "urllib3": ["PYSEC-2023-192", "PYSEC-2023-212"],
    }
    assert deps["urllib3"]["dependency_path"] == ["requests", "urllib3"]
    assert deps["urllib3"]["origins"] == ["vulnerable.in:3"]
    assert deps["flask"]["dependency_path"] == ["flask"]
    assert deps["markupsafe"]["dependency_paths"] == [
        ["flask", "jinja2", "markupsafe"],
        ["flask", "werkzeug", "markupsafe"],
    ]
    assert err.startswith("Found 4 known vulnerabilities in 3 packages\n")


def test_columns_show_a_via_column(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    code, out, _ = audit(index_server, osv_server, cache_dir, "-r", "vulnerable.in")
    assert code == 1
    rows = [line.split() for line in out.splitlines()[2:]]
    assert out.splitlines()[0].split() == [
        "Name",
        "Version",
        "ID",
        "Fix",
        "Versions",
        "Severity",
        "Via",
    ]
    assert ["urllib3", "2.0.5", "PYSEC-2023-192", "1.26.17,2.0.6", "HIGH", "requests"] in rows
    assert ["flask", "2.3.1", "PYSEC-2023-62", "2.2.5,2.3.2", "UNKNOWN", "(direct)"] in rows


def test_a_warm_rerun_asks_the_index_nothing(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    first = audit(index_server, osv_server, cache_dir, "-r", "web.in", "-f", "json")
    assert first[0] == 0
    assert index_server.hits["simple"] == 32 and index_server.hits["metadata"] >= 32
    index_server.reset()
    second = audit(index_server, osv_server, cache_dir, "-r", "web.in", "-f", "json")
    assert (second[0], unstamped(second[1])) == (first[0], unstamped(first[1]))
    assert sum(index_server.hits.values()) == 0


def test_no_deps_skips_what_is_not_pinned(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    code, out, _ = audit(
        index_server, osv_server, cache_dir, "-r", "vulnerable.in", "-f", "json", "--no-deps"
    )
    assert code == 0
    deps = by_name(out)
    assert sorted(deps) == ["flask", "requests"]
    assert deps["requests"]["skip_reason"] == (
        "requirement 'requests<2.31' is not pinned with == or ===, and --no-deps turns "
        "resolution off"
    )
    assert sum(index_server.hits.values()) == 0


def test_conflicts_are_explained_and_exit_2(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    code, out, err = audit(index_server, osv_server, cache_dir, "-r", "conflict.in")
    assert code == 2 and out == ""
    assert err.startswith(
        "vulnsweep: error: conflict.in: conflicting requirements for werkzeug: "
        "conflict.in:3 requires werkzeug<2; flask 3.1.3 requires werkzeug>=3.1.0;"
    )


def test_an_unreachable_index_is_a_service_failure(osv_server: OsvServer, cache_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/simple"
    code, out, err = audit(url, osv_server, cache_dir, "-r", "backtrack.in")
    assert code == 3 and out == ""
    assert err.startswith(f"vulnsweep: error: package index ({url}/flask/): ")
    assert err.count("\n") == 1


def test_transient_index_errors_are_retried(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    index_server.reset(IndexFaults(fail_first=3))
    code, out, _ = audit(index_server, osv_server, cache_dir, "-r", "backtrack.in", "-f", "json")
    assert code == 0
    recorded = json.loads((CASES / "backtrack.pip.json").read_text())["install"]
    assert {name: d["version"] for name, d in by_name(out).items()} == recorded


def test_an_index_without_pep_691_is_read_as_html(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    index_server.reset(IndexFaults(html_only=True))
    code, out, _ = audit(index_server, osv_server, cache_dir, "-r", "libs.in", "-f", "json")
    assert code == 0
    recorded = json.loads((CASES / "libs.pip.json").read_text())["install"]
    assert {name: d["version"] for name, d in by_name(out).items()} == recorded


def test_json_api_stands_in_for_missing_core_metadata(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    index_server.reset(IndexFaults(no_metadata={"flask", "requests"}))
    code, out, _ = audit(index_server, osv_server, cache_dir, "-r", "vulnerable.in", "-f", "json")
    assert code == 1
    recorded = json.loads((CASES / "vulnerable.pip.json").read_text())["install"]
    assert {name: d["version"] for name, d in by_name(out).items()} == recorded
    assert index_server.hits["pypi"] == 2


def test_sdist_only_release_is_audited_but_its_dependencies_are_skipped(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    sdist_only = Project(
        "legacy-tool",
        [{"filename": "legacy-tool-0.3.tar.gz", "hashes": {"sha256": "00" * 32}}],
        {},
    )
    requirements = tmp_path / "r.in"
    requirements.write_text("legacy-tool\nrequests<2.31\n")
    with IndexServer(extra={"legacy-tool": sdist_only}) as index:
        code, out, err = audit(index, osv_server, cache_dir, "-r", str(requirements), "-f", "json")
    # What legacy-tool pulls in is unknown: the run does not pass as complete (exit 3),
    # though everything it could audit is reported.
    assert code == 3
    assert "1 input could not be fully resolved" in err
    entries = json.loads(out)["dependencies"]
    audited = {d["name"]: d["version"] for d in entries if "skip_reason" not in d}
    assert audited["legacy-tool"] == "0.3"
    skipped = [d for d in entries if "skip_reason" in d]
    assert skipped == [
        {
            "name": "legacy-tool",
            "version": "0.3",
            "skip_reason": "legacy-tool 0.3 is audited, but its dependencies are unknown: the "
            "JSON API does not list its dependencies; reading the sdist failed (the sdist is "
            "not on the index (404)) (vulnsweep never builds or runs package code)",
            "origins": [f"{requirements}:1"],
        }
    ]


def test_credentials_are_used_and_never_shown(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    with IndexServer(auth=("alice", "s3cret-token")) as index:
        with_auth = index.url.replace("http://", "http://alice:s3cret-token@")
        code, out, err = audit(index, osv_server, cache_dir, "-r", "yanked.in")
        assert code == 3
        assert "HTTP 401" in err
        code, out, err = audit(with_auth, osv_server, cache_dir, "-r", "yanked.in", "-v")
        assert code == 1 and "urllib3 2.0.1" in out
        assert "s3cret" not in out + err
        wrong = index.url.replace("http://", "http://alice:wrong-pass@")
        code, out, err = audit(wrong, osv_server, cache_dir, "-r", "backtrack.in", "--no-cache")
        assert code == 3 and "wrong-pass" not in err and "****@127.0.0.1" in err
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login alice password s3cret-token\n")
        netrc.chmod(0o600)
        code, out, err = audit(
            index, osv_server, cache_dir, "-r", "backtrack.in", "--no-cache",
            env={"NETRC": str(netrc)},
        )  # fmt: skip
        assert code == 0, err
    stored = b"".join(p.read_bytes() for p in cache_dir.rglob("*") if p.is_file())
    assert b"s3cret" not in stored


def test_pyproject_ranges_resolve_with_the_project_at_the_head_of_each_path(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "1.0"\n'
        'dependencies = ["requests<2.31", "flask==2.3.1"]\n'
    )
    code, out, _ = audit(index_server, osv_server, cache_dir, str(tmp_path), "-f", "json")
    assert code == 1
    deps = by_name(out)
    assert deps["urllib3"]["dependency_path"] == ["shop", "requests", "urllib3"]
    assert deps["flask"]["dependency_path"] == ["shop", "flask"]
    assert deps["urllib3"]["origins"] == [f"{tmp_path / 'pyproject.toml'}:4"]


@pytest.mark.parametrize("case", ["vulnerable", "backtrack", "yanked"])
def test_uv_resolver_agrees_with_pip(
    case: str, index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    code, out, err = audit(
        index_server, osv_server, cache_dir, "-r", f"{case}.in", "-f", "json", "--resolver", "uv"
    )
    assert code in (0, 1), err
    recorded = json.loads((CASES / f"{case}.pip.json").read_text())["install"]
    assert {name: d["version"] for name, d in by_name(out).items()} == recorded


def test_expired_pages_are_revalidated_with_their_etag(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    import sqlite3

    first = audit(index_server, osv_server, cache_dir, "-r", "backtrack.in", "-f", "json")
    with sqlite3.connect(cache_dir / "cache.sqlite3") as db:
        db.execute("UPDATE http SET expires = 0 WHERE url LIKE '%/simple/%'")
    index_server.reset()
    second = audit(index_server, osv_server, cache_dir, "-r", "backtrack.in", "-f", "json")
    assert (second[0], unstamped(second[1])) == (first[0], unstamped(first[1]))
    # every page asked again, every one answered 304; metadata is immutable: not asked
    assert index_server.hits["simple"] == index_server.hits["not_modified"] == 7
    assert index_server.hits["metadata"] == 0


def test_the_files_own_index_url_wins(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.in"
    requirements.write_text(f"--index-url {index_server.url}\nrequests<2.31\n")
    dead = "http://127.0.0.1:9/simple"
    code, out, err = audit(dead, osv_server, cache_dir, "-r", str(requirements), "-f", "json")
    assert code == 1, err
    assert by_name(out)["requests"]["version"] == "2.30.0"


def test_a_tree_walk_turns_one_impossible_file_into_a_skip(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "requirements.txt").write_text("flask>=3\nwerkzeug<2\n")
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "requirements.txt").write_text("requests<2.31\n")
    (tmp_path / "worker" / "constraints.txt").write_text("urllib3<2\n")
    code, out, _ = audit(index_server, osv_server, cache_dir, str(tmp_path), "-R", "-f", "json")
    assert code == 2  # the rest is audited and reported; the impossible file is an error
    entries = json.loads(out)["dependencies"]
    skipped = [d for d in entries if "skip_reason" in d]
    api = str(tmp_path / "api" / "requirements.txt")
    constraints = str(tmp_path / "worker" / "constraints.txt")
    assert [(d["name"], d["origins"]) for d in skipped] == [
        ("urllib3", [f"{constraints}:1"]),
        (api, [api]),
    ]
    assert skipped[0]["skip_reason"] == (
        "requirement 'urllib3<2' is not pinned with == or ===, and a constraints file is "
        "not resolved on its own"
    )
    assert skipped[1]["skip_reason"].startswith(
        "cannot be resolved: conflicting requirements for werkzeug: "
    )
    audited = {d["name"]: d["version"] for d in entries if "skip_reason" not in d}
    # the constraints file found in the tree limits nothing it was not asked to
    assert audited["requests"] == "2.30.0" and audited["urllib3"] == "2.8.0"


def test_markdown_and_sarif_show_the_path(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    _, markdown, _ = audit(
        index_server, osv_server, cache_dir, "-r", "vulnerable.in", "-f", "markdown"
    )
    header = markdown.splitlines()[0]
    assert header.endswith(" | Via")
    assert any(
        line.startswith("[urllib3]") and line.endswith(" | requests")
        for line in markdown.splitlines()
    )
    _, sarif, _ = audit(index_server, osv_server, cache_dir, "-r", "vulnerable.in", "-f", "sarif")
    results = json.loads(sarif)["runs"][0]["results"]
    urllib3 = [r for r in results if r["message"]["text"].startswith("urllib3 2.0.5")]
    assert len(urllib3) == 2
    assert all(r["properties"]["dependencyPath"] == ["requests", "urllib3"] for r in urllib3)
    assert all(r["message"]["text"].endswith(" Pulled in via requests.") for r in urllib3)


def test_resolve_pins_follows_what_a_hand_written_pin_list_pulls_in(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("flask==2.3.1\n")
    code, out, _ = audit(index_server, osv_server, cache_dir, "-r", str(requirements), "-f", "json")
    assert code == 1 and sorted(by_name(out)) == ["flask"]
    assert sum(index_server.hits.values()) == 0  # a pinned file needs no index
    code, out, _ = audit(
        index_server, osv_server, cache_dir, "-r", str(requirements), "-f", "json",
        "--resolve-pins",
    )  # fmt: skip
    assert code == 1
    deps = by_name(out)
    assert {name: d["version"] for name, d in deps.items()} == {
        "flask": "2.3.1",
        "werkzeug": "3.1.8",
        "jinja2": "3.1.6",
        "markupsafe": "3.0.3",
        "itsdangerous": "2.2.0",
        "click": "8.5.0",
        "blinker": "1.9.0",
    }
    assert deps["werkzeug"]["dependency_path"] == ["flask", "werkzeug"]
    assert deps["werkzeug"]["origins"] == [f"{requirements}:1"]
    proc = run_cli("-r", str(requirements), "--resolve-pins", "--no-deps")
    assert proc.returncode == 2 and "pick one" in proc.stderr


def test_fix_rewrites_pins_and_advises_on_what_resolution_chose(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "constraints.txt").write_text("urllib3<2.0.6\n")
    requirements = tmp_path / "requirements.in"
    requirements.write_text("-c constraints.txt\nrequests<2.31\nflask==2.3.1  # web\n")
    code, _, err = audit(index_server, osv_server, cache_dir, "-r", str(requirements), "--fix")
    assert code == 1, err
    assert requirements.read_text() == "-c constraints.txt\nrequests<2.31\nflask==2.3.2  # web\n"
    assert f"Fixed flask: 2.3.1 -> 2.3.2 in {requirements}:3\n" in err
    assert (
        "Cannot fix requests 2.30.0: resolved from a version range, not pinned: require "
        f"requests>=2.31.0 at {requirements}:2\n"
    ) in err
    assert (
        "Cannot fix urllib3 2.0.5: a dependency of requests: require urllib3>=2.0.7 (a "
        "constraints file will do) or upgrade requests\n"
    ) in err


def test_a_requirement_nothing_meets_is_explained_and_exits_2(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "r.in"
    requirements.write_text("flask>=99\n")
    code, out, err = audit(index_server, osv_server, cache_dir, "-r", str(requirements))
    assert code == 2 and out == ""
    assert err == (
        f"vulnsweep: error: {requirements}:1 requires flask>=99, but no "
        "release matches (newest: 3.1.3, 3.1.2, 3.1.1, 3.1.0, 3.0.3)\n"
    )
    requirements.write_text("no-such-project-anywhere\n")
    code, out, err = audit(index_server, osv_server, cache_dir, "-r", str(requirements))
    assert code == 2 and out == ""
    assert err == (
        f"vulnsweep: error: {requirements}:1 requires "
        "no-such-project-anywhere, but no installable release of no-such-project-anywhere "
        "is on the index\n"
    )


def test_an_index_url_this_client_cannot_ask_is_a_usage_error(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    code, out, err = audit("not-a-url", osv_server, cache_dir, "-r", "backtrack.in")
    assert (code, out) == (2, "")
    assert (
        err == "vulnsweep: error: --index-url must be an http(s) URL with a host, got 'not-a-url'\n"
    )
    requirements = tmp_path / "r.in"
    requirements.write_text("--extra-index-url file:///srv/wheels\nrequests<2.31\n")
    code, out, err = audit(
        "http://127.0.0.1:9/simple", osv_server, cache_dir, "-r", str(requirements)
    )
    assert (code, out) == (2, "")
    assert err == (
        f"vulnsweep: error: {requirements}: package index 'file:///srv/wheels' is not an "
        "http(s) URL\n"
    )


def test_uv_resolver_failures_are_one_line(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    code, out, err = audit(
        index_server, osv_server, cache_dir, "-r", "conflict.in", "--resolver", "uv"
    )
    assert (code, out) == (2, "")
    assert err.startswith("vulnsweep: error: conflict.in: uv pip compile failed: ")
    assert err.count("\n") == 1
    code, out, err = audit(
        "http://127.0.0.1:9/simple", osv_server, cache_dir, "-r", "backtrack.in",
        "--resolver", "uv",
    )  # fmt: skip
    assert (code, out) == (3, "")
    assert err.startswith("vulnsweep: error: package index (via uv) (backtrack.in): ")
    assert err.count("\n") == 1


def test_a_set_out_of_resolver_rounds_is_named_as_not_audited(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path
) -> None:
    code, out, err = audit(
        index_server, osv_server, cache_dir, "-r", "backtrack.in", "-f", "json",
        "--max-rounds", "3",
    )  # fmt: skip
    assert code == 3, err
    [skipped] = json.loads(out)["dependencies"]
    assert skipped == {
        "name": "backtrack-in",  # the set, named as any skipped entry is
        "skip_reason": "not resolved, so not audited: resolution did not finish within 3 "
        "rounds (the resolver kept backtracking; pin or constrain what it walks through, "
        "or raise --max-rounds)",
        "origins": ["backtrack.in"],
    }
    code, out, err = audit(index_server, osv_server, cache_dir, "-r", "backtrack.in", "-vv")
    assert code == 0, err  # the default budget is plenty for it
    # -vv says how long the set took and where its thread waited on the network.
    said = re.search(
        r"backtrack\.in: resolved in \d+\.\d\ds; waited \d+\.\d\ds for (\d+) pages "
        r"\((\d+) not asked for ahead\) and (\d+) metadata files \((\d+) not asked for ahead\)",
        err,
    )
    assert said is not None, err
    pages, unasked_pages, files, unasked_files = map(int, said.groups())
    assert unasked_pages <= pages and unasked_files <= files
    code, _, err = audit(
        index_server, osv_server, cache_dir, "-r", "backtrack.in", "--max-rounds", "0"
    )
    assert code == 2 and "--max-rounds must be at least 1" in err
