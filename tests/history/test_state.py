"""The run history (`--state`): each run recorded, the previous run of the same inputs
as the automatic baseline, `history` for dashboards, and `recheck`, which re-audits
every stored project without its files and fetches only the advisories that changed."""

from __future__ import annotations

import copy
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from tests.helpers import run_cli
from tests.monorepo import WORKER_AFTER, build_monorepo
from tests.servers.osv import OsvServer

NO_FIX_YET: dict[str, Any] = {
    "id": "GHSA-test-nofx-0001",
    "modified": "2026-11-01T00:00:00Z",
    "published": "2026-11-01T00:00:00Z",
    "summary": "tornado: no fix yet",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "tornado"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
        }
    ],
}
ROOT_CONFIG = """\
ignore-until-fixed = ["GHSA-test-nofx-0001"]

[[ignore]]
id = "PYSEC-2023-74"
reason = "proxy leak: no proxies here"
"""


def vulnsweep(cwd: Path, osv: OsvServer, cache: Path, *args: str) -> tuple[int, str, str]:
    proc = run_cli(
        *args, "--osv-url", osv.url, "--cache-dir", str(cache), "--progress-spinner", "off",
        cwd=cwd,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def test_previous_run_is_the_baseline_and_history_lists_runs(
    tmp_path: Path,
    osv_server: OsvServer,
    state_store: str,
) -> None:
    root = build_monorepo(tmp_path / "repo")
    state, cache = state_store, tmp_path / "cache"
    code, _, err = vulnsweep(root, osv_server, cache, "-R", ".", "--state", str(state))
    assert code == 1 and " new, " not in err  # the first run has nothing to compare with
    (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)
    code, out, err = vulnsweep(
        root, osv_server, cache, "-R", ".", "--state", str(state), "-f", "json"
    )
    baseline = orjson.loads(out)["baseline"]
    assert (baseline["new"], baseline["fixed"]) == (3, 4)
    # Other inputs are another job: no baseline from the monorepo's runs.
    worker = root / "services/worker/requirements.txt"
    code, _, err = vulnsweep(root, osv_server, cache, "-r", str(worker), "--state", str(state))
    assert " new, " not in err

    proc = run_cli("history", "--state", str(state), "--format", "json")
    runs = orjson.loads(proc.stdout)
    assert [(r["id"], r["kind"], r["new"], r["fixed"]) for r in runs] == [
        (1, "audit", None, None),
        (2, "audit", 3, 4),
        (3, "audit", None, None),
    ]
    assert runs[0]["inputs_key"] == runs[1]["inputs_key"] != runs[2]["inputs_key"]
    assert runs[1]["findings"] == baseline["new"] + baseline["unchanged"]
    assert runs[1]["failing_projects"] == 2
    table = run_cli("history", "--state", str(state)).stdout.splitlines()
    assert table[0].split()[:3] == ["Run", "Finished", "Kind"] and len(table) == 5


def test_recheck_fetches_only_changed_advisories_and_names_affected_projects(
    tmp_path: Path,
    osv: OsvServer,
    state_store: str,
) -> None:
    root = build_monorepo(tmp_path / "repo")
    (root / "vulnsweep.toml").write_text(ROOT_CONFIG)
    osv.db.put(NO_FIX_YET)
    state = state_store
    code, first, _ = vulnsweep(
        root, osv, tmp_path / "cache", "-R", ".", "--state", str(state), "-f", "json"
    )
    full = dict(osv.hits)
    ignored = [i["id"] for i in orjson.loads(first)["ignored"]]
    assert "GHSA-test-nofx-0001" in ignored

    # Overnight: a new advisory for tornado (pinned by services/api only), a fix for the
    # ignored-until-fixed one, and a revision of jinja2's (services/worker) that changes
    # nothing it affects.
    osv.db.put(
        {
            **NO_FIX_YET,
            "id": "GHSA-test-torn-0002",
            "summary": "tornado: new",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": "tornado"},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "6.0"}, {"fixed": "6.4.1"}]}
                    ],
                }
            ],
        }
    )
    fixed = copy.deepcopy(NO_FIX_YET)
    fixed["modified"] = "2026-11-28T00:00:00Z"
    fixed["affected"][0]["ranges"][0]["events"].append({"fixed": "6.5"})
    osv.db.put(fixed)
    jinja = {**osv.db.records["PYSEC-2021-66"], "modified": "2026-11-28T00:00:00Z"}
    osv.db.put(jinja)
    osv.reset()
    shutil.rmtree(root)  # a recheck reads no input file (and here, no config either)

    code, out, err = vulnsweep(
        tmp_path, osv, tmp_path / "empty-cache", "recheck", "--state", str(state), "-f", "json"
    )
    report = orjson.loads(out)
    assert osv.hits["querybatch"] == full["querybatch"]
    # Only the three records whose stamp moved: tornado's pin needs nothing else, so its
    # new and its revised record come in one /v1/query; jinja2's revised one by id.
    assert (osv.hits["query"], osv.hits["vulns"]) == (1, 1)
    assert osv.hits["query"] + osv.hits["vulns"] < full["query"] + full["vulns"]
    new = sorted(
        (dep["name"], v["id"])
        for dep in report["dependencies"]
        for v in dep["vulns"]
        if v["baseline_state"] == "new"
    )
    assert new == [("tornado", "GHSA-test-nofx-0001"), ("tornado", "GHSA-test-torn-0002")]
    assert "newly affected: services/api (@acme/api): 2 new" in err
    assert "newly affected: services/worker" not in err and "libs/core" not in err.split("fail")[0]
    assert [p["path"] for p in report["projects"]] == [
        "libs/core",
        "services/api",
        "services/worker",
    ]
    assert code == 1
    history = orjson.loads(run_cli("history", "--state", str(state), "-f", "json").stdout)
    assert [(r["kind"], r["new"]) for r in history] == [("audit", None), ("recheck", 2)]


