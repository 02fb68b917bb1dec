"""A small monorepo built from the real files in tests/data: three projects, a nested
requirements directory, CODEOWNERS and a config hierarchy."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.helpers import DATA, REQUIREMENTS

WORKER_BEFORE = "jinja2==2.10.1\nwerkzeug==0.15.3\nrequests==2.25.0\n"
# jinja2 fixed; werkzeug upgraded but still vulnerable (PYSEC-2023-221); urllib3 new.
WORKER_AFTER = "jinja2==2.11.3\nwerkzeug==2.2.3\nrequests==2.25.0\nurllib3==1.26.4\n"
CODEOWNERS = """\
# platform owns everything not claimed below
*                      @acme/platform
/services/api/         @acme/api
services/worker/       @acme/worker @alice
"""


def build_monorepo(root: Path, *, configs: bool = True) -> Path:
    """services/api (uv's compiled jupyter requirements + requirements/dev.txt),
    services/worker, libs/core (uv's own uv.lock); a root config that ignores
    PYSEC-2023-74 (requests) with a reason, and a worker config with `extend = false`."""
    api = root / "services" / "api"
    (api / "requirements").mkdir(parents=True)
    shutil.copy(REQUIREMENTS / "uv-jupyter.txt", api / "requirements.txt")
    (api / "requirements" / "dev.txt").write_text("django==3.2.0\nrequests==2.25.0\n")
    worker = root / "services" / "worker"
    worker.mkdir(parents=True)
    (worker / "requirements.txt").write_text(WORKER_BEFORE)
    core = root / "libs" / "core"
    core.mkdir(parents=True)
    shutil.copy(DATA / "locks" / "uv.lock", core / "uv.lock")
    (core / "pyproject.toml").write_text('[project]\nname = "core"\nversion = "1.0"\n')
    (root / ".github").mkdir()
    (root / ".github" / "CODEOWNERS").write_text(CODEOWNERS)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if configs:
        (root / "vulnsweep.toml").write_text(
            '[[ignore]]\nid = "PYSEC-2023-74"\nreason = "proxy leak: no proxies here"\n'
        )
        (worker / "vulnsweep.toml").write_text("extend = false\n")
    return root
