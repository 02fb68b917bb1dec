"""Every requirements file pip's own parser accepts, vulnsweep accepts too, with the
same requirements: checked against pip itself over the real files in tests/data and,
when it sits beside the checkout, every requirements file in shared/corpora."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from vulnsweep.model import Dependency, ResolutionRequest, SkippedDependency
from vulnsweep.sources import deduplicate
from vulnsweep.sources.requirements.source import RequirementsSource

pip_req_file = pytest.importorskip("pip._internal.req.req_file")
pip_constructors = pytest.importorskip("pip._internal.req.constructors")
pip_session = pytest.importorskip("pip._internal.network.session")

DATA = Path(__file__).resolve().parents[1] / "data" / "requirements"
CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"


def requirement_files() -> list[Path]:
    roots = [DATA, CORPORA] if CORPORA.is_dir() else [DATA]
    return sorted(
        p for root in roots for p in root.rglob("*") if p.is_file() and p.suffix in (".txt", ".in")
    )


@contextlib.contextmanager
def inside(directory: Path) -> Iterator[None]:
    """pip resolves relative includes and paths against the working directory too."""
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


def pip_names(path: Path) -> set[str] | None:
    """Names pip would install at a known version (from an index, or a wheel URL), or
    None when pip refuses the file."""
    session = pip_session.PipSession()
    names = set()
    try:
        for parsed in pip_req_file.parse_requirements(str(path), session=session):
            if parsed.constraint:
                continue
            requirement = pip_constructors.install_req_from_parsed_requirement(parsed)
            if requirement.editable:
                continue
            link = requirement.link
            if (
                link is not None
                and not link.is_wheel
                and not _names_its_release(link.filename, requirement.name)
            ):
                continue  # a direct reference with no version to audit (vulnsweep skips it)
            if requirement.match_markers():
                names.add(canonicalize_name(requirement.name))
    except Exception:  # any refusal of pip's (its exception types vary by version)
        return None
    finally:
        session.close()
    return names


def _names_its_release(filename: str, name: str | None) -> bool:
    """An sdist whose file name states its project and version: pip installs exactly
    that release (it refuses the file if its metadata says otherwise)."""
    from packaging.utils import InvalidSdistFilename, parse_sdist_filename

    try:
        project, _ = parse_sdist_filename(filename.split("#")[0].split("?")[0])
    except InvalidSdistFilename:
        return False
    return name is not None and project == canonicalize_name(name)


def vulnsweep_names(path: Path) -> set[str]:
    requests: list[ResolutionRequest] = []
    dependencies, skipped = deduplicate(
        RequirementsSource([str(path)], resolve=True).collect(), requests
    )
    names = {d.canonical_name for d in dependencies if isinstance(d, Dependency)}
    for request in requests:
        for line in request.requirements:
            from packaging.requirements import Requirement

            parsed = Requirement(line.text)
            named = parsed.url is None or _names_its_release(
                parsed.url.rsplit("/", 1)[-1], parsed.name
            )
            if named and (parsed.marker is None or parsed.marker.evaluate()):
                names.add(canonicalize_name(parsed.name))
    # A pin pip parses but never installs (it follows an option) is a skipped entry.
    names |= {s.canonical_name for s in skipped if isinstance(s, SkippedDependency) and s.version}
    return names


@pytest.mark.parametrize(
    "path", requirement_files(), ids=lambda p: str(p).rsplit("corpora/", 1)[-1]
)
def test_every_file_pip_accepts_is_read_the_same(path: Path) -> None:
    logging.disable(logging.WARNING)
    try:
        with inside(path.parent):
            expected = pip_names(path)
            if expected is None:
                pytest.skip("pip refuses this file too")
            assert vulnsweep_names(path) == expected
    finally:
        logging.disable(logging.NOTSET)
