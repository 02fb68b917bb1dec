"""Time vulnsweep against pip-audit and uv audit on the same local OSV server.

    python -m benchmarks.run [--pins 1700] [--latency 0.05] [--repeat 3]

Everything runs in one invocation so the ratios compare like with like on a noisy
machine: one server (real PyPA export, injected latency), one generated corpus, each
tool a subprocess timed by wall clock with its own peak RSS (wait4). It also checks
that every tool reports the same (package, version, advisory) triples.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.osv import DATA_ZIP, REPO, Faults, OsvDatabase, OsvServer

from benchmarks.corpus import generate, write_requirements, write_uv_project

# (package, version, every id the finding is known by): tools may pick different
# primary ids or merge aliases differently, so agreement is checked on overlap.
Finding = tuple[str, str, frozenset[str]]
Triples = set[Finding]


@dataclass
class Measure:
    label: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds
    requests: int | None = None  # what the server saw in the last run
    connections: int | None = None  # over TLS: handshakes
    findings: Triples | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


GNU_TIME = Path("/usr/bin/time")


def timed(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdout_path: Path | None = None,
) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one subprocess.

    Peak RSS comes from GNU time when it is installed: wait4() on a child forked from
    this (large) harness would count the harness's own pages in the child's peak.
    """
    rss_file = None
    if GNU_TIME.exists():
        rss_file = Path(tempfile.mkstemp(prefix="rss-")[1])
        argv = [str(GNU_TIME), "-f", "%M %U %S", "-o", str(rss_file), *argv]
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    finally:
        if stdout_path:
            out.close()  # type: ignore[union-attr]
    code = os.waitstatus_to_exitcode(status)
    peak_kb = float(usage.ru_maxrss)
    global last_cpu_seconds
    last_cpu_seconds = usage.ru_utime + usage.ru_stime
    if rss_file is not None:
        text = rss_file.read_text().strip().splitlines()
        rss_file.unlink()
        fields = text[-1].split() if text else []
        if len(fields) == 3:
            peak_kb = float(fields[0])
            last_cpu_seconds = float(fields[1]) + float(fields[2])
            # GNU time reports the command's own exit status in its first line.
            if text[0].startswith("Command exited with non-zero status"):
                code = int(text[0].rsplit(" ", 1)[1])
    return elapsed, peak_kb / 1024, code


last_cpu_seconds = 0.0  # user + system CPU of the last `timed` command


def pip_audit_like(path: Path) -> Triples:
    data = json.loads(path.read_text())
    return {
        (d["name"], d["version"], frozenset([v["id"], *v.get("aliases", [])]))
        for d in data["dependencies"]
        for v in d.get("vulns", [])
    }


def uv_triples(path: Path) -> Triples:
    data = json.loads(path.read_text())
    return {
        (
            v["dependency"]["name"],
            v["dependency"]["version"],
            frozenset([v["id"], *v.get("aliases", [])]),
        )
        for v in data.get("vulnerabilities", [])
    }


def uncovered(a: Triples, b: Triples) -> list[Finding]:
    """Findings of `a` that no finding of `b` on the same package version shares an id with."""
    by_dep: dict[tuple[str, str], list[frozenset[str]]] = {}
    for name, version, ids in b:
        by_dep.setdefault((name, version), []).append(ids)
    return sorted(
        (f for f in a if not any(f[2] & ids for ids in by_dep.get((f[0], f[1]), []))),
        key=lambda f: (f[0], f[1], sorted(f[2])),
    )


def which(tool: str) -> str | None:
    here = Path(sys.executable).parent / tool
    return str(here) if here.exists() else shutil.which(tool)


