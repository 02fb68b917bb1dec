"""Time to plan a fix for a warehouse-sized lock, next to a cold audit of it.

    python -m benchmarks.fix [--index-url https://pypi.org/simple] [--repeat 3]

Needs the network (by hand, not in CI): `uv pip compile` locks warehouse's
dependencies (benchmarks/data/warehouse.in) with hashes as of --as-of against the
index, then vulnsweep audits that lock and plans its fix (`--fix --dry-run`, which
re-resolves the whole lock and reads the index pages of what moves), each from a
cold cache holding only the offline advisory database built from the vendored OSV
export (tests/data/osv-pypi-2024-10.zip). For scale, `uv pip compile` re-locks the
same input from a cold cache (the by-hand alternative). Prints seconds, peak RSS and
the plan's size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.run import timed

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "tests" / "data" / "osv-pypi-2024-10.zip"
WAREHOUSE = ROOT / "benchmarks" / "data" / "warehouse.in"
UV = Path(sys.executable).parent / "uv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-url", default="https://pypi.org/simple")
    parser.add_argument("--as-of", default="2024-04-01", help="lock as of this date")
    parser.add_argument("--input", type=Path, default=WAREHOUSE, help="what to lock")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    with tempfile.TemporaryDirectory(prefix="vulnsweep-fixbench-") as scratch:
        work = Path(scratch)
        lock = work / "requirements.txt"
        subprocess.run(
            [str(UV), "pip", "compile", str(args.input), "--generate-hashes", "-q",
             "--exclude-newer", args.as_of, "--python-version", "3.11",
             "--exclude-newer-package", "pycurl=2026-12-01",  # its 2024 sdist needs a build
             "--python-platform", "x86_64-manylinux_2_17", "--index-url", args.index_url,
             "-o", str(lock)],
            check=True,
        )  # fmt: skip
        pins = sum(1 for line in lock.read_text().splitlines() if "==" in line)
        template = work / "template"
        subprocess.run(
            [sys.executable, "-m", "vulnsweep", "db", "import", str(EXPORT),
             "--cache-dir", str(template)],
            check=True, capture_output=True,
        )  # fmt: skip

        def cold_cache(label: str, run: int) -> Path:
            cache = work / f"{label}-{run}"
            cache.mkdir()
            shutil.copy(template / "advisories.sqlite3", cache / "advisories.sqlite3")
            return cache

        base = [sys.executable, "-m", "vulnsweep", "-r", str(lock), "--offline",
                "--index-url", args.index_url, "--max-db-age", "100000"]  # fmt: skip
        rows: dict[str, list[tuple[float, float]]] = {
            "audit": [], "plan": [], "plan warm": [], "uv compile": []
        }  # fmt: skip
        plan: dict[str, object] = {}
        for run in range(args.repeat):
            cache = cold_cache("audit", run)
            seconds, peak, _ = timed([*base, "--cache-dir", str(cache)])
            rows["audit"].append((seconds, peak))
            cache = cold_cache("plan", run)
            report = work / f"plan-{run}.json"
            command = [*base, "--cache-dir", str(cache), "--fix", "--dry-run", "-f", "json",
                       "-o", str(report)]  # fmt: skip
            seconds, peak, _ = timed(command)
            rows["plan"].append((seconds, peak))
            seconds, peak, _ = timed(command)
            rows["plan warm"].append((seconds, peak))
            [plan] = json.loads(report.read_text())["fix_plan"]
            # The re-lock a user would otherwise run by hand: uv from a cold cache.
            relock = [
                str(UV), "pip", "compile", str(args.input), "--generate-hashes", "-q",
                "--python-version", "3.11", "--index-url", args.index_url,
                "--cache-dir", str(work / f"uv-{run}"), "-o", str(work / "relock.txt"),
            ]  # fmt: skip
            seconds, peak, _ = timed(relock)
            rows["uv compile"].append((seconds, peak))
        changes = plan["changes"]
        assert isinstance(changes, list)
        fixed = sum(1 for c in changes if c["closes"])
        print(
            f"{args.input.name} locked as of {args.as_of}: {pins} pins; plan moves {len(changes)} "
            f"({fixed} vulnerable), blocks {len(plan['blocked'])}"
        )  # type: ignore[arg-type]
        audit = sorted(s for s, _ in rows["audit"])[len(rows["audit"]) // 2]
        for label, measured in rows.items():
            seconds = sorted(s for s, _ in measured)[len(measured) // 2]
            peak = max(p for _, p in measured)
            print(f"{label:>10}: {seconds:6.2f} s median of {len(measured)}, peak "
                  f"{peak:5.0f} MB, {seconds / audit:4.1f}x the cold audit")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
