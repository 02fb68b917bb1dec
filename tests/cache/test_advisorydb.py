"""The offline database: import, hostile archives, and sync against the local export."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

import anyio
import pytest

from tests.servers.osv import DATA_ZIP, OsvServer
from vulnsweep.cache import advisorydb
from vulnsweep.errors import InputError
from vulnsweep.net.http import RetryPolicy
from vulnsweep.services.dbsync import sync

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


def zip_stats() -> tuple[int, int]:
    """Records and distinct PyPI package names, read straight from the export."""
    names = set()
    count = 0
    with zipfile.ZipFile(DATA_ZIP) as archive:
        for member in archive.namelist():
            record = json.loads(archive.read(member))
            count += 1
            if record.get("withdrawn"):
                continue  # never matched, so not counted as a package with advisories
            for entry in record["affected"]:
                names.add(entry["package"]["name"].lower().replace("_", "-").replace(".", "-"))
    return count, len(names)


@pytest.fixture(scope="module")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / advisorydb.DB_NAME
    advisorydb.build(path, advisorydb.records_from_archive(DATA_ZIP), source="test")
    return path


def test_import_of_the_real_export(built_db: Path) -> None:
    info = advisorydb.info(built_db)
    records, packages = zip_stats()
    assert (info.records, info.packages) == (records, packages) == (2661, 660)
    assert info.source == "test"


def test_import_from_a_directory_of_json_and_yaml(tmp_path: Path) -> None:
    src = tmp_path / "advisories" / "jinja2"
    src.mkdir(parents=True)
    with zipfile.ZipFile(DATA_ZIP) as archive:
        (src / "PYSEC-2014-8.json").write_bytes(archive.read("PYSEC-2014-8.json"))
        record = json.loads(archive.read("PYSEC-2021-66.json"))
    import yaml

    (src / "PYSEC-2021-66.yaml").write_text(yaml.safe_dump(record))
    (tmp_path / "advisories" / ".git").mkdir()
    (tmp_path / "advisories" / ".git" / "junk.json").write_text("not json")
    target = tmp_path / "db.sqlite3"
    info = advisorydb.build(
        target, advisorydb.records_from_directory(tmp_path / "advisories"), source="dir"
    )
    assert (info.records, info.packages) == (2, 1)


def hostile_zip(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("../../escape.json", b'{"id": "X"}', "points outside the archive"),
        ("/abs/path.json", b'{"id": "X"}', "points outside the archive"),
        ("bomb.json", b" " * (20 * 1024 * 1024), "expands too far"),
    ],
)
def test_hostile_archives_are_refused_and_keep_the_old_db(
    tmp_path: Path, built_db: Path, name: str, data: bytes, message: str
) -> None:
    target = tmp_path / advisorydb.DB_NAME
    target.write_bytes(built_db.read_bytes())
    archive = hostile_zip(tmp_path / "evil.zip", name, data)
    with pytest.raises(InputError, match=message):
        advisorydb.build(target, advisorydb.records_from_archive(archive), source="evil")
    assert advisorydb.info(target).records == 2661
    assert sorted(p.name for p in tmp_path.iterdir()) == [advisorydb.DB_NAME, "evil.zip"]


def test_truncated_archive_fails_cleanly(tmp_path: Path) -> None:
    truncated = tmp_path / "all.zip"
    truncated.write_bytes(DATA_ZIP.read_bytes()[:500_000])
    with pytest.raises(InputError, match="not a readable zip archive"):
        advisorydb.build(tmp_path / "db", advisorydb.records_from_archive(truncated), source="x")
    assert not (tmp_path / "db").exists()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("X.json", b"{not json")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(buffer.getvalue())
    with pytest.raises(InputError, match="invalid advisory"):
        advisorydb.build(tmp_path / "db", advisorydb.records_from_archive(bad), source="x")


def test_missing_database_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(advisorydb.DatabaseError, match="run `vulnsweep db sync`"):
        advisorydb.info(tmp_path / "absent.sqlite3")


def test_sync_full_then_incremental(osv_server: OsvServer, tmp_path: Path) -> None:
    target = tmp_path / advisorydb.DB_NAME
    base = f"{osv_server.url}/export/PyPI"
    kind, count = anyio.run(lambda: sync(target, base, retry=FAST))
    assert (kind, count) == ("full", 2661)
    # Nothing changed upstream: no record is fetched.
    kind, count = anyio.run(lambda: sync(target, base, retry=FAST))
    assert (kind, count, osv_server.hits["export-record"]) == ("incremental", 0, 0)
    # One advisory changes upstream: only it is fetched and applied.
    record = dict(osv_server.db.records["PYSEC-2014-8"])
    osv_server.db.records["PYSEC-2014-8"] = {
        **record,
        "modified": "2099-01-01T00:00:00Z",
        "summary": "updated upstream",
    }
    try:
        kind, count = anyio.run(lambda: sync(target, base, retry=FAST))
    finally:
        osv_server.db.records["PYSEC-2014-8"] = record
    assert (kind, count, osv_server.hits["export-record"]) == ("incremental", 1, 1)
    conn = sqlite3.connect(target)
    body = conn.execute("SELECT body FROM records WHERE id = 'PYSEC-2014-8'").fetchone()[0]
    assert json.loads(body)["summary"] == "updated upstream"
