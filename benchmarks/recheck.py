"""Full audit vs `vulnsweep recheck` of a stored monorepo, after advisories changed.

    python -m benchmarks.recheck [--pins 20000] [--files 4000] [--changed 10]
    python -m benchmarks.recheck --pins 100000 --changed 50 --stores sqlite,postgresql

A nightly job's question is "what changed since last night?". This measures both ways
of answering it on the same local OSV server (the real PyPA export, injected latency):
a full cold audit of a 4,000-file tree, then -- after `--changed` advisories are
revised or newly published -- a cold full audit again and a recheck from the `--state`
file (its own empty cache). It prints wall time and requests per endpoint for each,
and checks that the recheck and the full audit report the same findings. With
`--stores sqlite,postgresql` the history is kept in each store in turn (PostgreSQL: a
throwaway local cluster from Debian's server binaries, or `--postgres URL`), and the
rechecks are printed side by side.
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
    parser.add_argument("--stores", default="sqlite", help="sqlite, postgresql or both (a,b)")
    parser.add_argument("--postgres", default="", help="a running server's URL")
    args = parser.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    compileall.compile_dir(str(REPO / "src"), quiet=1)
    db = OsvDatabase.from_zip(DATA_ZIP)
    pins, vulnerable = generate(db, args.pins, 1 / 20, seed=args.seed)
    vulnsweep = [sys.executable, "-m", "vulnsweep"]
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-recheck-"))
    try:
        tree = work / "tree"
        write_tree(tree, pins, args.files, args.seed)
        rows = []
        server_pg = None
        locations: dict[str, str] = {}
        for store in stores:
            if store == "sqlite":
                locations[store] = str(work / "state.db")
            else:
                from tests.servers.postgres import PostgresServer

                if server_pg is None:
                    server_pg = PostgresServer()
                    if args.postgres:
                        server_pg.url = args.postgres
                    server_pg.start()
                locations[store] = server_pg.database()
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

            for store, location in locations.items():
                run(f"full audit (cold), night 1, {store}", ["-R", str(tree), "--state", location],
                    f"cache-1-{store}", work / "night1.json")  # fmt: skip
            report = json.loads((work / "night1.json").read_text())
            changed = change_advisories(db, report, args.changed, args.seed)
            run("full audit (cold), night 2", ["-R", str(tree)], "cache-2", work / "full2.json")
            for store, location in locations.items():
                run(f"recheck (cold cache), {store}", ["recheck", "--state", location],
                    f"cache-3-{store}", work / f"recheck2-{store}.json")  # fmt: skip
        if server_pg is not None:
            server_pg.stop()
        same = all(
            findings(work / "full2.json") == findings(work / f"recheck2-{store}.json")
            for store in locations
        )
        print(
            f"{args.pins} pins ({vulnerable} vulnerable) in {args.files} files; "
            f"{args.latency * 1000:.0f} ms per request; {len(changed)} advisories changed"
        )
        header = ("wall s", "peak MB", "querybatch", "query", "vulns", "findings")
        print(f"{'run':44} " + " ".join(f"{h:>10}" for h in header))
        for label, seconds, peak, hits, count in rows:
            print(
                f"{label:44} {seconds:10.2f} {peak:10.0f} {hits.get('querybatch', 0):10d} "
                f"{hits.get('query', 0):10d} {hits.get('vulns', 0):10d} {count:10d}"
            )
        full = next(r[1] for r in rows if r[0].startswith("full audit (cold), night 2"))
        for label, seconds, *_ in rows:
            if label.startswith("recheck"):
                print(f"{label} / full audit: {seconds / full:.3f}x wall")
        print(f"recheck reports the same findings as a full audit: {same}")
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"(harness {time.perf_counter() - start:.0f} s)")
    sys.exit(code)
