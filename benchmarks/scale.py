"""Memory at scale: a cold audit of 200,000 unique pins (one file, and a uv.lock of
the same size) against the local OSV server, reporting wall time and peak RSS.

    python -m benchmarks.scale [--pins 200000] [--target-mb 400]

Most pins are names no advisory mentions (a monorepo's internal and long-tail
packages); 600 are known-vulnerable releases from the real PyPA export, so the run
also fetches and merges real advisories. Exit 1 when a run exceeds the target.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from tests.servers.osv import OsvDatabase, OsvServer

from benchmarks.corpus import generate
from benchmarks.run import timed


def write_inputs(work: Path, db: OsvDatabase, size: int) -> tuple[Path, Path]:
    real, _ = generate(db, 600, 1.0, seed=3)
    pins = [(p.name, p.version) for p in real]
    pins += [(f"internal-pkg-{i:06d}", f"1.{i % 97}.{i % 13}") for i in range(size - len(pins))]
    requirements = work / "requirements.txt"
    requirements.write_text("".join(f"{n}=={v}\n" for n, v in pins))
    lock = work / "uv.lock"
    lock.write_text(
        'version = 1\nrequires-python = ">=3.10"\n\n'
        + "".join(
            f'[[package]]\nname = "{n}"\nversion = "{v}"\n'
            'source = { registry = "https://pypi.org/simple" }\n\n'
            for n, v in pins
        )
    )
    return requirements, lock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=int, default=200_000)
    parser.add_argument("--target-mb", type=float, default=400.0)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-scale-"))
    db = OsvDatabase.from_zip()
    requirements, lock = write_inputs(work, db, args.pins)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VULNSWEEP_")}
    worst = 0.0
    with OsvServer(db) as server:
        for label, inputs in [
            ("requirements.txt", ["-r", str(requirements)]),
            ("uv.lock", [str(lock)]),
        ]:
            for run in ("cold", "warm"):
                seconds, peak, code = timed(
                    [
                        sys.executable,
                        "-m",
                        "vulnsweep",
                        *inputs,
                        "-f",
                        "json",
                        "--progress-spinner",
                        "off",
                        "--osv-url",
                        server.url,
                        "--cache-dir",
                        str(work / f"cache-{label}"),
                    ],
                    env=env,
                    stdout_path=work / f"{label}-{run}.json",
                )
                worst = max(worst, peak)
                print(
                    f"scale: {args.pins} unique pins from {label}, {run}: {seconds:.2f}s, "
                    f"peak {peak:.0f} MB (target <= {args.target_mb:.0f} MB), exit {code}"
                )
    return 0 if worst <= args.target_mb else 1


if __name__ == "__main__":
    raise SystemExit(main())
