"""Projects in a monorepo walk: how files are split into projects, each project's own
policy inherited down the tree (`extend = false` stops it), owners from CODEOWNERS,
per-project verdicts and the exit code."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.helpers import run_cli
from tests.monorepo import build_monorepo
from tests.servers.osv import OsvServer
from vulnsweep.policy.projects import ProjectMap


def walk(root: Path, osv: OsvServer, *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    proc = run_cli(
        "-R", ".", "-f", "json", "--osv-url", osv.url, "--cache-dir", str(root.parent / "cache"),
        "--progress-spinner", "off", *args, cwd=root,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, orjson.loads(proc.stdout), proc.stderr


def project_findings(report: dict, path: str) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    (project,) = [p for p in report["projects"] if p["path"] == path]
    return sorted((f["name"], f["id"]) for f in project["findings"])


def test_files_split_into_projects(tmp_path: Path) -> None:
    root = build_monorepo(tmp_path / "repo")
    nested = root / "libs" / "core" / "plugins" / "extra"
    nested.mkdir(parents=True)
    (nested / "pyproject.toml").write_text('[project]\nname = "extra"\nversion = "1"\n')
    loose = root / "scripts" / "ci"
    loose.mkdir(parents=True)
    (loose / "pins.txt").write_text("")
    projects = ProjectMap(root)
    assert projects.project_of(str(root / "services/api/requirements.txt")) == "services/api"
    # a requirements directory belongs to the project above it
    assert projects.project_of(str(root / "services/api/requirements/dev.txt")) == "services/api"
    assert projects.project_of(str(root / "libs/core/uv.lock")) == "libs/core"
    # a nested directory with its own marker is its own project
    assert projects.project_of(str(nested / "pyproject.toml")) == "libs/core/plugins/extra"
    # no marker anywhere up to the root: the file's own directory
    assert projects.project_of(str(loose / "pins.txt")) == "scripts/ci"


def test_each_project_gets_its_own_inherited_policy(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    (root / "services/api/vulnsweep.toml").write_text(
        '[[ignore]]\nid = "PYSEC-2021-109"\nreason = "api: admin site is off"\n'
    )
    code, report, err = walk(root, osv_server)
    api, worker = (
        project_findings(report, "services/api"),
        project_findings(report, "services/worker"),
    )
    # services/api inherits the root's requests ignore and adds its own django one.
    assert ("requests", "PYSEC-2023-74") not in api
    assert ("django", "PYSEC-2021-109") not in api and ("django", "PYSEC-2021-7") in api
    # services/worker says `extend = false`: the root's ignore does not silence it there.
    assert worker == [
        ("jinja2", "PYSEC-2021-66"),
        ("requests", "PYSEC-2023-74"),
        ("werkzeug", "PYSEC-2022-203"),
        ("werkzeug", "PYSEC-2023-221"),
        ("werkzeug", "PYSEC-2023-57"),
        ("werkzeug", "PYSEC-2023-58"),
    ]
    # Run-wide, requests' finding is reported: one project still has it.
    requests = next(
        d for d in report["dependencies"] if d["name"] == "requests" and d["version"] == "2.25.0"
    )
    assert [v["id"] for v in requests["vulns"]] == ["PYSEC-2023-74"]
    verdicts = {p["path"]: p["verdict"] for p in report["projects"]}
    assert verdicts == {"libs/core": "pass", "services/api": "fail", "services/worker": "fail"}
    assert code == 1 and "2 of 3 projects fail: services/api, services/worker" in err
    assert "matched no finding" not in err

    # --ignore-vuln on the command line reaches every project, extend = false or not.
    _, report, _ = walk(root, osv_server, "--ignore-vuln", "PYSEC-2023-74")
    assert ("requests", "PYSEC-2023-74") not in project_findings(report, "services/worker")


def test_a_project_gate_and_the_exit_code(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    (root / "services/api/requirements.txt").write_text("")
    (root / "services/api/requirements/dev.txt").write_text("")
    (root / "services/worker/vulnsweep.toml").write_text(
        'extend = false\nmin-severity = "critical"\nignore-unknown-severity = true\n'
    )
    code, report, _ = walk(root, osv_server)
    assert {p["path"]: p["verdict"] for p in report["projects"]} == {
        "libs/core": "pass",
        "services/worker": "pass",  # its findings are reported, none is critical
    }
    assert project_findings(report, "services/worker")
    assert code == 0
    # The command line beats a project's own config.
    code, report, _ = walk(root, osv_server, "--min-severity", "low")
    assert code == 1


def test_owners_in_reports_and_group_by(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    _, report, _ = walk(root, osv_server)
    owners = {p["path"]: p["owners"] for p in report["projects"]}
    assert owners == {
        "libs/core": ["@acme/platform"],
        "services/api": ["@acme/api"],
        "services/worker": ["@acme/worker", "@alice"],
    }
    requests = next(
        d for d in report["dependencies"] if d["name"] == "requests" and d["version"] == "2.25.0"
    )
    assert requests["owners"] == ["@acme/api", "@acme/worker", "@alice"]
    proc = run_cli(
        "-R", ".", "--group-by", "owner", "--osv-url", osv_server.url,
        "--cache-dir", str(tmp_path / "cache"), "--progress-spinner", "off", cwd=root,
    )  # fmt: skip
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["Owner", "Name", "Version"]
    groups = [line.split()[0] for line in lines[2:] if line.startswith("@")]
    assert groups == sorted(groups) and {"@acme/api", "@acme/worker", "@alice"} <= set(groups)
    assert any(line.startswith("Project") for line in lines)  # the verdict table
    sarif = run_cli(
        "-R", ".", "-f", "sarif", "--osv-url", osv_server.url,
        "--cache-dir", str(tmp_path / "cache"), "--progress-spinner", "off", cwd=root,
    )  # fmt: skip
    results = orjson.loads(sarif.stdout)["runs"][0]["results"]
    werkzeug = next(r for r in results if r["properties"]["package"] == "werkzeug")
    assert werkzeug["properties"]["owners"] == ["@acme/worker", "@alice"]
    assert werkzeug["properties"]["project"] == "services/worker"


def test_cyclonedx_names_projects_and_owners(tmp_path: Path, osv_server: OsvServer) -> None:
    root = build_monorepo(tmp_path / "repo")
    proc = run_cli(
        "-R", ".", "-f", "cyclonedx-json", "--osv-url", osv_server.url,
        "--cache-dir", str(tmp_path / "cache"), "--progress-spinner", "off", cwd=root,
    )  # fmt: skip
    bom = orjson.loads(proc.stdout)
    requests = next(c for c in bom["components"] if c["bom-ref"] == "requests==2.25.0")
    assert [(p["name"], p["value"]) for p in requests["properties"]] == [
        ("vulnsweep:owner", "@acme/api"),
        ("vulnsweep:owner", "@acme/worker"),
        ("vulnsweep:owner", "@alice"),
        ("vulnsweep:project", "services/api"),
        ("vulnsweep:project", "services/worker"),
    ]
    # Ignored in services/api, reported in services/worker: not a "will not fix".
    (vuln,) = [v for v in bom["vulnerabilities"] if v["id"] == "PYSEC-2023-74"]
    assert "analysis" not in vuln


def test_a_broken_project_config_fails_before_the_audit(
    tmp_path: Path, osv_server: OsvServer
) -> None:
    root = build_monorepo(tmp_path / "repo")
    config = root / "services/worker/vulnsweep.toml"
    for text, message in [
        ('extend = "no"\n', f"{config}: `extend` must be true or false"),
        ("[[ignore]\nid = 1\n", f"{config}:1: invalid TOML"),
    ]:
        config.write_text(text)
        proc = run_cli(
            "-R", ".", "--osv-url", osv_server.url, "--cache-dir", str(tmp_path / "cache"),
            "--progress-spinner", "off", cwd=root,
        )  # fmt: skip
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"vulnsweep: error: {message}")
        assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert osv_server.hits["querybatch"] == 0  # nothing was asked of the service
