"""Baselines: a report of an earlier run (JSON, NDJSON or SARIF) marks each finding new
or unchanged, by package and advisory group rather than version, and lists what was
fixed since; `--fail-on new` fails only on what is new."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from tests.helpers import DATA, run_cli
from tests.monorepo import WORKER_AFTER, build_monorepo
from tests.servers.osv import OsvServer

FIXED = [  # what the worker's upgrade fixed: jinja2 2.11.3, werkzeug past 0.15.3's three
    ("jinja2", "PYSEC-2021-66"),
    ("werkzeug", "PYSEC-2022-203"),
    ("werkzeug", "PYSEC-2023-57"),
    ("werkzeug", "PYSEC-2023-58"),
]
NEW = [("urllib3", "PYSEC-2021-108"), ("urllib3", "PYSEC-2023-192"), ("urllib3", "PYSEC-2023-212")]


def audit(root: Path, osv: OsvServer, cache: Path, *args: str) -> tuple[int, str, str]:
    proc = run_cli(
        "-R", ".", "--osv-url", osv.url, "--cache-dir", str(cache),
        "--progress-spinner", "off", *args, cwd=root,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def states(report: dict) -> dict[tuple[str, str], str]:  # type: ignore[type-arg]
    return {
        (dep["name"], vuln["id"]): vuln["baseline_state"]
        for dep in report["dependencies"]
        for vuln in dep.get("vulns", ())
    }


@pytest.mark.parametrize("fmt", ["json", "ndjson", "sarif"])
def test_baseline_round_trip(fmt: str, tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    cache = tmp_path / "cache"
    baseline = tmp_path / f"baseline.{fmt}"
    code, _, _ = audit(root, osv_server, cache, "-f", fmt, "-o", str(baseline))
    assert code == 1
    if fmt == "sarif":
        import jsonschema

        schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
        jsonschema.validate(json.loads(baseline.read_text()), schema)
    (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)

    code, out, err = audit(root, osv_server, cache, "-f", "json", "--baseline", str(baseline))
    report = orjson.loads(out)
    found = states(report)
    assert sorted(k for k, s in found.items() if s == "new") == NEW
    # werkzeug 0.15.3 -> 2.2.3 is still affected by PYSEC-2023-221: unchanged, not new.
    assert found[("werkzeug", "PYSEC-2023-221")] == "unchanged"
    assert sum(s == "unchanged" for s in found.values()) == len(found) - 3
    assert [(a["name"], a["id"]) for a in report["absent"]] == FIXED
    assert report["baseline"]["new"] == 3 and report["baseline"]["fixed"] == 4
    assert f"3 new, {len(found) - 3} unchanged, 4 fixed since " in err
    assert code == 1


def test_fail_on_new(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    cache, first = tmp_path / "cache", tmp_path / "first.json"
    audit(root, osv_server, cache, "-f", "json", "-o", str(first))
    # Nothing changed: every finding is unchanged, so only --fail-on any fails.
    assert audit(root, osv_server, cache, "--baseline", str(first), "--fail-on", "new")[0] == 0
    assert audit(root, osv_server, cache, "--baseline", str(first))[0] == 1
    (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)
    code, out, _ = audit(
        root, osv_server, cache, "--baseline", str(first), "--fail-on", "new", "-f", "json"
    )
    assert code == 1
    failing = [
        (dep["name"], v["id"])
        for dep in orjson.loads(out)["dependencies"]
        for v in dep["vulns"]
        if "passing_reason" not in v
    ]
    assert sorted(failing) == NEW


def test_first_seen_and_a_new_advisory_on_an_old_pin(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    cache, first = tmp_path / "cache", tmp_path / "first.json"
    audit(root, osv_server, cache, "-f", "json", "-o", str(first))
    report = orjson.loads(first.read_bytes())
    for dep in report["dependencies"]:
        for vuln in dep["vulns"]:
            vuln["first_seen"] = "2026-01-05"
        if dep["name"] == "werkzeug":  # as if PYSEC-2023-221 had not been published yet
            dep["vulns"] = [v for v in dep["vulns"] if v["id"] != "PYSEC-2023-221"]
    first.write_bytes(orjson.dumps(report))
    _, out, _ = audit(root, osv_server, cache, "-f", "ndjson", "--baseline", str(first))
    lines = [orjson.loads(line) for line in out.splitlines()]
    findings = {
        (x["name"], x["id"]): x for x in lines if x["type"] == "finding" and not x["ignored"]
    }
    new = [k for k, x in findings.items() if x["baseline_state"] == "new"]
    assert new == [("werkzeug", "PYSEC-2023-221")]
    assert findings[("werkzeug", "PYSEC-2023-221")]["first_seen"] == lines[-1]["generated_at"][:10]
    assert {x["first_seen"] for k, x in findings.items() if k not in new} == {"2026-01-05"}
    assert lines[-1]["baseline"]["new"] == 1


def test_every_format_marks_the_state(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    cache, first = tmp_path / "cache", tmp_path / "first.json"
    audit(root, osv_server, cache, "-f", "json", "-o", str(first))
    (root / "services/worker/requirements.txt").write_text(WORKER_AFTER)
    base = ("--baseline", str(first))
    _, columns, _ = audit(root, osv_server, cache, *base)
    assert sum(" NEW " in line for line in columns.splitlines()) == 3
    assert "Fixed or gone since the baseline of" in columns
    _, markdown, _ = audit(root, osv_server, cache, *base, "-f", "markdown")
    assert markdown.count("| **new** |") == 3
    assert "jinja2 | 2.10.1 | PYSEC-2021-66 |" in markdown
    _, sarif, _ = audit(root, osv_server, cache, *base, "-f", "sarif")
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(json.loads(sarif), schema)
    run = orjson.loads(sarif)["runs"][0]
    by_state: dict[str, set[str]] = {}
    for result in run["results"]:
        by_state.setdefault(result["baselineState"], set()).add(result["ruleId"])
    assert by_state["new"] == {i for _, i in NEW}
    assert by_state["absent"] == {i for _, i in FIXED}
    assert run["properties"]["baseline"]["fixed"] == 4


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not json at all\n", "line 1 is not JSON"),
        (b'{"dependencies": [{"vulns": []}]}', "a dependency without a name"),
        (
            b'{"runs": [{"results": [{"ruleId": "X", "message": {"text": "?"}}]}]}',
            "result for X names no package",
        ),
    ],
)
def test_unreadable_baseline_is_a_clear_error(
    content: bytes, message: str, tmp_path: Path, osv_server: OsvServer
) -> None:
    root = build_monorepo(tmp_path / "repo")
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code, _, err = audit(root, osv_server, tmp_path / "cache", "--baseline", str(bad))
    assert code == 2
    assert f"{bad}: cannot be read as a baseline: {message}" in err
    code, _, err = audit(root, osv_server, tmp_path / "cache", "--baseline", str(tmp_path / "no"))
    assert code == 2 and "--baseline" in err and "no such file" in err