def test_recheck_reports_an_ignore_whose_fix_arrived(
    tmp_path: Path, osv: OsvServer, state_store: str
) -> None:
    root = build_monorepo(tmp_path / "repo")
    (root / "vulnsweep.toml").write_text(ROOT_CONFIG)
    osv.db.put(NO_FIX_YET)
    state = state_store
    vulnsweep(root, osv, tmp_path / "cache", "-R", ".", "--state", str(state))
    fixed = copy.deepcopy(NO_FIX_YET)
    fixed["modified"] = "2026-11-28T00:00:00Z"
    fixed["affected"][0]["ranges"][0]["events"].append({"fixed": "6.5"})
    osv.db.put(fixed)
    _, _, err = vulnsweep(tmp_path, osv, tmp_path / "cache", "recheck", "--state", str(state))
    assert "ignore-until-fixed GHSA-test-nofx-0001: a fix exists now (6.5)" in err


def test_recheck_needs_a_state_with_runs(tmp_path: Path, osv_server: OsvServer) -> None:
    code, _, err = vulnsweep(tmp_path, osv_server, tmp_path / "c", "recheck")
    assert code == 2 and "recheck needs --state PATH" in err
    code, _, err = vulnsweep(
        tmp_path, osv_server, tmp_path / "c", "recheck", "--state", str(tmp_path / "s.db")
    )
    assert code == 2 and err.endswith("s.db: no such file\n")  # and none is created
    assert not (tmp_path / "s.db").exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    code, _, err = vulnsweep(tmp_path, osv_server, tmp_path / "c", "recheck", "--state", str(empty))
    assert code == 2 and "no run recorded yet" in err
    (tmp_path / "junk.db").write_text("this is not SQLite " * 100)
    code, _, err = vulnsweep(
        tmp_path, osv_server, tmp_path / "c", "recheck", "--state", str(tmp_path / "junk.db")
    )
    assert code == 2 and "not a vulnsweep state file" in err


