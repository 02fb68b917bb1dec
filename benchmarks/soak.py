"""Soak: 20,000 unique pins in a 4,000-file tree, cold, against the local OSV server with
50 ms latency and a 1% transient fault rate.

    python -m benchmarks.soak [--pins 20000] [--files 4000] [--fault-rate 0.01]

Checks the answer equals a fault-free run's, reports wall time, peak memory, and how
many HTTP requests were made against the fault-free run's (the faults' retry cost).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
from pathlib import Path

from tests.servers.osv import Faults, OsvDatabase, OsvServer

from benchmarks.corpus import Pin, generate
from benchmarks.run import timed


def write_soak_tree(root: Path, pins: list[Pin], files: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    per_file = math.ceil(len(pins) / files)
    for index in range(files):
        own = pins[index * per_file : (index + 1) * per_file]
        shared = rng.sample(pins, 20)  # monorepos repeat pins across services
        path = root / f"svc-{index // 10:03d}" / f"requirements-{index % 10}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{p.name}=={p.version}\n" for p in own + shared))


def findings(path: Path) -> set[tuple[str, str, str]]:
    data = json.loads(path.read_text())
    return {
        (d["name"], d["version"], v["id"]) for d in data["dependencies"] for v in d.get("vulns", [])
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=4_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="vulnsweep-soak-"))
    db = OsvDatabase.from_zip()
    vulnerable_fraction = 600 / args.pins  # about as many as the export can supply
    pins, vulnerable = generate(db, args.pins, vulnerable_fraction, seed=5)
    write_soak_tree(work / "tree", pins, args.files)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VULNSWEEP_")}
    argv_base = [
        sys.executable,
        "-m",
        "vulnsweep",
        str(work / "tree"),
        "-R",
        "-f",
        "json",
        "--progress-spinner",
        "off",
    ]
    rate = args.fault_rate
    with OsvServer(db, faults=Faults(latency=args.latency)) as server:
        clean_out = work / "clean.json"
        timed(
            [*argv_base, "--osv-url", server.url, "--cache-dir", str(work / "c0")],
            env=env,
            stdout_path=clean_out,
        )
        fault_free = sum(server.hits.values())
        server.reset(
            Faults(
                latency=args.latency,
                error_rate=rate / 3,
                reset_rate=rate / 3,
                rate_limit_rate=rate / 3,
                retry_after="0",
                seed=9,
            )
        )
        out = work / "faulty.json"
        seconds, peak, code = timed(
            [*argv_base, "--osv-url", server.url, "--cache-dir", str(work / "c1")],
            env=env,
            stdout_path=out,
        )
        requests = sum(server.hits.values())
        kinds = ", ".join(f"{server.hits[k]} {k}" for k in ("querybatch", "query", "vulns"))
    clean, faulty = findings(clean_out), findings(out)
    print(
        f"soak: {len(pins)} unique pins ({vulnerable} vulnerable) in {args.files} files, "
        f"{args.latency * 1000:.0f} ms latency, {rate:.1%} transient faults"
    )
    print(f"  wall {seconds:.2f}s, peak {peak:.0f} MB (target < 300 MB), exit {code}")
    print(
        f"  requests {requests} ({kinds}); the fault-free run made {fault_free}: "
        f"{requests / fault_free:.2f}x"
    )
    same = clean == faulty and code == 1
    print(
        f"  findings {'identical to' if same else 'DIFFERENT FROM'} the fault-free run "
        f"({len(faulty)} findings)"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
