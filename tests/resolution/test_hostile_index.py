"""An index that lies or floods: refused with a clear service error, never trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.resolution.test_against_pip import CASES, resolve_file
from tests.servers.index import IndexServer
from vulnsweep.errors import ServiceError
from vulnsweep.index.client import PackageIndex


def test_an_oversized_page_is_refused(
    index_server: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PackageIndex, "max_bytes", 4096)
    with pytest.raises(ServiceError) as caught:
        resolve_file(CASES / "backtrack.in", index_server)
    assert caught.value.service == "package index"
    assert caught.value.message == "response larger than 4096 bytes refused"


def test_metadata_that_does_not_match_its_hash_is_refused(
    index_server: IndexServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    honest = IndexServer._entries

    def tampered(self: IndexServer, project: Any) -> list[dict[str, Any]]:
        entries = honest(self, project)
        for entry in entries:
            if "core-metadata" in entry and project.name == "werkzeug":
                entry["core-metadata"] = {"sha256": "0" * 64}
        return entries

    monkeypatch.setattr(IndexServer, "_entries", tampered)
    with pytest.raises(ServiceError) as caught:
        resolve_file(CASES / "backtrack.in", index_server)
    assert caught.value.message == "core metadata does not match the hash the index gave for it"
    assert str(caught.value.url).endswith(".whl.metadata")
