"""--fix on real requirement files: the exact rewritten text."""

from __future__ import annotations

import shutil
from pathlib import Path
from subprocess import CompletedProcess

from tests.helpers import REQUIREMENTS, run_cli
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer

HASHED = """\
#
# pip-compile --generate-hashes requirements.in
#
jinja2==2.10.1 \\
    --hash=sha256:065c4f02ebe7f7cf559e49ee5a95fb800a9e4528727aec6f24402a5374c65013 \\
    --hash=sha256:14dd6caf1527abb21f08f86c784eac40853ba93edb79552aa1e4b8aef1b61c7b
    # via flask
markupsafe==1.1.1 ; python_version >= "3"  # via jinja2
six==1.16.0 --hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926
"""


def fix(target: Path, server: OsvServer, tmp_path: Path, *extra: str) -> CompletedProcess[str]:
    return run_cli(
        "-r",
        str(target),
        "--fix",
        "--osv-url",
        server.url,
        "--cache-dir",
        str(tmp_path / "c"),
        "--index-url",
        f"{server.url}/simple",
        *extra,
    )


def test_fix_real_pdm_fixture_in_place(osv_server: OsvServer, tmp_path: Path) -> None:
    target = tmp_path / "requirements.txt"
    shutil.copy(REQUIREMENTS / "pdm-fixture-requirements.txt", target)
    original = target.read_text()
    proc = run_cli(
        "-r",
        str(target),
        "--fix",
        "-f",
        "json",
        "--osv-url",
        osv_server.url,
        "--cache-dir",
        str(tmp_path / "c"),
        "--index-url",
        f"{osv_server.url}/simple",
    )
    # Fixed in place; the git reference it cannot resolve without a build makes it exit 3.
    assert proc.returncode == 3, proc.stderr
    assert "its name or version is only known by building it" in proc.stderr
    assert target.read_text() == original.replace("werkzeug==0.16.0", "werkzeug==2.3.8")
    import orjson

    assert orjson.loads(proc.stdout)["fixes"] == [
        {"name": "werkzeug", "old_version": "0.16.0", "new_version": "2.3.8"}
    ]
    assert f"Fixed werkzeug: 0.16.0 -> 2.3.8 in {target}:4" in proc.stderr


def test_fix_dry_run_diff_changes_nothing(osv_server: OsvServer, tmp_path: Path) -> None:
    target = tmp_path / "jupyter.txt"
    shutil.copy(REQUIREMENTS / "uv-jupyter.txt", target)
    before = target.read_bytes()
    proc = run_cli(
        "-r",
        str(target),
        "--fix",
        "--dry-run",
        "--diff",
        "--osv-url",
        osv_server.url,
        "--cache-dir",
        str(tmp_path / "c"),
        "--index-url",
        f"{osv_server.url}/simple",  # without jupyter's tree: pins are edited in place
    )
    assert target.read_bytes() == before
    assert "-idna==3.6\n+idna==3.7\n" in proc.stderr
    assert f"Would fix idna: 3.6 -> 3.7 in {target}:47" in proc.stderr


def test_fix_rewrites_hashes_from_the_index(osv_server: OsvServer, tmp_path: Path) -> None:
    new_hashes = ["a" * 64, "b" * 64]
    osv_server.simple_pages["jinja2"] = {
        "meta": {"api-version": "1.1"},
        "name": "jinja2",
        "files": [
            {
                "filename": "Jinja2-2.11.3-py2.py3-none-any.whl",
                "url": "x",
                "hashes": {"sha256": new_hashes[0]},
            },
            {"filename": "Jinja2-2.11.3.tar.gz", "url": "x", "hashes": {"sha256": new_hashes[1]}},
            {"filename": "Jinja2-2.10.1.tar.gz", "url": "x", "hashes": {"sha256": "c" * 64}},
        ],
    }
    try:
        target = tmp_path / "requirements.txt"
        target.write_text(HASHED)
        proc = fix(target, osv_server, tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert target.read_text() == HASHED.replace(
            HASHED.split("#\n", 2)[2].split("    # via flask")[0],
            f"jinja2==2.11.3 \\\n    --hash=sha256:{'a' * 64} \\\n    --hash=sha256:{'b' * 64}\n",
        )
    finally:
        osv_server.simple_pages.clear()


def test_fix_refuses_stale_hashes_and_writes_nothing(osv_server: OsvServer, tmp_path: Path) -> None:
    target = tmp_path / "requirements.txt"
    target.write_text(HASHED)
    proc = fix(target, osv_server, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        f"{target}:4: no hashes for jinja2==2.11.3 on the index: refusing to leave stale hashes"
    )
    assert target.read_text() == HASHED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "requirements.txt"]


def test_fix_pyproject_pin_and_unfixable(osv_server: OsvServer, tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "app"\nversion = "1"\n'
        "dependencies = [\n    \"Flask[async]==1.0 ; python_version >= '3'\",\n"
        '    "requests>=2",\n]\n'
    )
    with IndexServer() as index:  # requests>=2 is resolved, from loopback only
        proc = run_cli(
            str(pyproject), "--fix", "--osv-url", osv_server.url,
            "--cache-dir", str(tmp_path / "c"), "--index-url", index.url,
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "    \"Flask[async]==2.2.5 ; python_version >= '3'\",\n" in pyproject.read_text()
