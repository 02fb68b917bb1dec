"""Resolve and audit an unpinned 50-line requirements file: vulnsweep against
pip-audit's default `-r` path (a virtualenv running `pip install --dry-run --report`).

    python -m benchmarks.resolve [--latency 0.05] [--repeat 3]

Both tools use the same local package index (real PyPI metadata captured in
tests/data/index/) and the same local OSV server, each with the injected latency;
the harness checks that they resolve the same releases and report the same findings.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from tests.servers.index import IndexFaults, IndexServer
from tests.servers.osv import Faults, OsvDatabase, OsvServer

from benchmarks.run import Measure, pip_audit_like, run_series, uncovered, which

# 50 requirements as a service's requirements.in would hold them: mostly bare names,
# some ranges that keep old (vulnerable) releases, extras, and deep trees.
REQUIREMENTS = """\
alembic
amqp
anyio
asgiref
attrs
billiard
blinker
boto3
celery
certifi
cffi
charset-normalizer
click
colorama
cryptography
django>=5.1,<5.2
flask<2.3.2
greenlet
gunicorn
h11
httpx
idna
itsdangerous
jinja2
jmespath
jsonschema
kombu
mako
markdown
markdown-it-py
markupsafe
packaging
pillow
prompt-toolkit
pygments
pyjwt[crypto]
python-dateutil
pytz
pyyaml
referencing
requests[socks]<2.31
rich
six
sqlalchemy
sqlparse
tomli
typing-extensions
tzdata
urllib3<2.0.6
werkzeug<3.0.1
"""


def resolved_pins(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text())
    return {d["name"]: d["version"] for d in data["dependencies"] if "version" in d}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    assert len(REQUIREMENTS.splitlines()) == 50

    work = Path(tempfile.mkdtemp(prefix="vulnsweep-resolve-bench-"))
    requirements = work / "requirements.in"
    requirements.write_text(REQUIREMENTS)
    print(f"resolve+audit benchmark: 50 unpinned requirements, {args.latency * 1000:.0f} ms "
          f"latency on the index and on OSV; work dir {work}", flush=True)  # fmt: skip
    db = OsvDatabase.from_zip()
    with IndexServer() as index, OsvServer(db) as osv:
        index.reset(IndexFaults(latency=args.latency))
        osv.reset(Faults(latency=args.latency), page_size=0)
        vulnsweep = which("vulnsweep") or "vulnsweep"
        common = ["-r", str(requirements), "--index-url", index.url, "--osv-url", osv.url,
                  "-f", "json", "--progress-spinner", "off"]  # fmt: skip
        cold = run_series(
            Measure("vulnsweep cold"),
            args.repeat,
            lambda rep: [vulnsweep, *common, "--cache-dir", str(work / f"cold-{rep}")],
            pip_audit_like,
            work,
        )
        cold_requests = sum(index.hits.values()) // max(1, args.repeat)
        index.reset(IndexFaults(latency=args.latency))
        warm = run_series(
            Measure("vulnsweep warm"),
            args.repeat,
            lambda rep: [vulnsweep, *common, "--cache-dir", str(work / "cold-0")],
            pip_audit_like,
            work,
        )
        warm_requests = sum(index.hits.values())
        pins = resolved_pins(work / "vulnsweep-cold-0.json")

        pip_audit = which("pip-audit")
        pa = None
        # pip inside pip-audit's virtualenv must see the local index only, not this
        # machine's pip.conf mirrors or find-links.
        isolated = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        isolated["PIP_CONFIG_FILE"] = os.devnull
        if pip_audit:
            pa = run_series(
                Measure("pip-audit -r"),
                1,
                lambda rep: [
                    pip_audit,
                    "-r",
                    str(requirements),
                    "--index-url",
                    index.url,
                    "-s",
                    "osv",
                    "--osv-url",
                    f"{osv.url}/v1/query",
                    "-f",
                    "json",
                    "--progress-spinner",
                    "off",
                    "--cache-dir",
                    str(work / "pa-cache"),
                ],
                pip_audit_like,
                work,
                env=isolated,
            )
        else:
            print("  pip-audit not installed: `make bench` installs it (the bench extra)")

    print(f"\n  resolved {len(pins)} releases; cold run asked the index {cold_requests} "
          f"times, warm runs {warm_requests} times in total")  # fmt: skip
    for m in (cold, warm, pa):
        if m is not None and m.seconds:
            print(f"  {m.label:<20} median {m.median:7.3f}s  peak {max(m.peak_mb):5.0f} MB  "
                  f"findings {len(m.findings or ())}")  # fmt: skip
    if pa is not None and pa.seconds and cold.seconds:
        print(f"\n  pip-audit -r / vulnsweep cold: {pa.median / cold.median:.1f}x (target >= 10x)")
        pa_pins = resolved_pins(work / "pip-audit--r-0.json")
        same = pa_pins == pins
        print(f"  same resolved set as pip-audit: {same}")
        if not same:
            for name in sorted(set(pa_pins) | set(pins)):
                if pa_pins.get(name) != pins.get(name):
                    print(f"    {name}: pip-audit {pa_pins.get(name)} vulnsweep {pins.get(name)}")
        missing = uncovered(pa.findings or set(), cold.findings or set())
        extra = uncovered(cold.findings or set(), pa.findings or set())
        print(f"  findings only pip-audit has: {len(missing)}; only vulnsweep has: {len(extra)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
