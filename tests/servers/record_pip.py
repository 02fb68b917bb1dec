"""Record what pip resolves for each tests/data/resolution/*.in (run once, by hand).

    python tests/servers/record_pip.py

pip runs isolated from every config file and environment variable, against the local
index (tests/servers/index.py) over the captured PyPI data, with
`install --dry-run --ignore-installed --report`; the resolved name -> version map is
stored beside each case as <case>.pip.json for the resolver tests to compare with.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

from tests.servers.index import IndexServer

CASES = Path(__file__).resolve().parents[1] / "data" / "resolution"


def main() -> None:
    pip_version = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    with IndexServer() as server:
        for case in sorted(CASES.glob("*.in")):
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--isolated",
                    "install",
                    "--dry-run",
                    "--ignore-installed",
                    "--no-cache-dir",
                    "--quiet",
                    "--report",
                    "-",
                    "--index-url",
                    server.url,
                    "-r",
                    str(case),
                ],
                capture_output=True,
                text=True,
                cwd=CASES,
            )
            record: dict[str, object] = {
                "pip": pip_version,
                "python": platform.python_version(),
                "platform": sys.platform,
            }
            if result.returncode == 0:
                report = json.loads(result.stdout)
                record["install"] = {
                    item["metadata"]["name"].lower().replace("_", "-").replace(".", "-"): item[
                        "metadata"
                    ]["version"]
                    for item in report["install"]
                }
            else:
                record["error"] = result.stderr.strip().splitlines()[-12:]
            out = case.with_suffix(".pip.json")
            out.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
            print(case.name, "ok" if result.returncode == 0 else "error", file=sys.stderr)


if __name__ == "__main__":
    main()