def test_recheck_offline_matches_stored_pins_against_the_database(
    tmp_path: Path, osv_server: OsvServer
) -> None:
    from tests.helpers import DATA

    root = build_monorepo(tmp_path / "repo")
    cache, state = tmp_path / "cache", tmp_path / "state.db"
    imported = run_cli(
        "db", "import", str(DATA / "osv-pypi-2024-10.zip"), "--cache-dir", str(cache)
    )
    assert imported.returncode == 0, imported.stderr
    offline = ("--offline", "--max-db-age", "100000", "-f", "json")
    code, first, _ = vulnsweep(root, osv_server, cache, "-R", ".", "--state", str(state), *offline)
    code, again, _ = vulnsweep(
        tmp_path, osv_server, cache, "recheck", "--state", str(state), *offline
    )
    report = orjson.loads(again)
    assert report["baseline"]["new"] == report["baseline"]["fixed"] == 0
    assert report["baseline"]["unchanged"] == len(
        [v for d in orjson.loads(first)["dependencies"] for v in d.get("vulns", ())]
    )
    assert not any("skip_reason" in d for d in report["dependencies"])
    assert code == 1 and osv_server.hits["querybatch"] == 0


def test_what_could_not_be_audited_is_not_reported_fixed(
    tmp_path: Path,
    osv_server: OsvServer,
    state_store: str,
) -> None:
    root = build_monorepo(tmp_path / "repo")
    state = state_store
    vulnsweep(root, osv_server, tmp_path / "cache", "-R", ".", "--state", str(state))
    with OsvServer(osv_server.db, faults=None) as down:
        pass  # closed: every query fails
    code, out, err = vulnsweep(
        tmp_path, down, tmp_path / "other-cache", "recheck", "--state", str(state),
        "-f", "json", "--timeout", "1",
    )  # fmt: skip
    assert code == 3
    assert orjson.loads(out)["absent"] == []
    assert "0 new, 0 unchanged, 0 fixed since" in err


def test_a_state_path_that_is_a_directory(tmp_path: Path, osv_server: OsvServer) -> None:
    requirements = tmp_path / "r.txt"
    requirements.write_text("six==1.16.0\n")
    code, _, err = vulnsweep(tmp_path, osv_server, tmp_path / "c", "-r", str(requirements),
                             "--state", str(tmp_path))  # fmt: skip
    assert code == 2 and err == f"vulnsweep: error: --state {tmp_path}: is a directory\n"


def test_recheck_reports_what_could_not_be_audited_again(
    tmp_path: Path,
    osv_server: OsvServer,
    state_store: str,
) -> None:
    root = build_monorepo(tmp_path / "repo")
    worker = root / "services/worker/requirements.txt"
    worker.write_text(worker.read_text() + "flask>=2\n")
    # Dependencies only a build could tell: not resolved, so the run exits 3.
    (root / "tools").mkdir()
    (root / "tools/pyproject.toml").write_text(
        '[project]\nname = "tools"\nversion = "1"\ndynamic = ["dependencies"]\n'
    )
    state = state_store
    code, first, err = vulnsweep(
        root, osv_server, tmp_path / "cache", "-R", ".", "--no-deps", "--state", str(state),
        "-f", "json",
    )  # fmt: skip
    assert code == 3 and "1 input could not be fully resolved" in err, err
    code, again, err = vulnsweep(
        tmp_path, osv_server, tmp_path / "cache", "recheck", "--state", str(state), "-f", "json"
    )
    assert code == 3 and "1 input could not be fully resolved" in err, err

    def skips(report: str) -> list[tuple[str, str]]:
        return [
            (d["name"], d["skip_reason"])
            for d in orjson.loads(report)["dependencies"]
            if "skip_reason" in d
        ]

    assert skips(again) == skips(first) != []
    assert [p["path"] for p in orjson.loads(again)["projects"]] == [
        p["path"] for p in orjson.loads(first)["projects"]
    ]
