"""--fix on a pylock.toml (PEP 751, exported by uv from a project locked in January
2021): written directly from the index's pages, and installable by uv as it stands."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from tests.helpers import run_cli
from tests.remediation.conftest import BIN, tool, tool_env
from tests.remediation.test_uv import uv_project
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def exported(index: IndexServer, directory: Path) -> Path:
    uv_project(index, directory)
    env = tool_env(index, directory.parent / "tools")
    done = tool(
        str(BIN / "uv"), "export", "--format", "pylock.toml", "-o", "pylock.toml", "--frozen",
        env=env, cwd=directory,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (directory / "uv.lock").unlink()  # the pylock alone is audited and fixed
    return directory / "pylock.toml"


def packages(path: Path) -> dict[str, dict[str, object]]:
    return {p["name"]: p for p in tomllib.loads(path.read_text())["packages"]}


def test_pylock_fixed_from_the_index_and_installable(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    lock = exported(fix_index, tmp_path / "app")
    before = lock.read_text()
    assert {n: p.get("version") for n, p in packages(lock).items()} == {
        "certifi": "2020.12.5", "chardet": "4.0.0", "idna": "2.10",
        "requests": "2.25.1", "urllib3": "1.26.2",
    }  # fmt: skip
    env = tool_env(fix_index, tmp_path / "tools")
    proc = run_cli(
        str(lock), "--fix", "--osv-url", osv_server.url, "--index-url", fix_index.url,
        "--cache-dir", str(tmp_path / "c"), "-f", "json", "-o", str(tmp_path / "r.json"),
        env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    [plan] = json.loads((tmp_path / "r.json").read_text())["fix_plan"]
    assert plan["written"] is True, plan
    assert all(c["closes"] or c["because"] for c in plan["changes"])  # each says why
    after = packages(lock)
    assert {n: p.get("version") for n, p in after.items()} == {
        "certifi": "2024.7.4", "chardet": "4.0.0", "charset-normalizer": "3.4.0",
        "idna": "3.7", "requests": "2.31.0", "urllib3": "1.26.18",
    }  # fmt: skip
    # The moved entries come from the index: absolute URLs, sizes, upload times, hashes.
    request = urllib.request.Request(
        f"{fix_index.url}/requests/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request) as answer:  # loopback: the local index
        page = json.loads(answer.read())
    [entry] = [f for f in page["files"] if f["filename"] == "requests-2.31.0-py3-none-any.whl"]
    [wheel] = after["requests"]["wheels"]  # type: ignore[misc]
    assert wheel["url"] == f"http://127.0.0.1:{fix_index.port}{entry['url']}"
    assert (wheel["size"], wheel["hashes"]) == (entry["size"], entry["hashes"])
    assert wheel["upload-time"].isoformat().startswith(entry["upload-time"][:19])
    # Untouched entries stay byte for byte.
    chardet = before[before.index('name = "chardet"') :].split("[[packages]]")[0]
    assert chardet in lock.read_text()
    # uv installs from it as it stands (hashes checked on download).
    venv = tmp_path / "venv"
    assert tool(str(BIN / "uv"), "venv", str(venv), env=env).returncode == 0
    install = tool(
        str(BIN / "uv"), "pip", "install", "--python", str(venv), "-r", str(lock), env=env
    )
    assert install.returncode == 0, install.stderr
    assert "requests==2.31.0" in install.stderr and "charset-normalizer==3.4.0" in install.stderr
    again = run_cli(
        str(lock), "--osv-url", osv_server.url, "--cache-dir", str(tmp_path / "c"),
        "--only-fixable",
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
