"""Index credentials come from the URL, ~/.netrc or keyring, in that order."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from tests.servers.osv import OsvServer
from vulnsweep.index.auth import with_credentials
from vulnsweep.index.client import strip_credentials
from vulnsweep.redact import redact_url


def test_credentials_in_the_url_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRC", "/nonexistent")
    url = "https://bob:pa%40ss@pkgs.example.com/simple"
    assert with_credentials(url) == url
    assert redact_url(url) == "https://****@pkgs.example.com/simple"
    assert strip_credentials(url + "/flask/") == "https://pkgs.example.com/simple/flask/"


def test_netrc_supplies_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine pkgs.example.com login ci-bot password t0k:en@1\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert (
        with_credentials("https://pkgs.example.com/simple")
        == "https://ci-bot:t0k%3Aen%401@pkgs.example.com/simple"
    )
    assert with_credentials("https://other.example.com/simple") == (
        "https://other.example.com/simple"
    )


def test_keyring_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRC", "/nonexistent")
    asked: list[str] = []

    def get_credential(url: str, username: object) -> object:
        asked.append(url)
        return types.SimpleNamespace(username="__token__", password="secret")

    monkeypatch.setitem(
        sys.modules, "keyring", types.SimpleNamespace(get_credential=get_credential)
    )
    assert (
        with_credentials("https://pkgs.example.com/simple")
        == "https://__token__:secret@pkgs.example.com/simple"
    )
    assert asked == ["https://pkgs.example.com/simple"]


def test_a_broken_keyring_backend_is_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRC", "/nonexistent")

    def get_credential(url: str, username: object) -> object:
        raise RuntimeError("no backend")

    monkeypatch.setitem(
        sys.modules, "keyring", types.SimpleNamespace(get_credential=get_credential)
    )
    assert with_credentials("https://pkgs.example.com/simple") == "https://pkgs.example.com/simple"


def test_check_status_uses_the_index_credentials_from_netrc(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    """--check-status reads the same index as resolution, so it signs in the same way."""
    from tests.helpers import run_cli
    from tests.servers.index import IndexServer

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret-token\n")
    netrc.chmod(0o600)
    pins = tmp_path / "r.txt"
    pins.write_text("requests==2.32.3\n")
    with IndexServer(auth=("alice", "s3cret-token")) as index:
        proc = run_cli(
            "-r", str(pins), "--check-status", "--index-url", index.url, "--osv-url",
            osv_server.url, "--cache-dir", str(cache_dir), "-f", "json",
            env={"NETRC": str(netrc)},
        )  # fmt: skip
        assert index.hits["simple"] == 1
    assert proc.returncode == 0, proc.stderr
    (dep,) = json.loads(proc.stdout)["dependencies"]
    assert dep["status"]["project"] == "active"
    assert "s3cret" not in proc.stdout + proc.stderr
