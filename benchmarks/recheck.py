"""Full audit vs `vulnsweep recheck` of a stored monorepo, after advisories changed.

    python -m benchmarks.recheck [--pins 20000] [--files 4000] [--changed 10]

A nightly job's question is "what changed since last night?". This measures both ways
of answering it on the same local OSV server (the real PyPA export, injected latency):
a full cold audit of a 4,000-file tree, then -- after `--changed` advisories are
revised or newly published -- a cold full audit again and a recheck from the `--state`
file (its own empty cache). It prints wall time and requests per endpoint for each,
and checks that the recheck and the full audit report the same findings.
"""

from __future__ import annotations

import argparse
import compileall
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.servers.osv import DATA_ZIP, REPO, Faults, OsvDatabase, OsvServer

from benchmarks.corpus import Pin, generate
from benchmarks.run import timed


def write_tree(root: Path, pins: list[Pin], files: int, seed: int) -> None:
    """`files` requirement files in services of four files each, every pin in one file
    (and a tenth of them in a second, as shared libraries are)."""
    rng = random.Random(seed)
    per_file = max(1, len(pins) // files)
    shared = rng.sample(pins, len(pins) // 10)
    for index in range(files):
        mine = pins[index * per_file : (index + 1) * per_file]
        mine += rng.sample(shared, min(1, len(shared)))
        service = root / f"services/svc-{index // 4:04d}"
        name = ("requirements.txt", "requirements-dev.txt", "requirements/prod.txt")[index % 3]
        path = service / name if index % 4 else service / "constraints.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{p.name}=={p.version}\n" for p in mine))


def change_advisories(db: OsvDatabase, report: dict[str, Any], count: int, seed: int) -> list[str]:
    """Revise `count - count // 5` advisories the tree is affected by (a new `modified`
    stamp and summary) and publish `count // 5` new ones against pinned versions."""
    rng = random.Random(seed)
    found = sorted(
        {(d["name"], d["version"], v["id"]) for d in report["dependencies"] for v in d["vulns"]}
    )
    picked = rng.sample(found, count)
    changed = []
    for index, (name, version, record_id) in enumerate(picked):
        if index < count - count // 5:
            record = {
                **db.records[record_id],
                "modified": "2026-11-28T03:00:00Z",
                "summary": f"revised: {db.records[record_id].get('summary', '')}",
            }
            changed.append(record_id)
        else:
            record = {
                "id": f"GHSA-bnch-{index:04d}-new0",
                "modified": "2026-11-28T03:00:00Z",
                "published": "2026-11-28T03:00:00Z",
                "summary": f"new advisory for {name}",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": name},
                        "versions": [version],
                    }
                ],
            }
            changed.append(record["id"])
        db.put(record)
    return changed


def findings(path: Path) -> set[tuple[str, str, str]]:
    data = json.loads(path.read_text())
    return {(d["name"], d["version"], v["id"]) for d in data["dependencies"] for v in d["vulns"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=4_000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    compileall.compile_dir(str(REPO / "src"), quiet=1)
    db = OsvDatabase.from_zip(DATA_ZIP)
    pins, vulnerable = generate(db, args.pins, 1 / 20, seed=args.seed)
    vulnsweep = [sys.executable, "-m", "vulnsweep"]
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-recheck-"))
    try:
        tree = work / "tree"
        write_tree(tree, pins, args.files, args.seed)
        state = work / "state.db"
        rows = []
        with OsvServer(db, faults=Faults(latency=args.latency)) as server:
            common = ["--osv-url", server.url, "-f", "json", "--progress-spinner", "off"]

            def run(label: str, extra: list[str], cache: str, out: Path) -> None:
                server.reset(Faults(latency=args.latency))
                seconds, peak, code = timed(
                    [*vulnsweep, *extra, *common, "--cache-dir", str(work / cache)],
                    stdout_path=out,
                )
                assert code in (0, 1), f"{label} exited {code}"
                hits = dict(server.hits)
                rows.append((label, seconds, peak, hits, len(findings(out))))

            run("full audit (cold), night 1", ["-R", str(tree), "--state", str(state)],
                "cache-1", work / "night1.json")  # fmt: skip
            report = json.loads((work / "night1.json").read_text())
            changed = change_advisories(db, report, args.changed, args.seed)
            run("full audit (cold), night 2", ["-R", str(tree)], "cache-2", work / "full2.json")
            run("recheck (cold cache), night 2", ["recheck", "--state", str(state)],
                "cache-3", work / "recheck2.json")  # fmt: skip
        same = findings(work / "full2.json") == findings(work / "recheck2.json")
        print(
            f"{args.pins} pins ({vulnerable} vulnerable) in {args.files} files; "
            f"{args.latency * 1000:.0f} ms per request; {len(changed)} advisories changed"
        )
        header = ("wall s", "peak MB", "querybatch", "query", "vulns", "findings")
        print(f"{'run':32} " + " ".join(f"{h:>10}" for h in header))
        for label, seconds, peak, hits, count in rows:
            print(
                f"{label:32} {seconds:10.2f} {peak:10.0f} {hits.get('querybatch', 0):10d} "
                f"{hits.get('query', 0):10d} {hits.get('vulns', 0):10d} {count:10d}"
            )
        full, recheck = rows[1][1], rows[2][1]
        print(f"recheck / full audit: {recheck / full:.3f}x wall")
        print(f"recheck reports the same findings as a full audit: {same}")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"(harness {time.perf_counter() - start:.0f} s)")
    sys.exit(code)
