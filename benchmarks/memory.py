"""Memory budgets: peak RSS next to wall time for the inputs a huge monorepo brings.

    python -m benchmarks.memory [--skip corpora] [--corpora ../shared/corpora]

- a generated tree of 10,000 requirement files and 1,000,000 pins (and the same shape
  at 200,000 and 500,000 pins, to show how time and memory grow with pins);
- one 200,000-line requirements file of unique pins;
- `-R` over the shared corpora with resolution against the real index (PyPI, unless
  PIP_INDEX_URL says otherwise), cold and warm: this one needs the network.

Audits go to the local OSV server (real PyPA export). Each line says the target the
issue set; the exit code is 1 when a measured run misses one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tests.servers.osv import DATA_ZIP, OsvDatabase, OsvServer

from benchmarks.corpus import generate
from benchmarks.run import timed
from benchmarks.tree import write_tree

REPO = Path(__file__).resolve().parents[1]
TREE_SIZES = [(2_000, 200_000), (5_000, 500_000), (10_000, 1_000_000)]  # files, pins
TREE_TARGET_MB = 600.0
FILE_TARGET_MB = 400.0
CORPORA_TARGET_MB = 400.0


def vulnsweep(*args: str) -> list[str]:
    return [sys.executable, "-m", "vulnsweep", *args, "--progress-spinner", "off"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VULNSWEEP_")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", action="append", default=[], choices=["tree", "file", "corpora"])
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-memory-"))
    env = clean_env()
    db = OsvDatabase.from_zip()
    pins, _ = generate(db, 1700, 1 / 3, seed=42)
    rows: list[tuple[str, float, float, float | None, int]] = []
    mismatched = False

    def run(label: str, command: list[str], target: float | None, out: Path) -> None:
        seconds, peak, code = timed(command, env=env, stdout_path=out)
        rows.append((label, seconds, peak, target, code))
        budget = f" (target <= {target:.0f} MB)" if target else ""
        print(f"  {label}: {seconds:.2f}s, peak {peak:.0f} MB{budget}, exit {code}", flush=True)

    try:
        with OsvServer(db) as server:
            osv = ["--osv-url", server.url]
            if "tree" not in args.skip:
                for files, lines in TREE_SIZES:
                    root = work / f"tree-{lines}"
                    write_tree(root, pins, files=files, lines=lines)
                    cache = ["--cache-dir", str(work / f"cache-tree-{lines}")]
                    for state in ("cold", "warm"):
                        run(
                            f"tree of {files:,} files, {lines:,} pins, {state}",
                            vulnsweep("-R", str(root), "-f", "json", *osv, *cache),
                            TREE_TARGET_MB if lines == 1_000_000 else None,
                            work / "tree.json",
                        )
                    shutil.rmtree(root)
            if "file" not in args.skip:
                path = work / "requirements.txt"
                real = [(p.name, p.version) for p in pins]
                lines = real + [
                    (f"internal-pkg-{i:06d}", f"1.{i % 97}.{i % 13}")
                    for i in range(200_000 - len(real))
                ]
                path.write_text("".join(f"{n}=={v}\n" for n, v in lines))
                cache = work / "cache-file"
                for state in ("cold", "warm"):
                    run(
                        f"one file of 200,000 unique pins, {state}",
                        vulnsweep("-r", str(path), "-f", "json", *osv, "--cache-dir", str(cache)),
                        FILE_TARGET_MB,
                        work / "file.json",
                    )
        if "corpora" not in args.skip and args.corpora.is_dir():
            # Resolution against the real index; advisories from the vendored export
            # through the offline database (the OSV API may be out of reach).
            cache = work / "cache-corpora"
            imported = [sys.executable, "-m", "vulnsweep", "db", "import", str(DATA_ZIP)]
            if timed([*imported, "--cache-dir", str(cache)], env=env)[2] != 0:
                raise SystemExit("could not import the vendored advisory export")
            command = ["-R", str(args.corpora), "--offline", "--max-db-age", "1000000"]
            command += ["-f", "json", "--cache-dir", str(cache)]
            for state in ("cold", "warm"):
                run(
                    f"-R {args.corpora.name} with resolution, {state}",
                    vulnsweep(*command),
                    CORPORA_TARGET_MB,
                    work / f"corpora-{state}.json",
                )
            cold, warm = (findings(work / f"corpora-{s}.json") for s in ("cold", "warm"))
            same = cold == warm
            mismatched |= not same
            print(f"  corpora findings, cold and warm: {len(cold):,} entries, "
                  f"{'identical' if same else 'DIFFERENT'}", flush=True)  # fmt: skip
        elif "corpora" not in args.skip:
            print(f"  corpora: {args.corpora} is not here; skipped")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nmemory (peak RSS) and time:")
    failed = False
    for label, seconds, peak, target, code in rows:
        verdict = ""
        if target is not None:
            verdict = "ok" if peak <= target else "OVER"
            failed |= peak > target
        print(f"  {label:<48} {seconds:7.2f}s {peak:7.0f} MB  exit {code}  {verdict}")
    return 1 if failed or mismatched else 0


def findings(report: Path) -> set[tuple[object, ...]]:
    """Each dependency's name, version, advisory ids and skip reason (the order of sets
    finishing may differ between runs; what was found may not)."""
    import json

    return {
        (d["name"], d.get("version"), tuple(sorted(v["id"] for v in d.get("vulns", []))),
         d.get("skip_reason"))
        for d in json.loads(report.read_text())["dependencies"]
    }  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
