"""The action's install step: vulnsweep in a virtual environment of its own (under
$RUNNER_TEMP), from PyPI at `version`, or from the action's own checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path


def main() -> int:
    target = Path(os.environ.get("RUNNER_TEMP", "/tmp")) / "vulnsweep-venv"
    version = os.environ.get("VULNSWEEP_ACTION_VERSION", "").strip()
    source = os.environ.get("VULNSWEEP_ACTION_PATH", str(Path(__file__).parent.parent))
    venv.create(target, with_pip=True, clear=True)
    python = target / ("Scripts" if os.name == "nt" else "bin") / "python"
    wanted = f"vulnsweep=={version}" if version else source
    subprocess.run([str(python), "-m", "pip", "install", "-q", wanted], check=True)
    print(f"vulnsweep installed in {target} from {wanted}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
