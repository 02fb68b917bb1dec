"""Resolution against `uv pip compile` on the same local index, in both index modes.

    python -m benchmarks.resolution [--latency 0.05] [--repeat 3]
    python -m benchmarks.resolution --real-index [--repeat 5]   # needs the network

Inputs (benchmarks/data): warehouse's dependencies (170 releases resolved) and a
heavy-backtracking set (`urllib3<1.25.4` + `boto3`: ~1,400 boto3/botocore releases
walked back through). The local index serves real PyPI data captured by
benchmarks/capture.py, with 50 ms per request, either with PEP 658 metadata or with
none at all (no metadata files, no JSON API: metadata must come out of the wheels by
range requests, as on the PyPI reachable here and many mirrors). Each tool runs cold
(empty cache) and warm; vulnsweep resolves only (`--dry-run`), and its resolved set is
checked against uv's. Ratios against the issue's targets are printed at the end.

`--real-index` instead resolves warehouse cold against the real index (PyPI, which
serves no PEP 658 metadata here), each round vulnsweep then uv, both with an empty
cache; the target is vulnsweep <= 1.0x uv's median.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from tests.servers.index import IndexFaults, IndexServer
from tests.servers.osv import DATA_ZIP

from benchmarks.run import Measure, timed, which

DATA = Path(__file__).resolve().parent / "data"
MODES = {
    "PEP 658": {},
    "no metadata": {"advertise_metadata": False, "json_api": False, "files": True},
}
TARGETS = {  # input -> (cold / uv cold, warm / uv warm)
    "warehouse": (1.5, 0.5),
    "backtrack": (3.0, None),
}


def uv_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def vulnsweep_pins(vulnsweep: str, common: list[str], cache: Path) -> dict[str, str]:
    out = subprocess.run(
        [
            vulnsweep,
            *common,
            "--cache-dir",
            str(cache),
            "--offline",
            "-f",
            "json",
            "--max-db-age",
            "100000",
        ],
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out) if out.startswith("{") else {"dependencies": []}
    return {d["name"]: d["version"] for d in data["dependencies"] if "version" in d}


def series(label: str, repeat: int, argv: list[str], *, fresh: list[Path]) -> Measure:
    """`fresh` is removed before each run: the cache for a cold run, and uv's output
    file always (uv pip compile prefers the pins of an existing output file, which
    would spare it the very backtracking being measured)."""
    measure = Measure(label)
    for rep in range(repeat):
        for path in fresh:
            subprocess.run(["rm", "-rf", str(path)], check=True)
        seconds, peak, code = timed(argv)
        if code not in (0, 1):
            measure.note = f"exit {code}"
            print(f"    {label}: exit {code}", flush=True)
            return measure
        measure.seconds.append(seconds)
        measure.peak_mb.append(peak)
        print(f"    {label} #{rep + 1}: {seconds:.3f}s, {peak:.0f} MB", flush=True)
    return measure


def real_index(vulnsweep: str, uv: str | None, repeat: int) -> int:
    """Cold warehouse against the real index, interleaved so both see the same network."""
    if uv is None:
        print("uv is not installed: nothing to compare with")
        return 1
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-real-index-"))
    requirements = DATA / "warehouse.in"
    target = ["--python-version", "3.11"]
    ours, theirs = Measure("vulnsweep cold"), Measure("uv cold")
    out = work / "uv.txt"
    for rep in range(repeat):
        cache = work / "vs"
        subprocess.run(["rm", "-rf", str(cache), str(work / "uv"), str(out)], check=True)
        seconds, peak, code = timed(
            [vulnsweep, "-r", str(requirements), *target, "--platform", "linux",
             "--progress-spinner", "off", "--dry-run", "--cache-dir", str(cache)]
        )  # fmt: skip
        ours.seconds.append(seconds)
        ours.peak_mb.append(peak)
        their_seconds, their_peak, their_code = timed(
            [uv, "pip", "compile", str(requirements), *target, "--python-platform",
             "x86_64-manylinux_2_28", "--cache-dir", str(work / "uv"), "-q", "--no-header",
             "-o", str(out)]
        )  # fmt: skip
        theirs.seconds.append(their_seconds)
        theirs.peak_mb.append(their_peak)
        print(
            f"  #{rep + 1}: vulnsweep {seconds:.2f}s {peak:.0f} MB (exit {code}) | "
            f"uv {their_seconds:.2f}s {their_peak:.0f} MB (exit {their_code})",
            flush=True,
        )
    # The resolved sets, from the last cold cache (with an offline database to print).
    cache = work / "vs"
    subprocess.run(
        [vulnsweep, "db", "import", str(DATA_ZIP), "--cache-dir", str(cache)],
        check=True,
        capture_output=True,
    )
    pins = vulnsweep_pins(
        vulnsweep, ["-r", str(requirements), *target, "--platform", "linux"], cache
    )
    theirs_pins = uv_pins(out)
    different = sorted(k for k in set(pins) | set(theirs_pins) if pins.get(k) != theirs_pins.get(k))
    ratio = ours.median / theirs.median
    print(
        f"\nwarehouse cold against the real index (medians of {repeat}): vulnsweep "
        f"{ours.median:.2f}s, uv {theirs.median:.2f}s: {ratio:.2f}x (target <= 1.0x); "
        f"{len(pins)} releases; differs from uv on {len(different)}: "
        + ", ".join(f"{k} {pins.get(k)}/{theirs_pins.get(k)}" for k in different)
    )
    return 1 if ratio > 1.0 else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--real-index", action="store_true", help="warehouse against PyPI")
    args = parser.parse_args(argv)
    vulnsweep = which("vulnsweep") or "vulnsweep"
    uv = which("uv")
    if args.real_index:
        return real_index(vulnsweep, uv, args.repeat)
    work = Path(tempfile.mkdtemp(prefix="vulnsweep-resolution-bench-"))
    # An offline database just to print each resolved set (those runs are not timed).
    subprocess.run(
        [
            vulnsweep,
            "db",
            "import",
            str(DATA_ZIP),
            "--cache-dir",
            str(work / "db"),
        ],
        check=True,
        capture_output=True,
    )
    rows = []
    with IndexServer(DATA / "index") as index:
        for name in TARGETS:
            requirements = DATA / f"{name}.in"
            for mode, faults in MODES.items():
                print(f"{name}, {mode}, {args.latency * 1000:.0f} ms per request:", flush=True)
                index.reset(IndexFaults(latency=args.latency, **faults))  # type: ignore[arg-type]
                slug = f"{name}-{mode.replace(' ', '-')}"
                cache = work / f"vs-{slug}"
                common = ["-r", str(requirements), "--index-url", index.url,
                          "--python-version", "3.11", "--platform", "linux",
                          "--progress-spinner", "off"]  # fmt: skip
                ours = [vulnsweep, *common, "--dry-run", "--cache-dir", str(cache)]
                cold = series("vulnsweep cold", args.repeat, ours, fresh=[cache])
                requests = sum(index.hits[k] for k in ("simple", "files", "metadata", "pypi"))
                requests //= max(1, args.repeat)
                warm = series("vulnsweep warm", args.repeat, ours, fresh=[])
                db = work / "db" / "advisories.sqlite3"
                (cache / "advisories.sqlite3").write_bytes(db.read_bytes())
                pins = vulnsweep_pins(vulnsweep, common, cache)
                uv_cold = uv_warm = None
                same = None
                if uv:
                    uv_cache = work / f"uv-{slug}"
                    out = work / f"uv-{slug}.txt"
                    theirs = [uv, "pip", "compile", str(requirements), "--index-url",
                              index.url, "--python-version", "3.11", "--python-platform",
                              "x86_64-manylinux_2_28", "--cache-dir", str(uv_cache), "-q",
                              "--no-header", "-o", str(out)]  # fmt: skip
                    uv_cold = series("uv cold", args.repeat, theirs, fresh=[uv_cache, out])
                    uv_warm = series("uv warm", args.repeat, theirs, fresh=[out])
                    theirs_pins = uv_pins(out)
                    same = theirs_pins == pins
                    if not same:
                        for key in sorted(set(pins) | set(theirs_pins)):
                            if pins.get(key) != theirs_pins.get(key):
                                print(f"    {key}: vulnsweep {pins.get(key)}, uv "
                                      f"{theirs_pins.get(key)}")  # fmt: skip
                rows.append((name, mode, cold, warm, uv_cold, uv_warm, len(pins), same, requests))
    print(f"\nresolution vs uv pip compile, {args.latency * 1000:.0f} ms per request (medians):")
    failed = False
    for name, mode, cold, warm, uv_cold, uv_warm, count, same, requests in rows:
        line = (
            f"  {name:<10} {mode:<12} {count:>4} releases, {requests:>5} requests cold | "
            f"vulnsweep cold {cold.median:6.2f}s warm {warm.median:6.2f}s"
        )
        if uv_cold is not None and uv_warm is not None and uv_cold.seconds:
            cold_target, warm_target = TARGETS[name]
            cold_ratio = cold.median / uv_cold.median
            line += (
                f" | uv cold {uv_cold.median:6.2f}s warm {uv_warm.median:6.2f}s | "
                f"cold {cold_ratio:.2f}x (target <= {cold_target}x)"
            )
            failed |= cold_ratio > cold_target
            if warm_target is not None:
                warm_ratio = warm.median / uv_warm.median
                line += f", warm {warm_ratio:.2f}x (target <= {warm_target}x)"
                failed |= warm_ratio > warm_target
            line += f" | same set as uv: {same}"
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
