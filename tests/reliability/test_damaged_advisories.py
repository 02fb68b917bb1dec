"""Damaged copies of the real export (issue 21): every advisory that applies is reported,
or its pin is named as not audited with exit 3 -- through OSV (querybatch and
hydration), PyPI's JSON API and the offline database.

The local OSV server decides what applies from the undamaged records (its own reading
of the schema), and serves the damaged bodies: the reader must cope with what a real
server, mirror or export can send. Each advisory carries one damage, in a shape the
OSV schema forbids; PYSEC-2022-184's real trailing comma is left as published.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli
from tests.servers.osv import DATA_ZIP, OsvDatabase, OsvServer

Damage = Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Damage:
    def damage(record: dict[str, Any]) -> None:
        record[key] = copy.deepcopy(value)

    damage.__name__ = f"{key}={value!r}"[:40]
    return damage


def _first_entry(key: str, value: Any) -> Damage:
    def damage(record: dict[str, Any]) -> None:
        record["affected"][0][key] = copy.deepcopy(value)

    damage.__name__ = f"affected[0].{key}={value!r}"[:40]
    return damage


def _alias_with_space(record: dict[str, Any]) -> None:
    record["aliases"] = [" ".join(record.get("aliases") or ["CVE-2000-1", "GHSA-x"])]


def _aliases_as_string(record: dict[str, Any]) -> None:
    record["aliases"] = (record.get("aliases") or ["CVE-2000-1"])[0]


def _extra_unknown_range(record: dict[str, Any]) -> None:
    record["affected"][0].setdefault("ranges", []).append(
        {"type": "FANCY", "events": [{"introduced": "0"}]}
    )


# Damage the schema forbids, in fields that do not decide whether a version is
# affected: every one of these advisories must be reported, by every service.
HARMLESS: list[Damage] = [
    _set("aliases", [12345]),
    _aliases_as_string,
    _alias_with_space,
    _set("summary", 42),
    _set("details", {"text": "an object"}),
    _set("severity", {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}),
    _set("severity", ["CVSS:3.1/AV:N/AC:L"]),
    _set("severity", [{"type": "CVSS_V3", "score": "CVSS:3.1/garbage"}]),
    _set("modified", "not a date"),
    _set("references", "https://example.invalid"),
    _set("credits", 7),
    _set("related", {"a": 1}),
    _set("published", []),
    _set("schema_version", 1.6),
    _first_entry("ecosystem_specific", "a string"),
    _first_entry("database_specific", 3),
    _set("database_specific", "HIGH"),
    _set("withdrawn", True),  # withdrawal must be a timestamp to hide anything
]


def _unmatchable(record: dict[str, Any]) -> None:
    """Nothing left that a reader can place: events that are numbers, no versions."""
    entry = record["affected"][0]
    entry.pop("versions", None)
    entry["ranges"] = [{"type": "ECOSYSTEM", "events": [{"introduced": 0}, {"fixed": 9}]}]


# Damage to the deciding fields: a local matcher may report the pin as not audited.
# The first two leave enough readable to match the pin; the last leaves nothing.
DECISIVE: list[Damage] = [
    _extra_unknown_range,
    _first_entry("versions", "1.0"),
    _unmatchable,
]


def _records() -> dict[str, dict[str, Any]]:
    with zipfile.ZipFile(DATA_ZIP) as archive:
        return {
            name[: -len(".json")]: json.loads(archive.read(name))
            for name in archive.namelist()
            if name.endswith(".json")
        }


def _plan() -> tuple[dict[str, dict[str, Any]], dict[str, Damage], list[tuple[str, str]]]:
    """The export, which advisory gets which damage, and one pin each affects."""
    records = _records()
    chosen: dict[str, Damage] = {}
    pins: list[tuple[str, str]] = [("keylime", "6.3.1")]  # PYSEC-2022-184, as published
    used_packages = {"keylime"}
    damages = HARMLESS + DECISIVE
    for record_id in sorted(records):
        record = records[record_id]
        if len(chosen) == len(damages):
            break
        if record.get("withdrawn") or not record_id.startswith("PYSEC-"):
            continue
        entry = (record.get("affected") or [{}])[0]
        name = (entry.get("package") or {}).get("name")
        versions = entry.get("versions") or []
        if not name or not versions or name.lower() in used_packages:
            continue
        used_packages.add(name.lower())
        chosen[record_id] = damages[len(chosen)]
        pins.append((name, versions[-1]))
    assert len(chosen) == len(damages)
    return records, chosen, pins


RECORDS, CHOSEN, PINS = _plan()


def _damaged() -> dict[str, dict[str, Any]]:
    out = {}
    for record_id, damage in CHOSEN.items():
        record = copy.deepcopy(RECORDS[record_id])
        damage(record)
        out[record_id] = record
    return out


@pytest.fixture(scope="module")
def truth() -> OsvDatabase:
    return OsvDatabase(iter(copy.deepcopy(list(RECORDS.values()))))


@pytest.fixture(scope="module")
def damaged_server(truth: OsvDatabase) -> Iterator[OsvServer]:
    truth.served = _damaged()
    with OsvServer(truth) as server:
        yield server


def _expected(truth: OsvDatabase) -> dict[str, set[str]]:
    return {name.lower(): set(truth.match(name, version)) for name, version in PINS}


def _audit(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    pins = tmp_path / "requirements.txt"
    pins.write_text("".join(f"{name}=={version}\n" for name, version in PINS))
    proc = run_cli("-r", str(pins), "-f", "json", "--progress-spinner", "off", *args)
    assert "Traceback" not in proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _reported(report: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for dep in report["dependencies"]:
        ids = out.setdefault(dep["name"].lower(), set())
        for vuln in dep.get("vulns") or ():
            ids.update([vuln["id"], *vuln.get("aliases", [])])
    return out


def _not_audited(report: dict[str, Any]) -> dict[str, str]:
    return {
        d["name"].lower(): d["skip_reason"]
        for d in report["dependencies"]
        if d.get("skip_reason", "").startswith("not audited")
    }


def test_the_plan_covers_every_damage_on_an_applicable_advisory(truth: OsvDatabase) -> None:
    expected = _expected(truth)
    for record_id in CHOSEN:
        assert any(record_id in ids for ids in expected.values()), record_id
    assert "PYSEC-2022-184" in expected["keylime"]


@pytest.mark.parametrize("service", ["osv", "pypi"])
def test_a_server_decides_and_every_damaged_advisory_is_reported(
    service: str, damaged_server: OsvServer, truth: OsvDatabase, tmp_path: Path
) -> None:
    url = (
        ("--osv-url", damaged_server.url)
        if service == "osv"
        else ("--pypi-url", damaged_server.url)
    )
    code, report, stderr = _audit(
        tmp_path, "-s", service, *url, "--cache-dir", str(tmp_path / "cache")
    )
    expected, reported = _expected(truth), _reported(report)
    assert {name: ids - reported.get(name, set()) for name, ids in expected.items()} == {
        name: set() for name in expected
    }
    assert _not_audited(report) == {}
    assert code == 1, stderr
    # The damage was named, not silently swallowed (one line per record and field).
    assert "advisory PYSEC-" in stderr
    # A second, warm run answers from the cache the same way.
    code, again, _ = _audit(tmp_path, "-s", service, *url, "--cache-dir", str(tmp_path / "cache"))
    assert (code, _reported(again)) == (1, reported)


def test_the_offline_database_reports_or_names_each_pin(truth: OsvDatabase, tmp_path: Path) -> None:
    export = tmp_path / "damaged.zip"
    records = {**RECORDS, **_damaged()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for record_id, record in records.items():
            archive.writestr(f"{record_id}.json", json.dumps(record))
    export.write_bytes(buffer.getvalue())
    cache = tmp_path / "cache"
    imported = run_cli("db", "import", str(export), "--cache-dir", str(cache))
    assert imported.returncode == 0, imported.stderr
    code, report, stderr = _audit(
        tmp_path, "--offline", "--cache-dir", str(cache), "--max-db-age", "100000"
    )
    expected, reported, not_audited = _expected(truth), _reported(report), _not_audited(report)
    missing = {name: ids - reported.get(name, set()) for name, ids in expected.items()}
    assert {name for name, ids in missing.items() if ids} <= set(not_audited)
    # Only the advisories with damage to the deciding fields may leave a pin unaudited,
    # and the reason names the advisory.
    (unmatchable,) = (rid for rid, damage in CHOSEN.items() if damage is _unmatchable)
    package = RECORDS[unmatchable]["affected"][0]["package"]["name"].lower()
    assert list(not_audited) == [package]
    assert not_audited[package].startswith(
        f"not audited: advisory {unmatchable} cannot be matched: `affected[0]`.ranges[0] event"
    )
    assert code == 3, stderr
    assert "could not be fully audited" in stderr


def test_one_damaged_record_in_the_offline_database_does_not_hide_the_others(
    tmp_path: Path,
) -> None:
    """The real PYSEC-2022-184 alone: reported with its salvaged alias, so an ignore of
    the GHSA id ignores it too, and the run is never 'clean' while it applies."""
    cache = tmp_path / "cache"
    assert run_cli("db", "import", str(DATA_ZIP), "--cache-dir", str(cache)).returncode == 0
    pins = tmp_path / "r.txt"
    pins.write_text("keylime==6.3.1\n")
    base = ("-r", str(pins), "--offline", "--cache-dir", str(cache), "--max-db-age", "1e5")
    proc = run_cli(*base, "-f", "json")
    (dep,) = json.loads(proc.stdout)["dependencies"]
    assert (dep["vulns"][0]["id"], dep["vulns"][0]["aliases"]) == (
        "PYSEC-2022-184",
        ["CVE-2022-1053", "GHSA-jf66-3q76-h5p5"],
    )
    assert proc.returncode == 1
    others = ["--ignore-vuln", "PYSEC-2022-42995", "--ignore-vuln", "PYSEC-2023-128"]
    proc = run_cli(*base, *others, "--ignore-vuln", "PYSEC-2023-160")
    assert proc.returncode == 1
    assert "Found 1 known vulnerability" in proc.stderr
    proc = run_cli(
        *base, *others, "--ignore-vuln", "PYSEC-2023-160", "--ignore-vuln", "GHSA-jf66-3q76-h5p5"
    )
    assert proc.returncode == 0
