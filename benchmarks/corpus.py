"""A reproducible pinned corpus drawn from the real advisory export and real lock files.

Every package name appears once (a uv.lock cannot pin one name twice without forks),
so the same pins can be fed to vulnsweep, pip-audit (requirements.txt) and uv audit
(uv.lock). Vulnerable pins are versions an advisory lists as affected; clean pins are
real (name, version) pairs from the lock files in shared/corpora that no advisory
matches, topped up with internal-looking names when those run out.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import tomllib
from packaging.version import InvalidVersion, Version
from tests.servers.osv import REPO, OsvDatabase

from vulnsweep.model import canonical_name

CORPORA = REPO.parent / "shared" / "corpora"


@dataclass(frozen=True)
class Pin:
    name: str
    version: str


def _lock_pins() -> list[Pin]:
    pins: list[Pin] = []
    for path in sorted(CORPORA.rglob("*.lock")):
        try:
            if path.name == "Pipfile.lock":
                data = json.loads(path.read_text())
                for section in ("default", "develop"):
                    for name, entry in (data.get(section) or {}).items():
                        version = str(entry.get("version", "")).removeprefix("==")
                        pins.append(Pin(name, version))
                continue
            data = tomllib.loads(path.read_text())
        except (ValueError, OSError, UnicodeDecodeError):
            continue
        for entry in data.get("package", []) + data.get("distribution", []):
            if isinstance(entry, dict) and "name" in entry and "version" in entry:
                pins.append(Pin(str(entry["name"]), str(entry["version"])))
    return [Pin(p.name, v) for p in pins if (v := _normal(p.version))]


def _normal(version: str) -> str | None:
    try:
        return str(Version(version))
    except InvalidVersion:
        return None


def generate(
    db: OsvDatabase, size: int = 1700, vulnerable_fraction: float = 1 / 3, seed: int = 42
) -> tuple[list[Pin], int]:
    """The corpus and how many of its pins are known-vulnerable."""
    rng = random.Random(seed)
    want_vulnerable = round(size * vulnerable_fraction)
    vulnerable: list[Pin] = []
    names = sorted(db.by_package)
    rng.shuffle(names)
    for name in names:
        if len(vulnerable) >= want_vulnerable:
            break
        candidates = sorted(
            {
                v
                for record_id, _ in db.by_package[name]
                for entry in db.records[record_id]["affected"]
                if canonical_name(entry["package"]["name"]) == name
                for v in entry.get("versions") or ()
            }
        )
        rng.shuffle(candidates)
        for version in candidates[:5]:
            # Normal form only: uv rejects some spellings packaging would accept.
            normal = _normal(version)
            if normal and db.match(name, normal):
                vulnerable.append(Pin(name, normal))
                break
    used = {p.name for p in vulnerable}
    clean: list[Pin] = []
    real = _lock_pins()
    rng.shuffle(real)
    for pin in real:
        if len(vulnerable) + len(clean) >= size:
            break
        name = canonical_name(pin.name)
        if name in used or db.match(name, pin.version):
            continue
        used.add(name)
        clean.append(Pin(name, pin.version))
    counter = 0
    while len(vulnerable) + len(clean) < size:
        counter += 1
        clean.append(Pin(f"acme-internal-lib-{counter:04d}", f"1.{counter % 7}.0"))
    pins = vulnerable + clean
    rng.shuffle(pins)
    return pins, len(vulnerable)


def write_requirements(pins: list[Pin], path: Path) -> None:
    path.write_text("".join(f"{p.name}=={p.version}\n" for p in pins))


def write_uv_project(pins: list[Pin], directory: Path, index_url: str) -> None:
    """A uv project whose lock pins exactly these versions from the local index."""
    directory.mkdir(parents=True, exist_ok=True)
    deps = ", ".join(f'"{p.name}"' for p in pins)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "bench"\nversion = "0.1.0"\nrequires-python = ">=3.8"\n'
        f"dependencies = [{deps}]\n"
    )
    lines = [
        "version = 1",
        "revision = 3",
        'requires-python = ">=3.8"',
        "",
        "[[package]]",
        'name = "bench"',
        'version = "0.1.0"',
        'source = { virtual = "." }',
        "dependencies = [",
    ]
    lines += [f'    {{ name = "{p.name}" }},' for p in sorted(pins, key=lambda p: p.name)]
    lines += [
        "]",
        "",
        "[package.metadata]",
        "requires-dist = ["
        + ", ".join(f'{{ name = "{p.name}" }}' for p in sorted(pins, key=lambda p: p.name))
        + "]",
        "",
    ]
    for pin in sorted(pins, key=lambda p: p.name):
        lines += [
            "[[package]]",
            f'name = "{pin.name}"',
            f'version = "{pin.version}"',
            f'source = {{ registry = "{index_url}" }}',
            "",
        ]
    (directory / "uv.lock").write_text("\n".join(lines))
