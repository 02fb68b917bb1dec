"""The GitHub Action: action.yml is a valid composite action whose inputs are those of
pypa/gh-action-pip-audit (plus vulnsweep's own), and its audit step, run as a script
with a simulated GITHUB_* environment against the local OSV server, audits, writes the
job summary and the SARIF file, and sets its output."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import DATA, REPO_ROOT, cli_env
from tests.servers.osv import OsvServer

ACTION = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
# The inputs of pypa/gh-action-pip-audit a workflow may already set.
PIP_AUDIT_ACTION_INPUTS = {
    "inputs",
    "virtual-environment",
    "local",
    "vulnerability-service",
    "require-hashes",
    "no-deps",
    "summary",
    "index-url",
    "extra-index-urls",
    "ignore-vulns",
    "internal-be-careful-allow-failure",
    "internal-be-careful-extra-flags",
    "locked",
    "internal-be-careful-debug",
}


def test_action_is_a_composite_action_with_pip_audits_inputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    inputs = ACTION["inputs"]
    assert set(inputs) >= PIP_AUDIT_ACTION_INPUTS
    assert {"recursive", "min-severity", "baseline", "sarif-file"} <= set(inputs)
    for name, spec in inputs.items():
        assert spec.get("description") and "default" in spec, name
    used = set()
    for step in ACTION["runs"]["steps"]:
        text = json.dumps(step)
        used |= set(re.findall(r"\$\{\{ inputs\.([a-z-]+) \}\}", text))
        if "run" in step:
            assert step["shell"] == "bash"
            script = re.search(r'action_path \}\}/(action/[\w.]+)"', step["run"])
            assert script and (REPO_ROOT / script.group(1)).is_file()
    assert used == set(inputs)  # every input reaches a step, and no step reads another
    cache = next(
        s for s in ACTION["runs"]["steps"] if s.get("uses", "").startswith("actions/cache")
    )
    assert cache["with"]["path"] == "${{ runner.temp }}/vulnsweep-cache"


def outputs(files: dict[str, str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].splitlines())


def audit_step(
    tmp_path: Path, osv: OsvServer, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run the audit step as GitHub would: its env mapping with the inputs substituted
    (defaults for the rest), GITHUB_* files in place, then its `run:` line in bash."""
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "audit")
    values = {name: spec["default"] for name, spec in ACTION["inputs"].items()} | inputs
    files = {"GITHUB_STEP_SUMMARY": tmp_path / "summary.md", "GITHUB_OUTPUT": tmp_path / "out"}
    for file in files.values():
        file.write_text("")

    def substitute(text: str) -> str:
        text = re.sub(r"\$\{\{ inputs\.([a-z-]+) \}\}", lambda m: values[m.group(1)], text)
        text = text.replace("${{ runner.temp }}", str(tmp_path))
        return text.replace("${{ github.action_path }}", str(REPO_ROOT))

    env = cli_env({k: substitute(str(v)) for k, v in step["env"].items()})
    env |= {name: str(path) for name, path in files.items()}
    env |= {"RUNNER_TEMP": str(tmp_path), "GITHUB_ACTIONS": "true"}
    env["VULNSWEEP_ACTION_COMMAND"] = f"{sys.executable} -m vulnsweep"
    env["VULNSWEEP_OSV_URL"] = osv.url
    proc = subprocess.run(
        ["bash", "-c", substitute(step["run"])],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    return proc, {name: path.read_text() for name, path in files.items()}


def test_audit_step_writes_summary_sarif_and_output(tmp_path: Path, osv_server: OsvServer) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("idna==3.6\njinja2==2.10.1\n")
    sarif = tmp_path / "vulnsweep.sarif"
    proc, files = audit_step(
        tmp_path,
        osv_server,
        inputs=str(requirements),
        **{"sarif-file": str(sarif), "ignore-vulns": "PYSEC-2024-60\nGHSA-nope-nope-nope"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "--ignore-vuln PYSEC-2024-60 --ignore-vuln GHSA-nope-nope-nope" in proc.stdout
    assert files["GITHUB_STEP_SUMMARY"].startswith("## vulnsweep")
    assert outputs(files)["exit-code"] == "1"
    shown = base64.b64decode(outputs(files)["internal-be-careful-output"]).decode()
    assert shown in proc.stdout and "PYSEC-2021-66" in shown  # the report, as logged
    log: dict[str, Any] = json.loads(sarif.read_text())
    results = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert set(results) == {"PYSEC-2021-66", "PYSEC-2024-60"}
    assert "suppressions" in results["PYSEC-2024-60"]  # ignored: kept, as suppressed
    assert "suppressions" not in results["PYSEC-2021-66"]
    # One audit wrote both: the server saw one run.
    assert osv_server.hits["querybatch"] == 1


def test_one_run_one_webhook_one_record_and_true_baseline_states(
    tmp_path: Path, osv_server: OsvServer
) -> None:
    """With --state and --webhook in the extra flags, the SARIF file comes from the same
    run: one post, one recorded run, and SARIF's baselineState is absent on the first
    run (nothing to compare with) and "unchanged" on the next (a second audit used to
    mark the first run's findings "unchanged" already)."""
    from tests.reliability.test_secrets import HostileServer

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("jinja2==2.10.1\n")
    sarif, state = tmp_path / "vulnsweep.sarif", tmp_path / "state.db"
    with HostileServer() as hooks:
        flags = f"--state {state} --webhook http://127.0.0.1:{hooks.port}/hook/x"
        for expected in (None, "unchanged"):
            proc, _ = audit_step(
                tmp_path,
                osv_server,
                inputs=str(requirements),
                **{"sarif-file": str(sarif), "internal-be-careful-extra-flags": flags},
            )
            assert proc.returncode == 1, proc.stderr
            results = json.loads(sarif.read_text())["runs"][0]["results"]
            assert {r.get("baselineState") for r in results if "suppressions" not in r} == {
                expected
            }, expected
        posts = len(hooks.hooks)
    runs = json.loads(
        subprocess.run(
            [sys.executable, "-m", "vulnsweep", "history", "--state", str(state), "-f", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert len(runs) == 2
    assert posts == 2 * 3  # one delivery a run; the hook answers 500, so 3 attempts each


def test_a_windows_runner_venv_uses_scripts_python(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO_ROOT / "action"))
    try:
        import audit
    finally:
        sys.path.pop(0)
    venv = tmp_path / "venv"
    (venv / "Scripts").mkdir(parents=True)
    (venv / "Scripts" / "python.exe").write_text("")
    assert audit.venv_python(venv) == venv / "Scripts" / "python.exe"
    (venv / "bin").mkdir()
    assert audit.venv_python(venv) == venv / "bin" / "python"
    os.environ["RUNNER_OS"] = "Windows"
    try:
        assert audit.venv_python(venv) == venv / "Scripts" / "python.exe"
    finally:
        del os.environ["RUNNER_OS"]


def test_allow_failure_and_a_clean_input(tmp_path: Path, osv_server: OsvServer) -> None:
    requirements = DATA / "requirements" / "uv-jupyter.txt"
    proc, files = audit_step(
        tmp_path,
        osv_server,
        inputs=str(requirements),
        summary="false",
        **{"internal-be-careful-allow-failure": "true"},
    )
    assert proc.returncode == 0 and outputs(files)["exit-code"] == "1"
    assert files["GITHUB_STEP_SUMMARY"] == ""
    clean = tmp_path / "clean.txt"
    clean.write_text("six==1.16.0\n")
    proc, files = audit_step(tmp_path, osv_server, inputs=str(clean))
    assert proc.returncode == 0 and outputs(files)["exit-code"] == "0"


def test_install_step_script_is_sound() -> None:
    # Installing needs PyPI, which tests never reach: check the script compiles and
    # that the step hands it the action's path and the version input.
    compile((REPO_ROOT / "action" / "install.py").read_text(), "install.py", "exec")
    step = ACTION["runs"]["steps"][0]
    assert step["env"] == {
        "VULNSWEEP_ACTION_VERSION": "${{ inputs.version }}",
        "VULNSWEEP_ACTION_PATH": "${{ github.action_path }}",
    }
    assert os.path.basename(step["run"].split('"')[1]) == "install.py"


def test_debug_input_and_runner_debug_turn_on_debug_output(
    tmp_path: Path, osv_server: OsvServer
) -> None:
    clean = tmp_path / "clean.txt"
    clean.write_text("six==1.16.0\n")
    proc, _ = audit_step(
        tmp_path, osv_server, inputs=str(clean), **{"internal-be-careful-debug": "true"}
    )
    assert " -vv " in proc.stdout and "vulnsweep action: debug:" in proc.stdout
    assert "vulnsweep: INFO: network:" in proc.stderr  # the -vv log lines
    proc, _ = audit_step(tmp_path, osv_server, inputs=str(clean))
    assert " -vv " not in proc.stdout
