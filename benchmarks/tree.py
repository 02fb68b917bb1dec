"""A monorepo-shaped tree for the parse benchmark: many services, many pinned files.

Pins are drawn from the benchmark corpus (real names, real versions), so the same
pin recurs across files as it does in a real monorepo; a few lines carry hashes,
markers, comments and continuations so the slow path of the parser is exercised too.
"""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks.corpus import Pin


def write_tree(
    root: Path, pins: list[Pin], *, files: int = 2000, lines: int = 100_000, seed: int = 7
) -> int:
    """Write `files` requirement files holding `lines` lines in total; returns lines."""
    rng = random.Random(seed)
    per_file = lines // files
    written = 0
    for index in range(files):
        service = root / f"services/svc-{index // 4:04d}"
        name = (
            "requirements.txt",
            "requirements-dev.txt",
            "requirements/prod.txt",
            "constraints.txt",
        )[index % 4]
        path = service / name
        path.parent.mkdir(parents=True, exist_ok=True)
        out = ["# generated for the vulnsweep parse benchmark"]
        while len(out) < per_file:
            pin = rng.choice(pins)
            roll = rng.random()
            if roll < 0.05:
                out.append(f"{pin.name}=={pin.version} \\")
                out.append("    --hash=sha256:" + f"{rng.getrandbits(256):064x}")
            elif roll < 0.08:
                out.append(f'{pin.name}=={pin.version} ; python_version >= "3.8"')
            elif roll < 0.10:
                out.append(f"{pin.name}=={pin.version}  # via some-parent")
            else:
                out.append(f"{pin.name}=={pin.version}")
        path.write_text("\n".join(out[:per_file]) + "\n")
        written += per_file
    return written
