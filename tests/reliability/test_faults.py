"""Faults injected by the local servers: transient ones change nothing, permanent ones
are named, bounded and never lose what was audited or poison the cache."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import orjson
import pytest

from tests.helpers import run_cli, spawn_cli
from tests.servers.osv import Faults, OsvServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "requirements.txt"

TRANSIENT = {
    "5xx": Faults(error_rate=0.3, error_status=503),
    "502-504": Faults(error_rate=0.3, error_status=504),
    "429 with Retry-After": Faults(rate_limit_rate=0.3, retry_after="0"),
    "429 without Retry-After": Faults(rate_limit_rate=0.3, retry_after=None),
    "reset mid-body": Faults(reset_rate=0.3),
    "truncated JSON": Faults(bad_json_rate=0.3),
    "wrong result count": Faults(wrong_count_rate=0.5),
    "slower than --timeout": Faults(hang_rate=0.15),
    "mixed": Faults(
        error_rate=0.1,
        rate_limit_rate=0.1,
        reset_rate=0.1,
        bad_json_rate=0.05,
        wrong_count_rate=0.1,
    ),
}


def audit_json(server: OsvServer, cache: Path, *extra: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    proc = run_cli(
        "-r",
        str(EXAMPLE),
        "-f",
        "json",
        "--osv-url",
        server.url,
        "--cache-dir",
        str(cache),
        "--timeout",
        "1",
        *extra,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    report = orjson.loads(proc.stdout) if proc.stdout else {}
    report.pop("generated_at", None)  # the only part two identical audits may differ in
    return proc.returncode, report, proc.stderr


@pytest.mark.parametrize("scenario", list(TRANSIENT))
@pytest.mark.parametrize("seed", [1, 2])
def test_transient_faults_give_the_clean_answer(
    osv_server: OsvServer,
    clean_report: dict,
    tmp_path: Path,  # type: ignore[type-arg]
    scenario: str,
    seed: int,
) -> None:
    faults = TRANSIENT[scenario]
    osv_server.reset(Faults(**{**faults.__dict__, "seed": seed}))
    code, report, stderr = audit_json(osv_server, tmp_path / "cache")
    assert code == 1, stderr
    assert report == clean_report


def test_permanent_querybatch_failure_names_the_service_and_caches_nothing(
    osv_server: OsvServer, tmp_path: Path
) -> None:
    osv_server.reset(Faults(fail_paths={"querybatch"}))
    code, report, stderr = audit_json(osv_server, tmp_path / "cache")
    assert code == 3
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"vulnsweep: error: OSV ({osv_server.url}/v1/querybatch): HTTP 500")
    assert last.endswith("19 of 19 dependencies could not be audited")
    assert len(report["dependencies"]) == 19
    assert all(
        d["skip_reason"].startswith("not audited: OSV query failed") for d in report["dependencies"]
    )
    info = run_cli("cache", "info", "--cache-dir", str(tmp_path / "cache"))
    assert "queries: 0\nrecords: 0\n" in info.stdout


def test_missing_advisory_keeps_everything_else(
    osv_server: OsvServer, tmp_path: Path, clean_report: dict
) -> None:  # type: ignore[type-arg]
    osv_server.reset(Faults(missing_ids={"PYSEC-2021-66"}))
    code, report, _stderr = audit_json(osv_server, tmp_path / "cache")
    assert code == 3
    expected = [d for d in clean_report["dependencies"] if d["name"] != "jinja2"]
    assert [d for d in report["dependencies"] if "vulns" in d] == expected
    (jinja,) = [d for d in report["dependencies"] if d["name"] == "jinja2"]
    assert "PYSEC-2021-66 not found (HTTP 404)" in jinja["skip_reason"]
    # The next run (fault gone) audits jinja2: its half answer was never cached.
    osv_server.reset()
    code, report, _ = audit_json(osv_server, tmp_path / "cache")
    assert code == 1 and report == clean_report
    assert osv_server.hits["querybatch"] == 1


def test_endless_pagination_and_deadline_always_end(osv_server: OsvServer, tmp_path: Path) -> None:
    osv_server.reset(Faults(repeat_token=True), page_size=1)
    code, report, stderr = audit_json(osv_server, tmp_path / "a")
    assert code == 3 and "pagination token repeated" in stderr
    osv_server.reset(Faults(hang_rate=1.0))
    start = time.monotonic()
    code, report, stderr = audit_json(
        osv_server, tmp_path / "b", "--deadline", "2", "--timeout", "30"
    )
    assert time.monotonic() - start < 20
    assert code == 3 and "--deadline of 2s exceeded" in stderr
    assert all(d["skip_reason"].startswith("not audited") for d in report["dependencies"])


def test_sigint_exits_130_and_leaves_output_untouched(
    osv_server: OsvServer, tmp_path: Path
) -> None:
    osv_server.reset(Faults(latency=5))
    out = tmp_path / "report.json"
    out.write_text("previous report")
    proc = spawn_cli(
        "-r",
        str(EXAMPLE),
        "-o",
        str(out),
        "--osv-url",
        osv_server.url,
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "vulnsweep: interrupted"
    assert "Traceback" not in stderr
    assert out.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "report.json"]
    info = run_cli("cache", "info", "--cache-dir", str(tmp_path / "cache"))
    assert info.returncode == 0


def test_eight_processes_share_one_cache(
    osv_server: OsvServer, tmp_path: Path, clean_report: dict
) -> None:  # type: ignore[type-arg]
    osv_server.reset(Faults(latency=0.02))
    lines = EXAMPLE.read_text().splitlines()
    inputs = []
    for index in range(8):
        path = tmp_path / f"r{index}.txt"
        path.write_text("\n".join(lines[index : index + 14]) + "\n")
        inputs.append(path)
    procs = [
        spawn_cli(
            "-r",
            str(p),
            "-f",
            "json",
            "--osv-url",
            osv_server.url,
            "--cache-dir",
            str(tmp_path / "shared"),
        )
        for p in inputs
    ]
    expected = {d["name"]: d["vulns"] for d in clean_report["dependencies"]}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode in (0, 1), stderr
        assert "locked" not in stderr and "Traceback" not in stderr
        for dep in orjson.loads(stdout)["dependencies"]:
            assert dep["vulns"] == expected[dep["name"]]
    # And the shared cache now answers the whole example with no request.
    osv_server.reset()
    code, _report, _ = audit_json(osv_server, tmp_path / "shared")
    assert (code, sum(osv_server.hits.values())) == (1, 0)


def test_secrets_never_printed_even_at_debug(osv_server: OsvServer, tmp_path: Path) -> None:
    sentinel = "s3ntinel-pa55word"
    host = osv_server.url.split("://", 1)[1]
    osv_server.reset(Faults(error_rate=0.3, seed=3))
    proc = run_cli(
        "-r",
        str(EXAMPLE),
        "-vv",
        "-f",
        "json",
        "--osv-url",
        f"http://user:{sentinel}@{host}",
        "--cache-dir",
        str(tmp_path / "c"),
        "--check-status",
        "--index-url",
        f"http://token:{sentinel}@{host}/simple",
    )
    assert proc.returncode == 1, proc.stderr
    assert "DEBUG" in proc.stderr
    assert sentinel not in proc.stdout + proc.stderr
    osv_server.reset(Faults(fail_paths={"querybatch"}))
    failed = run_cli(
        "-r",
        str(EXAMPLE),
        "-vv",
        "--osv-url",
        f"http://user:{sentinel}@{host}",
        "--cache-dir",
        str(tmp_path / "d"),
    )
    assert failed.returncode == 3
    assert sentinel not in failed.stdout + failed.stderr
    assert "user:****@" not in failed.stderr and "****@" in failed.stderr


def test_tls_is_verified_and_a_ca_bundle_can_be_given(osv_db: object, tmp_path: Path) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with OsvServer(osv_db, ssl_context=context) as server:  # type: ignore[arg-type]
        untrusted = run_cli(
            "-r", str(EXAMPLE), "--osv-url", server.url, "--cache-dir", str(tmp_path / "a")
        )
        assert untrusted.returncode == 3
        assert "certificate verify failed" in untrusted.stderr.lower()
        trusted = run_cli(
            "-r",
            str(EXAMPLE),
            "--osv-url",
            server.url,
            "--cache-dir",
            str(tmp_path / "b"),
            "--cert",
            str(bundle),
        )
        assert trusted.returncode == 1, trusted.stderr
        assert trusted.stderr == "Found 22 known vulnerabilities in 9 packages\n"


def test_no_package_code_is_ever_run(osv_server: OsvServer, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    project = tmp_path / "evil"
    project.mkdir()
    payload = f"open({str(marker)!r}, 'w').write('ran')\n"
    (project / "setup.py").write_text(payload)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "evil"\nversion = "1"\ndynamic = ["dependencies"]\n'
    )
    site = tmp_path / "site"
    (site / "evil-1.dist-info").mkdir(parents=True)
    (site / "evil-1.dist-info" / "METADATA").write_text("Name: evil\nVersion: 1\n")
    (site / "evil.pth").write_text(f"import os; {payload}")
    req = tmp_path / "r.txt"
    req.write_text(f"{project}\n-e {project}\nevil @ file://{project}\nsix==1.16.0\n")
    # Where only a build could tell (a file:// reference, dynamic dependencies), the
    # run names it and exits 3; nothing is ever built or run.
    for argv, code in (
        (["-r", str(req)], 3),
        ([str(project)], 3),
        ([str(project / "pyproject.toml")], 3),
        (["--path", str(site)], 0),
        ([str(tmp_path), "-R"], 3),
    ):
        proc = run_cli(*argv, "--osv-url", osv_server.url, "--cache-dir", str(tmp_path / "c"))
        assert proc.returncode == code, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert not marker.exists(), argv
