"""The action's audit step: turn the action's inputs (INPUT_* variables, as action.yml
maps them) into one vulnsweep command and run it once: every output, SARIF included,
comes from that one run. Standard library only: it runs with the runner's own python3."""

from __future__ import annotations

import base64
import os
import shlex
import subprocess
import sys
from pathlib import Path


def flag(name: str) -> bool:
    return os.environ.get(f"INPUT_{name}", "").strip().lower() in ("true", "1", "yes", "on")


def value(name: str) -> str:
    return os.environ.get(f"INPUT_{name}", "").strip()


def vulnsweep() -> list[str]:
    explicit = os.environ.get("VULNSWEEP_ACTION_COMMAND")  # tests: the command to run
    if explicit:
        return shlex.split(explicit)
    venv = Path(os.environ.get("RUNNER_TEMP", "/tmp")) / "vulnsweep-venv"
    return [str(venv / ("Scripts" if os.name == "nt" else "bin") / "vulnsweep")]


def venv_python(venv: Path) -> Path:
    """A virtualenv's interpreter: bin/python, or Scripts/python.exe on Windows runners
    (RUNNER_OS, or whichever the environment has)."""
    windows = venv / "Scripts" / "python.exe"
    if os.environ.get("RUNNER_OS") == "Windows" or (
        windows.exists() and not (venv / "bin").exists()
    ):
        return windows
    return venv / "bin" / "python"


def arguments() -> list[str]:
    """Every input, as vulnsweep's own flags (the same names pip-audit uses)."""
    args = ["--progress-spinner", "off", *value("INPUTS").split()]
    if value("VIRTUAL_ENVIRONMENT"):
        args += ["--python", str(venv_python(Path(value("VIRTUAL_ENVIRONMENT"))))]
    for name, option in (
        ("LOCAL", "--local"),
        ("REQUIRE_HASHES", "--require-hashes"),
        ("NO_DEPS", "--no-deps"),
        ("LOCKED", "--locked"),
        ("RECURSIVE", "--recursive"),
    ):
        if flag(name):
            args.append(option)
    if value("VULNERABILITY_SERVICE"):
        args += ["--vulnerability-service", value("VULNERABILITY_SERVICE")]
    if value("INDEX_URL"):
        args += ["--index-url", value("INDEX_URL")]
    for url in value("EXTRA_INDEX_URLS").split():
        args += ["--extra-index-url", url]
    for ident in value("IGNORE_VULNS").split():
        args += ["--ignore-vuln", ident]
    if value("MIN_SEVERITY"):
        args += ["--min-severity", value("MIN_SEVERITY")]
    if value("BASELINE"):
        args += ["--baseline", value("BASELINE"), "--fail-on", "new"]
    args += shlex.split(value("EXTRA_FLAGS"))
    return args


def debugging() -> bool:
    return flag("DEBUG") or bool(os.environ.get("RUNNER_DEBUG"))


def main() -> int:
    command = vulnsweep()
    args = arguments()
    if debugging():
        args.append("-vv")
    report = ["--format", value("FORMAT") or "columns"]
    # The report always goes to a file too, so it can be handed on as an output
    # (pip-audit's action's internal-be-careful-output), and shown in the log.
    temp = Path(os.environ.get("RUNNER_TEMP", "/tmp"))
    written = Path(value("OUTPUT")) if value("OUTPUT") else temp / "vulnsweep-report"
    report += ["--output", str(written)]
    if flag("SUMMARY") and os.environ.get("GITHUB_STEP_SUMMARY"):
        report.append("--summary")
    if value("SARIF_FILE"):
        # From the same run: one audit, one recorded run, one webhook post, and SARIF
        # baseline states that agree with the report's.
        report += ["--report", f"sarif:{value('SARIF_FILE')}"]
    print("+ " + shlex.join([*command, *args, *report]), flush=True)
    if debugging():
        print(f"vulnsweep action: debug: RUNNER_TEMP={temp}, report at {written}", flush=True)
    code = subprocess.run([*command, *args, *report]).returncode
    body = written.read_bytes() if written.is_file() else b""
    if not value("OUTPUT") and body:
        sys.stdout.write(body.decode("utf-8", "replace"))
        sys.stdout.flush()
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"exit-code={code}\n")
            handle.write(f"internal-be-careful-output={base64.b64encode(body).decode()}\n")
    if code == 1 and flag("ALLOW_FAILURE"):
        print("vulnerabilities found; not failing the step (internal-be-careful-allow-failure)")
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
