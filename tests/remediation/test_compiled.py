"""--fix on a requirements file compiled with hashes (here by `uv pip compile`, as of
January 2021): the plan re-resolves, the file still installs with
`pip install --require-hashes`, and a re-audit finds nothing fixable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.helpers import run_cli
from tests.remediation.conftest import BIN, tool, tool_env
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer

IN = "requests\ndjango\n"


def compile_old(index: IndexServer, directory: Path) -> Path:
    env = tool_env(index, directory / "tools")
    (directory / "requirements.in").write_text(IN)
    done = tool(
        str(BIN / "uv"), "pip", "compile", "requirements.in", "-o", "requirements.txt",
        "--generate-hashes", "--exclude-newer", "2021-01-05", "--python-version", "3.11",
        "--no-header", env=env, cwd=directory,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return directory / "requirements.txt"


def audit(path: Path, osv: OsvServer, index: IndexServer, cache: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        "-r", str(path), "--osv-url", osv.url, "--index-url", index.url,
        "--cache-dir", str(cache), *extra,
    )  # fmt: skip


def pins(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(" ")[0].split("==")
            out[name] = version
    return out


def test_compiled_file_with_hashes_stays_installable(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    target = compile_old(fix_index, tmp_path)
    before = pins(target.read_text())
    assert before == {
        "asgiref": "3.3.1", "certifi": "2020.12.5", "chardet": "4.0.0", "django": "3.1.5",
        "idna": "2.10", "pytz": "2020.5", "requests": "2.25.1", "sqlparse": "0.4.1",
        "urllib3": "1.26.2",
    }  # fmt: skip
    cache = tmp_path / "c"
    proc = audit(target, osv_server, fix_index, cache, "--fix", "-f", "json", "-o",
                 str(tmp_path / "plan.json"))  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    after = pins(target.read_text())
    report = json.loads((tmp_path / "plan.json").read_text())
    [plan] = report["fix_plan"]
    changes = {c["name"]: c for c in plan["changes"]}
    # Every change is a fix, or says what required it.
    for change in plan["changes"]:
        assert change["closes"] or change["because"], change
    assert [
        (c["name"], c["old_version"], c["new_version"], c["because"]) for c in plan["changes"]
    ] == [
        ("certifi", "2020.12.5", "2024.7.4", ""),
        ("chardet", "4.0.0", None, "no longer needed"),
        ("charset-normalizer", None, "3.4.0",
         "needed by requests 2.31.0 (charset-normalizer<4,>=2)"),
        ("django", "3.1.5", "3.1.14", ""),
        ("idna", "2.10", "3.7", ""),
        ("requests", "2.25.1", "2.31.0", ""),
        ("sqlparse", "0.4.1", "0.5.1", ""),
        ("urllib3", "1.26.2", "1.26.18", ""),
    ]  # fmt: skip
    assert changes["requests"]["closes"] == ["PYSEC-2023-74"]
    # Django's smallest fix is the last 3.1 release: said so, with a line still released.
    ends = {d["name"]: (d["line"], d["last_release"], d["alternative"]) for d in plan["dead_ends"]}
    assert ends == {  # projects that never backport (requests, idna, certifi) are not flagged
        "django": ("3.1", "3.1.14 on 2021-12-07", "3.2.25"),
        "urllib3": ("1.26", "1.26.20 on 2024-08-29", "2.6.3"),
    }
    assert (
        "  note: django 3.1.14 is on the 3.1 line, which has had no release since "
        "3.1.14 on 2021-12-07; smallest fix on a line still released: 3.2.25\n" in proc.stderr
    )
    assert after["requests"] == "2.31.0" and "chardet" not in after
    text = target.read_text()
    assert "charset-normalizer==3.4.0 \\\n    --hash=sha256:" in text
    assert text.index("charset-normalizer==") < text.index("django==")  # name order
    assert {n: c["new_version"] for n, c in changes.items()} == {n: after.get(n) for n in changes}
    # pip accepts it as it stands: every requirement pinned and hashed.
    env = tool_env(fix_index, tmp_path / "tools")
    pip = tool(
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
        "--require-hashes", "-r", str(target), "--python-version", "3.11",
        "--only-binary", ":all:", "--target", str(tmp_path / "t"), env=env,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    # Nothing fixable is left.
    again = audit(target, osv_server, fix_index, cache, "--only-fixable")
    assert again.returncode == 0, again.stdout + again.stderr


def test_an_unreachable_index_keeps_the_report_and_rewrites_nothing(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    target = compile_old(fix_index, tmp_path)
    before = target.read_bytes()
    report = tmp_path / "report.json"
    proc = run_cli(
        "-r", str(target), "--fix", "--osv-url", osv_server.url,
        "--index-url", "http://user:s3cret@127.0.0.1:9/simple", "--timeout", "2",
        "--cache-dir", str(tmp_path / "c"), "-f", "json", "-o", str(report),
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if "--fix could not plan" in x]
    assert line.startswith("vulnsweep: error: --fix could not plan (package index (")
    assert line.endswith("; nothing was rewritten") and "s3cret" not in proc.stderr
    assert target.read_bytes() == before
    findings = json.loads(report.read_text())["dependencies"]
    assert sum(len(d.get("vulns", [])) for d in findings) > 10


def test_only_a_compilers_own_header_makes_a_file_compiled() -> None:
    from vulnsweep.remediation.compiled import is_compiled

    # uv's test input: its comment names the command, but it is an input, not output.
    mention = (
        "# Run with:\n# uv pip compile test/req.in -c constraints.txt\napache-airflow==2.3.4\n"
    )
    assert not is_compiled(mention)
    assert is_compiled("#\n# This file is autogenerated by pip-compile with Python 3.11\nx==1\n")
    assert is_compiled("# This file was autogenerated by uv via the following command:\nx==1\n")