def run_series(
    measure: Measure,
    repeat: int,
    make_argv: Callable[[int], list[str]],
    parse: Callable[[Path], Triples],
    work: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ok_codes: tuple[int, ...] = (0, 1),
    server: OsvServer | None = None,
) -> Measure:
    for rep in range(repeat):
        out = work / f"{measure.label.replace(' ', '-')}-{rep}.json"
        if server is not None:
            server.hits.clear()
            server.connections.clear()
        seconds, peak, code = timed(make_argv(rep), env=env, cwd=cwd, stdout_path=out)
        if server is not None:
            measure.requests = sum(server.hits.values()) - server.hits["429"]
            measure.connections = len(server.connections)
        if code not in ok_codes:
            measure.note = f"exit code {code}"
            print(f"  {measure.label}: exit {code}; see {out}", flush=True)
            return measure
        measure.seconds.append(seconds)
        measure.peak_mb.append(peak)
        measure.cpu.append(last_cpu_seconds)
        measure.findings = parse(out)
        print(f"  {measure.label} #{rep + 1}: {seconds:.3f}s, {peak:.0f} MB", flush=True)
    return measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=int, default=1700)
    parser.add_argument("--vulnerable-fraction", type=float, default=1 / 3)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pip-audit-repeat",
        type=int,
        default=1,
        help="pip-audit makes one request per pin; 1 run is plenty",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["pip-audit", "uv", "tree"],
        help="leave a part out",
    )
    parser.add_argument("--tree-files", type=int, default=2000)
    parser.add_argument(
        "--wide-concurrency",
        type=int,
        default=1000,
        help="also time a cold run at this --concurrency (0: skip)",
    )
    parser.add_argument("--tree-lines", type=int, default=100_000)
    parser.add_argument(
        "--tls", action="store_true", help="serve over HTTPS (a trustme CA), as api.osv.dev is"
    )
    args = parser.parse_args(argv)

    # A wheel install ships compiled bytecode; an editable checkout under
    # PYTHONDONTWRITEBYTECODE would recompile every module on every run.
    compileall.compile_dir(str(REPO / "src" / "vulnsweep"), quiet=1)

    work = Path(tempfile.mkdtemp(prefix="vulnsweep-bench-"))
    print(f"loading the advisory export; work dir {work}", flush=True)
    db = OsvDatabase.from_zip()
    pins, vulnerable = generate(db, args.pins, args.vulnerable_fraction, args.seed)
    requirements = work / "requirements.txt"
    write_requirements(pins, requirements)
    measures: list[Measure] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VULNSWEEP_", "PIP_AUDIT_"))}
    ssl_context = None
    if args.tls:
        # As api.osv.dev is reached in real life: every new connection pays a handshake.
        import trustme

        authority = trustme.CA()
        ssl_context = __import__("ssl").create_default_context(
            __import__("ssl").Purpose.CLIENT_AUTH
        )
        authority.issue_cert("127.0.0.1").configure_cert(ssl_context)
        bundle = work / "ca.pem"
        authority.cert_pem.write_to_path(str(bundle))
        env |= {"SSL_CERT_FILE": str(bundle), "REQUESTS_CA_BUNDLE": str(bundle)}

    # The round-trip floor of a cold audit: start-up, one querybatch round trip, one
    # hydration round trip. Start-up is what `vulnsweep --version` takes here.
    startup = statistics.median(
        timed([sys.executable, "-m", "vulnsweep", "--version"], env=env)[0] for _ in range(5)
    )
    floor = startup + 2 * args.latency
    with OsvServer(db, faults=Faults(latency=args.latency), ssl_context=ssl_context) as server:
        print(
            f"corpus: {len(pins)} unique pins, {vulnerable} known-vulnerable; "
            f"server {server.url} with {args.latency * 1000:.0f} ms latency",
            flush=True,
        )
        vulnsweep = [
            sys.executable,
            "-m",
            "vulnsweep",
            "-r",
            str(requirements),
            "-f",
            "json",
            "--osv-url",
            server.url,
            "--progress-spinner",
            "off",
        ]
        cold = run_series(
            Measure("vulnsweep cold"),
            args.repeat,
            lambda rep: [*vulnsweep, "--cache-dir", str(work / f"cold-{rep}")],
            pip_audit_like,
            work,
            env=env,
            server=server,
        )
        server.hits.clear()
        timed([*vulnsweep, "--cache-dir", str(work / "warm")], env=env)  # a cold run: warms
        cold_hits = dict(server.hits)
        warm = run_series(
            Measure("vulnsweep warm"),
            args.repeat,
            lambda rep: [*vulnsweep, "--cache-dir", str(work / "warm")],
            pip_audit_like,
            work,
            env=env,
            server=server,
        )
        measures += [cold, warm]
        print(
            f"  vulnsweep cold made {sum(cold_hits.values())} requests "
            f"({cold_hits.get('querybatch', 0)} querybatch, {cold_hits.get('query', 0)} query, "
            f"{cold_hits.get('vulns', 0)} vulns)"
        )

        def cold_variant(label: str, *extra: str) -> Measure:
            """Another cold run (empty cache each time) with extra flags."""
            tag = label.replace(" ", "-").replace("=", "")
            measure = run_series(
                Measure(f"vulnsweep cold {label}"),
                args.repeat,
                lambda rep: [*vulnsweep, *extra, "--cache-dir", str(work / f"{tag}-{rep}")],
                pip_audit_like,
                work,
                env=env,
                server=server,
            )
            measures.append(measure)
            return measure

        wide = None
        if args.wide_concurrency:
            wide = cold_variant(
                f"c={args.wide_concurrency}", "--concurrency", str(args.wide_concurrency)
            )
        by_package = cold_variant("--hydrate packages", "--hydrate", "packages")

        offline_dir = work / "offline"
        import_runs = []
        for _ in range(args.repeat):
            shutil.rmtree(offline_dir, ignore_errors=True)
            seconds, peak, _code = timed(
                [
                    sys.executable,
                    "-m",
                    "vulnsweep",
                    "db",
                    "import",
                    str(DATA_ZIP),
                    "--cache-dir",
                    str(offline_dir),
                ],
                env=env,
            )
            import_runs.append((seconds, peak))
        db_import = Measure("db import", [r[0] for r in import_runs], [r[1] for r in import_runs])
        print(
            f"  db import of the export: {db_import.median:.3f}s, {max(db_import.peak_mb):.0f} MB",
            flush=True,
        )
        offline = run_series(
            Measure("vulnsweep offline"),
            args.repeat,
            lambda rep: [
                sys.executable,
                "-m",
                "vulnsweep",
                "-r",
                str(requirements),
                "-f",
                "json",
                "--offline",
                "--cache-dir",
                str(offline_dir),
            ],
            pip_audit_like,
            work,
            env=env,
        )
        pypi = run_series(
            Measure("vulnsweep -s pypi"),
            args.repeat,
            lambda rep: [
                *vulnsweep,
                "-s",
                "pypi",
                "--pypi-url",
                server.url,
                "--cache-dir",
                str(work / f"pypi-{rep}"),
            ],
            pip_audit_like,
            work,
            env=env,
            server=server,
        )
        measures += [offline, pypi]

        uv = which("uv")
        uv_cold = uv_warm = None
        if "uv" not in args.skip and uv:
            project = work / "uv-project"
            write_uv_project(pins, project, f"{server.url}/simple")
            uv_argv = [
                uv,
                "audit",
                "--frozen",
                "--service-url",
                server.url,
                "--default-index",
                f"{server.url}/simple",
                "--output-format",
                "json",
                "--preview-features",
                "audit-command",
                "--no-progress",
            ]
            uv_cold = run_series(
                Measure("uv audit cold"),
                args.repeat,
                lambda rep: uv_argv,
                uv_triples,
                work,
                env={**env, "UV_CACHE_DIR": str(work / "uv-cache-cold")},
                cwd=project,
                server=server,
            )
            # uv has no OSV cache of its own to warm; its HTTP cache is the warm state.
            uv_env = {**env, "UV_CACHE_DIR": str(work / "uv-cache-warm")}
            timed(uv_argv, env=uv_env, cwd=project)
            uv_warm = run_series(
                Measure("uv audit warm"),
                args.repeat,
                lambda rep: uv_argv,
                uv_triples,
                work,
                env=uv_env,
                cwd=project,
                server=server,
            )
            measures += [uv_cold, uv_warm]
        elif "uv" not in args.skip:
            print("  uv not installed: `make bench` installs it (the bench extra)")

        pip_audit = which("pip-audit")
        pa = None
        if "pip-audit" not in args.skip and pip_audit:
            pa = run_series(
                Measure("pip-audit"),
                args.pip_audit_repeat,
                lambda rep: [
                    pip_audit,
                    "-r",
                    str(requirements),
                    "-s",
                    "osv",
                    "--osv-url",
                    f"{server.url}/v1/query",
                    "--no-deps",
                    "--disable-pip",
                    "-f",
                    "json",
                    "--progress-spinner",
                    "off",
                    "--cache-dir",
                    str(work / f"pa-cache-{rep}"),
                ],
                pip_audit_like,
                work,
                env=env,
            )
            measures.append(pa)
        elif "pip-audit" not in args.skip:
            print("  pip-audit not installed: `make bench` installs it (the bench extra)")

    tree_report = ""
    if "tree" not in args.skip:
        from benchmarks.tree import write_tree

        tree_root = work / "tree"
        lines = write_tree(tree_root, pins, files=args.tree_files, lines=args.tree_lines)
        runs = []
        for _ in range(args.repeat):
            seconds, peak, _code = timed(
                [sys.executable, "-m", "vulnsweep", "--dry-run", "-R", str(tree_root)], env=env
            )
            runs.append((seconds, last_cpu_seconds, peak))
        cpu = statistics.median(r[1] for r in runs)
        tree_report = (
            f"tree parse: {args.tree_files} files, {lines} lines -> wall "
            f"{statistics.median(r[0] for r in runs):.3f}s, CPU {cpu:.3f}s "
            f"(whole process), peak {max(r[2] for r in runs):.0f} MB "
            "(target: well under 1 s CPU, < 200 MB)"
        )
        print(f"  {tree_report}", flush=True)

    print()
    handshakes = "handshakes" if args.tls else "connections"
    print(
        f"{'tool':<34} {'median s':>9} {'min s':>7} {'CPU s':>6} {'peak MB':>8} "
        f"{'requests':>9} {handshakes:>11} {'findings':>9}"
    )
    for m in measures:
        if not m.seconds:
            print(f"{m.label:<34} {'failed':>9}  {m.note}")
            continue
        count = len(m.findings) if m.findings is not None else 0
        requests = "" if m.requests is None else m.requests
        connections = "" if m.connections is None else m.connections
        print(
            f"{m.label:<34} {m.median:>9.3f} {min(m.seconds):>7.3f} "
            f"{statistics.median(m.cpu):>6.2f} {max(m.peak_mb):>8.0f} {requests:>9} "
            f"{connections:>11} {count:>9}"
        )
    print()

    def ratio(a: Measure | None, b: Measure | None, label: str, target: str) -> None:
        if a and b and a.seconds and b.seconds:
            print(f"{label:<40} {a.median / b.median:>7.3f}x   (target {target})")

    if tree_report:
        print(tree_report)
    ratio(cold, uv_cold, "vulnsweep cold / uv audit cold", "<= 0.35x")
    if cold.seconds:
        print(
            f"{'vulnsweep cold / round-trip floor':<40} {cold.median / floor:>7.3f}x   "
            f"(target <= 3x; floor {floor:.3f}s = start-up {startup:.3f}s + 2 x "
            f"{args.latency * 1000:.0f} ms)"
        )
    ratio(
        wide, uv_cold, f"vulnsweep cold c={args.wide_concurrency} / uv audit cold", "(informative)"
    )
    ratio(by_package, uv_cold, "vulnsweep cold --hydrate packages / uv cold", "(informative)")
    ratio(offline, warm, "vulnsweep offline / vulnsweep warm", "<= 1x")
    ratio(cold, offline, "vulnsweep cold / vulnsweep offline", ">= 20x")
    print(
        f"{'db import of the export':<40} {db_import.median:>7.3f}s  peak "
        f"{max(db_import.peak_mb):.0f} MB; offline audit peak {max(offline.peak_mb or [0]):.0f}"
        " MB (target < 300 MB)"
    )
    ratio(warm, uv_warm, "vulnsweep warm / uv audit warm", "<= 0.3x")
    if cold.peak_mb:
        print(f"{'vulnsweep cold peak memory':<40} {max(cold.peak_mb):>7.0f} MB (target <= 100 MB)")
    if pa and pa.seconds:
        print(
            f"{'pip-audit / vulnsweep cold':<40} {pa.median / cold.median:>7.1f}x   (target >= 30x)"
        )
    reference = cold.findings or set()
    agree = True
    for m in measures:
        if m.findings is None or m is cold:
            continue
        missing, extra = uncovered(reference, m.findings), uncovered(m.findings, reference)
        if missing or extra:
            agree = False
            print(
                f"MISMATCH {m.label}: it lacks {len(missing)} of vulnsweep's findings and "
                f"has {len(extra)} vulnsweep lacks, e.g. {(missing + extra)[:3]}"
            )
    if agree:
        counts = ", ".join(
            f"{m.label} {len(m.findings)}" for m in measures if m.findings is not None
        )
        print(
            "all tools agree on every (package, version, advisory) finding, matching "
            f"by id or alias ({counts}; counts differ only where a tool merges records "
            "that share an alias)"
        )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
