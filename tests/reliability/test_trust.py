"""Regression tests for the findings-you-can-trust review: each case was observed on
real or hostile input and must never come back."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers import run_cli
from tests.servers.background import BackgroundServer
from tests.servers.index import IndexFaults, IndexServer
from tests.servers.osv import OsvServer
from vulnsweep.advisories.records import merge
from vulnsweep.errors import ServiceError
from vulnsweep.net.http import HttpClient, RetryPolicy, Timeouts
from vulnsweep.redact import redact_url
from vulnsweep.sources.requirements.source import RequirementsSource


@pytest.fixture(scope="module")
def offline_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the offline database built from the vendored export."""
    cache = tmp_path_factory.mktemp("offline")
    export = Path(__file__).parents[1] / "data" / "osv-pypi-2024-10.zip"
    assert run_cli("db", "import", str(export), "--cache-dir", str(cache)).returncode == 0
    return cache


def osv_json(osv: OsvServer, cache: Path, *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    proc = run_cli(
        "--osv-url", osv.url, "--cache-dir", str(cache), "--progress-spinner", "off",
        "-f", "json", *args,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}, proc.stderr


# -- 1. alias groups ------------------------------------------------------------------


def test_records_sharing_an_alias_are_one_finding_and_one_ignore(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    pins = tmp_path / "r.txt"
    pins.write_text("accesscontrol==4.1\ndistributed==1.10.0\nparlai==0.1.20200610\n")
    code, report, _ = osv_json(osv_server, cache_dir, "-r", str(pins))
    assert code == 1
    ids = {d["name"]: sorted(v["id"] for v in d["vulns"]) for d in report["dependencies"]}
    for name, first, second in [
        ("accesscontrol", "PYSEC-2021-335", "PYSEC-2021-370"),
        ("distributed", "PYSEC-2021-871", "PYSEC-2021-872"),
        ("parlai", "PYSEC-2021-330", "PYSEC-2021-334"),
    ]:
        assert first in ids[name] and second not in ids[name]
    code, report, _ = osv_json(
        osv_server, cache_dir, "-r", str(pins), "--ignore-vuln", "PYSEC-2021-370"
    )
    after = {d["name"]: sorted(v["id"] for v in d["vulns"]) for d in report["dependencies"]}
    assert after["accesscontrol"] == [i for i in ids["accesscontrol"] if i != "PYSEC-2021-335"]
    assert [i["id"] for i in report["ignored"]] == ["PYSEC-2021-335"]


# -- 2. pip's option-line rule ------------------------------------------------------------


def test_requirement_after_an_option_is_skipped_like_pip(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # home-assistant's requirements_all.txt (older revisions) has this line.
    path = tmp_path / "requirements_all.txt"
    path.write_text("six==1.16.0\n--only-binary=all nuimo==0.1.0\n--pre --no-index\n")
    collected = list(RequirementsSource([str(path)]).collect())
    skipped = [c for c in collected if hasattr(c, "reason")]
    assert [(s.name, s.version, str(s.origins[0])) for s in skipped] == [
        ("nuimo", "0.1.0", f"{path}:2")
    ]
    assert "pip never installs it" in skipped[0].reason
    assert any("pip ignores it" in r.getMessage() for r in caplog.records)


# -- 3. no dependency at all, only invalid lines ------------------------------------------


def test_a_file_of_nothing_but_invalid_lines_is_an_error(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text("root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    proc = run_cli("-r", str(shadow), "--dry-run")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"vulnsweep: error: {shadow}: no requirement found, and 2 lines are not "
        f"requirements (the first: {shadow}:1: invalid requirement 'root:*:19000:0:99999:7:::'"
        ": Expected semicolon (after name with no version specifier) or end): is this a "
        "requirements file?"
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing pinned yet\n")
    assert run_cli("-r", str(empty), "--dry-run").returncode == 0


# -- 4. pagination ------------------------------------------------------------------------


def test_many_pages_lose_nothing(osv_server: OsvServer, cache_dir: Path, tmp_path: Path) -> None:
    pins = tmp_path / "r.txt"
    pins.write_text("tensorflow-gpu==2.3.1\n")
    code, whole, _ = osv_json(osv_server, cache_dir, "-r", str(pins), "--no-cache")
    expected = sorted(v["id"] for v in whole["dependencies"][0]["vulns"])
    assert len(expected) > 200
    osv_server.reset(page_size=1)  # one advisory a page: over 200 pages
    code, paged, _ = osv_json(osv_server, cache_dir, "-r", str(pins), "--no-cache")
    assert code == 1
    assert sorted(v["id"] for v in paged["dependencies"][0]["vulns"]) == expected


# -- 5. untrusted records -----------------------------------------------------------------


def test_malformed_records_are_reported_with_what_can_be_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="vulnsweep.advisories.records")
    good = {"id": "PYSEC-1", "aliases": ["CVE-1"], "affected": []}
    bad_aliases = {"id": "PYSEC-2", "aliases": "CVE-1"}
    bad_id = {"id": "<script>", "aliases": []}
    # Read leniently: a record a server says applies is reported with what can be read
    # of it (aliases as a string still link it; an odd id is still an id, escaped by
    # every writer), never dropped.
    vulns = merge([good, bad_aliases, bad_id], "foo")
    assert [(v.id, v.aliases) for v in vulns] == [
        ("<script>", ()),
        ("PYSEC-1", ("CVE-1", "PYSEC-2")),
    ]
    assert "advisory PYSEC-2: `aliases` is a string, not a list; read as a list" in caplog.text


def test_pypi_commit_hash_is_no_fix_version() -> None:
    from vulnsweep.services.pypi import as_osv_records

    entry = {"id": "PYSEC-2023-1", "aliases": [], "fixed_in": ["39.0.1", "94a50a9731f3"]}
    (vuln,) = merge(as_osv_records("cryptography", [entry]), "cryptography")
    assert vuln.fix_versions == ("39.0.1",)


# -- 6. CycloneDX XML: only the BOM's components -------------------------------------------


def test_cyclonedx_xml_tools_are_not_audited(tmp_path: Path) -> None:
    from vulnsweep.sources.sbom import SbomSource

    bom = tmp_path / "bom.xml"
    bom.write_text(
        '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">'
        "<metadata><tools><components><component type='application'><name>vulnsweep</name>"
        "<version>0.1</version><purl>pkg:pypi/vulnsweep@0.1</purl></component></components>"
        "</tools><component type='application'><name>app</name><purl>pkg:pypi/app@1.0</purl>"
        "</component></metadata><components><component type='library'><name>six</name>"
        "<version>1.16.0</version><purl>pkg:pypi/six@1.16.0</purl><components>"
        "<component type='library'><name>idna</name><version>3.7</version>"
        "<purl>pkg:pypi/idna@3.7</purl></component></components></component></components></bom>"
    )
    found = [(d.name, d.version) for d in SbomSource(bom).collect()]
    assert found == [("six", "1.16.0"), ("idna", "3.7")]


# -- 7. drop-in details --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"PIP_AUDIT_FORMAT": "bogus"}, [], "PIP_AUDIT_FORMAT='bogus': choose from"),
        ({"VULNSWEEP_FORMAT": "xml"}, [], "VULNSWEEP_FORMAT='xml': choose from"),
        ({"PIP_AUDIT_VULNERABILITY_SERVICE": "x"}, [], "PIP_AUDIT_VULNERABILITY_SERVICE='x'"),
        ({"PIP_AUDIT_DESC": "maybe"}, [], "PIP_AUDIT_DESC='maybe': choose from on, off, auto"),
        ({}, ["--timeout", "-5"], "--timeout must be positive, got -5"),
        ({}, ["--deadline", "-1"], "--deadline must be positive, got -1"),
        ({}, ["--diff"], "--diff only makes sense with --fix"),
        ({}, ["--exclude", "x"], "--exclude only applies to a -R/--recursive walk"),
    ],
)
def test_bad_settings_are_usage_errors(
    env: dict[str, str], args: list[str], message: str, tmp_path: Path
) -> None:
    pins = tmp_path / "r.txt"
    pins.write_text("six==1.16.0\n")
    proc = run_cli("-r", str(pins), "--dry-run", *args, env=env)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_json_version_is_pep440_normal(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    pins = tmp_path / "r.txt"
    pins.write_text("pytz==2023.04.0\n")
    _, report, _ = osv_json(osv_server, cache_dir, "-r", str(pins))
    (dep,) = report["dependencies"]
    assert (dep["version"], dep["version_as_written"]) == ("2023.4.0", "2023.04.0")


# -- 8. -R with many sets to resolve -------------------------------------------------------


def test_many_files_to_resolve_do_not_deadlock(tmp_path: Path) -> None:
    for i in range(45):  # 40 used to take every worker slot and hang at 0% CPU
        (tmp_path / f"p{i}").mkdir()
        (tmp_path / f"p{i}" / "requirements.txt").write_text("six\n")
    with IndexServer() as index:
        proc = run_cli(
            str(tmp_path), "-R", "--dry-run", "--index-url", index.url,
            "--cache-dir", str(tmp_path / "cache"), timeout=60,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "would audit 1 packages" in proc.stderr


# -- 9. redaction in linear time -----------------------------------------------------------


def test_secret_query_parameters_are_hidden_too() -> None:
    assert redact_url("postgresql://ci@db/fleet?password=s3cret&sslmode=require") == (
        "postgresql://****@db/fleet?password=****&sslmode=require"
    )
    assert redact_url("see https://h/x?sig=abc&v=1 and https://h/y?API_KEY=k#f") == (
        "see https://h/x?sig=****&v=1 and https://h/y?API_KEY=****#f"
    )
    redact_url("a=" * 2_000_000)  # linear: a hostile line costs milliseconds


def test_redaction_is_linear() -> None:
    assert redact_url("see https://bob:tok3n@h/x and ftp://a@b/") == (
        "see https://****@h/x and ftp://****@b/"
    )
    hostile = "a" * 2_000_000 + "://" + "b" * 2_000_000 + "@"
    started = time.perf_counter()
    redact_url(hostile)
    redact_url("x://" * 500_000 + "@")
    assert time.perf_counter() - started < 2  # quadratic took minutes here


# -- 10 and 11. response sizes and time bounds --------------------------------------------


class _Hostile(BackgroundServer):
    """Answers every request with a huge body, or a byte at a time."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._answer)
        return app

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        if self.mode == "huge":
            chunk = b" " * (1 << 20)
            for _ in range(100):  # 100 MB of whitespace, no Content-Length
                await response.write(chunk)
        else:
            for _ in range(600):
                await response.write(b" ")
                await asyncio.sleep(0.05)
        return response

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def test_oversized_answer_is_refused_not_held() -> None:
    with _Hostile("huge") as server:
        async with HttpClient("OSV", max_response_bytes=4 << 20) as http:
            with pytest.raises(ServiceError, match="response larger than 4194304 bytes"):
                await http.get_json(f"{server.url}/v1/vulns/X", dict)
            assert http.requests_sent == 1  # not retried


async def test_trickling_server_is_cut_off_by_the_timeout() -> None:
    with _Hostile("trickle") as server:
        timeouts = Timeouts(connect=0.2, read=0.3)  # a byte every 0.05 s never trips a read
        async with HttpClient("OSV", timeouts=timeouts, retry=RetryPolicy(attempts=1)) as http:
            started = time.monotonic()
            with pytest.raises(ServiceError, match="timed out"):
                await http.get_json(f"{server.url}/v1/vulns/X", dict)
            assert time.monotonic() - started < 5


def test_deadline_covers_resolution(osv_server: OsvServer, cache_dir: Path, tmp_path: Path) -> None:
    requirements = tmp_path / "r.in"
    requirements.write_text("flask\n")
    with IndexServer() as index:
        index.reset(IndexFaults(latency=8))
        started = time.monotonic()
        proc = run_cli(
            "-r", str(requirements), "--index-url", index.url, "--osv-url", osv_server.url,
            "--cache-dir", str(cache_dir), "--deadline", "2", timeout=60,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert elapsed < 6
    assert proc.returncode == 3
    assert "--deadline of 2s exceeded while resolving" in proc.stderr


# -- 13. -o writes through, never replaces ---------------------------------------------------


def test_output_through_symlinks_devices_and_errors(tmp_path: Path, offline_cache: Path) -> None:
    pins = tmp_path / "r.txt"
    pins.write_text("six==1.16.0\n")
    target = tmp_path / "report.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    db = offline_cache
    base = ["-r", str(pins), "--offline", "--cache-dir", str(db), "-f", "json"]
    assert run_cli(*base, "-o", str(link)).returncode == 0
    assert link.is_symlink() and json.loads(target.read_text())["dependencies"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert run_cli(*base, "-o", str(fifo)).returncode == 0
        assert b"dependencies" in os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert run_cli(*base, "-o", "/dev/null").returncode == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fresh = tmp_path / "fresh.json"
    old_mask = os.umask(0o022)
    try:
        run_cli(*base, "-o", str(fresh))
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    for bad, message in [
        (tmp_path, "is a directory"),
        (tmp_path / "missing" / "x.json", "cannot write in"),
    ]:
        proc = run_cli(*base, "-o", str(bad))
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_deeply_nested_includes_are_a_clear_error(tmp_path: Path) -> None:
    for i in range(400):
        (tmp_path / f"r{i}.txt").write_text(f"-r r{i + 1}.txt\n")
    (tmp_path / "r400.txt").write_text("six==1.16.0\n")
    proc = run_cli("-r", str(tmp_path / "r0.txt"), "--dry-run")
    assert proc.returncode == 2
    assert "includes nested more than 100 levels deep" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- 14 and 15. secrets and terminal escapes -------------------------------------------------


@pytest.mark.parametrize("fmt", ["columns", "json", "markdown", "ndjson", "sarif"])
def test_no_token_and_no_escape_reaches_a_report(
    fmt: str, tmp_path: Path, offline_cache: Path
) -> None:
    pins = tmp_path / "r.txt"
    pins.write_text(
        "-e git+https://bob:tok3n@github.com/org/repo.git#egg=repo\n"
        "foo @@ https://user:pass@example.com/x\n"
        "bad\x1b]0;title\x07==1.0\n"
        "six==1.16.0\n"
    )
    db = offline_cache
    proc = run_cli("-r", str(pins), "--offline", "--cache-dir", str(db), "-f", fmt)
    everything = proc.stdout + proc.stderr
    assert "tok3n" not in everything and "user:pass" not in everything
    if fmt in ("columns", "markdown"):
        assert "\x1b" not in everything and "bad\\x1b]0;title\\x07==1.0" in proc.stdout
    else:
        assert "\x1b" not in proc.stderr


# -- 16. damaged cache --------------------------------------------------------------------


def test_damaged_cache_rows_are_misses(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    pins = tmp_path / "r.txt"
    pins.write_text("django==2.2.0\nrequests==2.19.0\nflask==0.12\nurllib3==1.24.1\n")
    code, clean, _ = osv_json(osv_server, cache_dir, "-r", str(pins))
    cache_file = next(cache_dir.glob("*.sqlite3"))
    data = bytearray(cache_file.read_bytes())
    for start in range(4096, len(data) - 4096, 16384):  # scribble over every few pages
        data[start : start + 4096] = os.urandom(4096)
    cache_file.write_bytes(bytes(data))
    code2, again, _ = osv_json(osv_server, cache_dir, "-r", str(pins))
    assert (code2, again["dependencies"]) == (code, clean["dependencies"])


def test_cache_commands_tell_the_truth(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    for action in ("clear", "info"):
        proc = run_cli("cache", action, "--cache-dir", str(not_a_dir / "cache"))
        assert proc.returncode == 2, proc.stdout
        assert f"cache {action}:" in proc.stderr and "cleared" not in proc.stdout


# -- 17. offline database age ---------------------------------------------------------------


def test_offline_database_age_is_the_data_age(tmp_path: Path, offline_cache: Path) -> None:
    db = offline_cache
    info = run_cli("db", "info", "--cache-dir", str(db))
    assert "updated:  2024-10-" in info.stdout
    pins = tmp_path / "r.txt"
    pins.write_text("six==1.16.0\n")
    proc = run_cli("-r", str(pins), "--offline", "--cache-dir", str(db), "--max-db-age", "30")
    assert "days old (over --max-db-age 30)" in proc.stderr


def test_fix_through_a_symlink_rewrites_the_target(tmp_path: Path, offline_cache: Path) -> None:
    target = tmp_path / "real-requirements.txt"
    target.write_text("jinja2==2.10\n")
    link = tmp_path / "requirements.txt"
    link.symlink_to(target.name)
    proc = run_cli("-r", str(link), "--offline", "--cache-dir", str(offline_cache), "--fix")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert link.is_symlink()
    fixed = target.read_text()
    assert fixed.startswith("jinja2==") and fixed != "jinja2==2.10\n"
