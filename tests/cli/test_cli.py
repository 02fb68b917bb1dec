"""The CLI as a user runs it: a subprocess, its exit code, stdout, stderr and files."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import orjson

from tests.helpers import run_cli, spawn_cli, unstamped
from tests.servers.osv import Faults, OsvServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "requirements.txt"


def args(server: OsvServer, cache: Path, *extra: str) -> list[str]:
    return ["--osv-url", server.url, "--cache-dir", str(cache), *extra]


def test_example_columns_exit_1_and_summary(osv_server: OsvServer, cache_dir: Path) -> None:
    proc = run_cli("-r", str(EXAMPLE), *args(osv_server, cache_dir))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Name", "Version", "ID", "Fix", "Versions", "Severity"]
    assert "jinja2       2.10.1   PYSEC-2021-66    2.11.3        UNKNOWN" in lines
    assert "werkzeug     0.15.3   PYSEC-2023-221   2.3.8,3.0.1   HIGH" in lines
    assert len(lines) == 2 + 22
    assert proc.stderr == "Found 22 known vulnerabilities in 9 packages\n"


def test_json_output_file_and_warm_rerun_without_network(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    cold = run_cli("-r", str(EXAMPLE), "-f", "json", "-o", str(out), *args(osv_server, cache_dir))
    assert cold.returncode == 1 and cold.stdout == ""
    report = orjson.loads(unstamped(out.read_text()))
    jinja = next(d for d in report["dependencies"] if d["name"] == "jinja2")
    assert jinja == {
        "name": "jinja2",
        "version": "2.10.1",
        "origins": [f"{EXAMPLE}:6"],
        "vulns": [
            {
                "id": "PYSEC-2021-66",
                "fix_versions": ["2.11.3"],
                "aliases": ["CVE-2020-28493", "GHSA-g3rq-g295-4j3m", "SNYK-PYTHON-JINJA2-1012994"],
                "description": jinja["vulns"][0]["description"],
            }
        ],
    }
    assert jinja["vulns"][0]["description"].startswith("This affects the package jinja2")
    assert len(report["dependencies"]) == 19
    osv_server.reset()
    warm = run_cli("-r", str(EXAMPLE), "-f", "json", *args(osv_server, cache_dir))
    assert warm.returncode == 1
    assert orjson.loads(unstamped(warm.stdout)) == report
    assert sum(osv_server.hits.values()) == 0


def test_ignore_vuln_by_alias_gives_exit_0(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    req = tmp_path / "r.txt"
    req.write_text("jinja2==2.10.1\nsix==1.16.0\n")
    proc = run_cli("-r", str(req), "--ignore-vuln", "CVE-2020-28493", *args(osv_server, cache_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Name   Version Ignored ID    Reason",
        "------ ------- ------------- ----------------------------",
        "jinja2 2.10.1  PYSEC-2021-66 --ignore-vuln CVE-2020-28493",
    ]
    assert proc.stderr == "No known vulnerabilities found (1 ignored)\n"


def test_stdin_and_env_vars(osv_server: OsvServer, cache_dir: Path) -> None:
    proc = run_cli(
        "-r",
        "-",
        "--cache-dir",
        str(cache_dir),
        stdin="flask==1.0\n",
        env={
            "PIP_AUDIT_OSV_URL": f"{osv_server.url}/v1/query",
            "VULNSWEEP_FORMAT": "json",
            "PIP_AUDIT_DESC": "off",
        },
    )
    assert proc.returncode == 1, proc.stderr
    report = orjson.loads(proc.stdout)
    assert report["dependencies"] == [
        {
            "name": "flask",
            "version": "1.0",
            "origins": ["<stdin>:1"],
            "vulns": [
                {
                    "id": "PYSEC-2023-62",
                    "fix_versions": ["2.2.5", "2.3.2"],
                    "aliases": ["CVE-2023-30861", "GHSA-m2qf-hxjv-5gpq"],
                }
            ],
        }
    ]


def test_fifo_input(osv_server: OsvServer, cache_dir: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as handle:
            handle.write("six==1.16.0\n")

    writer = threading.Thread(target=feed)
    writer.start()
    proc = run_cli("-r", str(fifo), *args(osv_server, cache_dir))
    writer.join(5)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "No known vulnerabilities found\n"


def test_unreachable_service_fails_fast_with_exit_3(cache_dir: Path, tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text("six==1.16.0\n")
    out = tmp_path / "out.json"
    start = time.monotonic()
    proc = run_cli(
        "-r",
        str(req),
        "--osv-url",
        "http://user:hunter2@127.0.0.1:9",
        "--cache-dir",
        str(cache_dir),
        "-f",
        "json",
        "-o",
        str(out),
    )
    assert time.monotonic() - start < 10
    assert proc.returncode == 3
    assert "hunter2" not in proc.stderr + proc.stdout + out.read_text()
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "vulnsweep: error: OSV (http://****@127.0.0.1:9/v1/querybatch): cannot connect"
    )
    assert last.endswith("1 of 1 dependencies could not be audited")
    assert "Traceback" not in proc.stderr
    # What could not be audited is in the report, never silently missing.
    report = orjson.loads(out.read_bytes())
    assert report["dependencies"][0]["name"] == "six"
    assert report["dependencies"][0]["skip_reason"].startswith("not audited: OSV query failed")


def test_partial_failure_keeps_audited_results(osv_server: OsvServer, cache_dir: Path) -> None:
    osv_server.reset(Faults(missing_ids={"PYSEC-2021-66"}))
    proc = run_cli("-r", str(EXAMPLE), "-f", "json", *args(osv_server, cache_dir))
    assert proc.returncode == 3
    report = orjson.loads(proc.stdout)
    by_name = {d["name"]: d for d in report["dependencies"]}
    assert by_name["jinja2"]["skip_reason"].startswith("not audited: OSV advisory fetch failed")
    assert [v["id"] for v in by_name["flask"]["vulns"]] == ["PYSEC-2023-62"]
    assert "1 of 19 dependencies could not be audited" in proc.stderr


def test_usage_and_input_errors_exit_2_in_one_line(tmp_path: Path) -> None:
    cases = [
        (
            ["-r", str(tmp_path / "absent.txt")],
            f"vulnsweep: error: {tmp_path}/absent.txt: no such file",
        ),
        ([str(tmp_path / "nope")], f"vulnsweep: error: {tmp_path}/nope: no such file or directory"),
        (
            ["--python-version", "3", str(EXAMPLE)],
            "vulnsweep: error: --python-version must look like 3.12 or 3.12.1, got '3'",
        ),
    ]
    for argv, message in cases:
        proc = run_cli(*argv)
        assert proc.returncode == 2
        assert proc.stderr.strip() == message
    for argv in (["-f", "xml", "-r", "x"], ["-s", "nonesuch", "-r", "x"]):
        proc = run_cli(*argv)
        assert proc.returncode == 2
        assert "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_file_names_file_and_line(tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_bytes(b"six==1.16.0\n\xff\n")
    proc = run_cli("-r", str(req), "--dry-run")
    assert proc.returncode == 2
    assert proc.stderr == f"vulnsweep: error: {req}:2: is not valid UTF-8 (byte offset 12)\n"


def test_strict_makes_skips_fatal(tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text("six==1.16.0\nflask>=2\n")
    dry = run_cli("-r", str(req), "--dry-run", "--no-deps")
    assert dry.returncode == 0
    assert dry.stderr == "Dry run: would audit 1 packages (1 skipped)\n"
    strict = run_cli("-r", str(req), "--strict", "--dry-run", "--no-deps")
    assert strict.returncode == 2
    assert strict.stderr.startswith(
        f"vulnsweep: error: --strict: 1 dependencies cannot be audited; first: flask ({req}:2)"
    )


def test_cache_info_and_clear(osv_server: OsvServer, cache_dir: Path, tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text("flask==1.0\nsix==1.16.0\n")
    run_cli("-r", str(req), *args(osv_server, cache_dir))
    info = run_cli("cache", "info", "--cache-dir", str(cache_dir))
    assert info.returncode == 0
    assert f"path:    {cache_dir / 'cache.sqlite3'}" in info.stdout
    assert "queries: 2\nrecords: 1\n" in info.stdout
    cleared = run_cli("cache", "clear", "--cache-dir", str(cache_dir))
    assert cleared.returncode == 0
    assert (
        "queries: 0\nrecords: 0\n" in run_cli("cache", "info", "--cache-dir", str(cache_dir)).stdout
    )


def test_no_cache_always_queries(osv_server: OsvServer, cache_dir: Path, tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text("six==1.16.0\n")
    for _ in range(2):
        assert run_cli("-r", str(req), "--no-cache", "--osv-url", osv_server.url).returncode == 0
    assert osv_server.hits["querybatch"] == 2


LOCKS = Path(__file__).resolve().parents[1] / "data" / "locks"


def test_lock_file_positional_with_origins(osv_server: OsvServer, cache_dir: Path) -> None:
    lock = LOCKS / "poetry-1.0" / "poetry.lock"
    proc = run_cli(str(lock), "-f", "json", *args(osv_server, cache_dir))
    assert proc.returncode == 1, proc.stderr
    report = orjson.loads(proc.stdout)
    jinja = next(d for d in report["dependencies"] if d["name"] == "jinja2")
    lines = lock.read_text().splitlines()
    name_at = lines.index('name = "jinja2"')
    line = max(i for i in range(name_at) if lines[i] == "[[package]]") + 1
    assert jinja["version"] == "2.10.1"
    assert jinja["origins"] == [f"{lock}:{line}"]
    assert [v["id"] for v in jinja["vulns"]] == ["PYSEC-2021-66"]


def test_recursive_tree_and_project_locked(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "requirements.txt").write_text("flask==1.0\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "requirements.txt").write_text("flask==1.0\nsix==1.16.0\n")
    proc = run_cli(str(tmp_path), "-R", "-f", "json", *args(osv_server, cache_dir))
    assert proc.returncode == 1, proc.stderr
    report = orjson.loads(proc.stdout)
    flask = next(d for d in report["dependencies"] if d["name"] == "flask")
    assert flask["origins"] == [
        f"{tmp_path}/a/requirements.txt:1",
        f"{tmp_path}/b/requirements.txt:1",
    ]
    assert osv_server.hits["querybatch"] == 1
    project = LOCKS / "uv-built"
    locked = run_cli(str(project), "--locked", "--dry-run")
    assert locked.stderr == "Dry run: would audit 8 packages (0 skipped)\n"
    no_dev = run_cli(str(project), "--locked", "--no-dev", "--dry-run")
    assert no_dev.stderr == "Dry run: would audit 3 packages (0 skipped)\n"


def test_environment_by_path(osv_server: OsvServer, cache_dir: Path, tmp_path: Path) -> None:
    info = tmp_path / "site" / "jinja2-2.10.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10.1\n")
    proc = run_cli("--path", str(tmp_path / "site"), *args(osv_server, cache_dir))
    assert proc.returncode == 1, proc.stderr
    assert "jinja2 2.10.1  PYSEC-2021-66 2.11.3" in proc.stdout


def test_db_import_info_and_offline_audit(cache_dir: Path, tmp_path: Path) -> None:
    from tests.servers.osv import DATA_ZIP

    missing = run_cli("-r", str(EXAMPLE), "--offline", "--cache-dir", str(cache_dir))
    assert missing.returncode == 2
    assert "run `vulnsweep db sync`" in missing.stderr and "Traceback" not in missing.stderr
    imported = run_cli("db", "import", str(DATA_ZIP), "--cache-dir", str(cache_dir))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("imported 2661 advisories for 660 packages into ")
    info = run_cli("db", "info", "--cache-dir", str(cache_dir))
    assert "records:  2661\npackages: 660\n" in info.stdout
    offline = run_cli(
        "-r",
        str(EXAMPLE),
        "--offline",
        "--cache-dir",
        str(cache_dir),
        "--osv-url",
        "http://127.0.0.1:9",
        "--max-db-age",
        "36500",  # the 2024-10 export is old, and its age is the data's own
    )  # would fail if it were used
    assert offline.returncode == 1, offline.stderr
    assert offline.stderr == "Found 22 known vulnerabilities in 9 packages\n"
    assert "jinja2       2.10.1   PYSEC-2021-66    2.11.3" in offline.stdout


def test_pypi_service(osv_server: OsvServer, cache_dir: Path, tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text("jinja2==2.10.1\nnonexistent-thing==1.0\n")
    proc = run_cli(
        "-r", str(req), "-s", "pypi", "--pypi-url", osv_server.url, "--cache-dir", str(cache_dir)
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[2].split() == ["jinja2", "2.10.1", "PYSEC-2021-66", "2.11.3"]
    assert "nonexistent-thing nonexistent-thing 1.0 not found on PyPI" in proc.stdout


def test_check_status_reports_archived_and_yanked(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    osv_server.simple_pages["six"] = {
        "meta": {"api-version": "1.4"},
        "name": "six",
        "project-status": {"status": "archived", "reason": "no longer maintained"},
        "files": [
            {
                "filename": "six-1.16.0-py2.py3-none-any.whl",
                "yanked": False,
                "hashes": {},
                "url": "x",
            }
        ],
    }
    osv_server.simple_pages["idna"] = {
        "meta": {"api-version": "1.4"},
        "name": "idna",
        "files": [
            {
                "filename": "idna-3.7-py3-none-any.whl",
                "yanked": "broken wheel",
                "hashes": {},
                "url": "x",
            },
            {"filename": "idna-3.7.tar.gz", "yanked": True, "hashes": {}, "url": "x"},
            {"filename": "idna-3.8.tar.gz", "hashes": {}, "url": "x"},
        ],
    }
    try:
        req = tmp_path / "r.txt"
        req.write_text("six==1.16.0\nidna==3.7\n")
        common = (
            "-r",
            str(req),
            "--check-status",
            "--index-url",
            f"{osv_server.url}/simple",
            *args(osv_server, cache_dir),
        )
        proc = run_cli(*common)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == [
            "Name Version Status",
            "---- ------- --------------------------------------",
            "six  1.16.0  project archived: no longer maintained",
            "idna 3.7     release yanked: broken wheel",
        ]
        assert "warning: six 1.16.0: project archived: no longer maintained" in proc.stderr
        strict = run_cli(*common, "--strict", "-f", "json")
        assert strict.returncode == 1
        report = orjson.loads(strict.stdout)
        assert report["dependencies"][1]["status"] == {
            "project": "active",
            "reason": None,
            "yanked": True,
            "yanked_reason": "broken wheel",
        }
    finally:
        osv_server.simple_pages.clear()


def test_ndjson_streams_each_finding_as_soon_as_it_is_known(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:

    osv_server.reset(Faults(slow_ids={"PYSEC-2022-203": 3.0}))  # one of werkzeug's advisories
    req = tmp_path / "r.txt"
    req.write_text("jinja2==2.10.1\nwerkzeug==0.15.3\n")
    start = time.monotonic()
    proc = spawn_cli("-r", str(req), "-f", "ndjson", *args(osv_server, cache_dir), text=False)
    assert proc.stdout is not None
    first = orjson.loads(proc.stdout.readline())
    first_at = time.monotonic() - start
    rest = proc.stdout.read().splitlines()
    proc.wait(30)
    done_at = time.monotonic() - start
    assert (first["name"], first["id"]) == ("jinja2", "PYSEC-2021-66")
    assert done_at - first_at > 2.0  # jinja2's line was out while werkzeug's was pending
    *findings, run = [orjson.loads(line) for line in rest]
    assert [line["name"] for line in findings] == ["werkzeug"] * 4
    assert run["type"] == "run" and run["generated_at"].endswith("Z")  # the last line
    assert proc.returncode == 1


def test_verbose_counts_requests_and_connections(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    req = tmp_path / "r.txt"
    req.write_text("jinja2==2.10.1\nwerkzeug==0.15.3\nurllib3==1.24.1\n")
    proc = run_cli("-r", str(req), "-v", *args(osv_server, cache_dir))
    assert proc.returncode == 1, proc.stderr
    requests = sum(osv_server.hits.values())
    assert requests == 4  # querybatch; werkzeug's and urllib3's by /v1/query; jinja2's by id
    line = next(x for x in proc.stderr.splitlines() if "network:" in x)
    connections = len(osv_server.connections)
    assert line.endswith(
        f"network: {requests} requests over {connections} connections (plain HTTP), 0 DNS lookups"
    )
    quiet = run_cli("-r", str(req), *args(osv_server, tmp_path / "other-cache"))
    assert "network:" not in quiet.stderr
