"""PEP 508 requirement text -> what can be audited: a name and an exact pin (or why
not), with markers evaluated for the target environment. Plain `name==version` lines
take a fast path that never imports packaging.requirements (~70 ms)."""

from __future__ import annotations

import functools
import logging
import re
from typing import TYPE_CHECKING

from vulnsweep.errors import LineError
from vulnsweep.model import (
    Dependency,
    Origin,
    RequirementLine,
    SkippedDependency,
    canonical_name,
)
from vulnsweep.redact import cut

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from vulnsweep.sources import Collected

log = logging.getLogger("vulnsweep.sources.requirements")

# name[extras] == version, nothing else: the shape of almost every line in a pinned
# file, parsed without importing packaging.requirements (which costs ~70 ms).
# Lines with [extras] take the full parser: resolution needs the extras.
SIMPLE_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?P<op>===?)\s*(?P<version>[A-Za-z0-9._+!-]+)\s*$"
)

# The same pin followed only by --hash options (pip-compile --generate-hashes).
HASHED_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*"
    r"(?P<op>===?)\s*(?P<version>[A-Za-z0-9._+!-]+)(?:\s+--hash[=\s]\S+)+\s*$"
)

PIN_AND_MARKER = re.compile(r"^(?P<pin>[^;@]+?)\s*;\s*(?P<marker>[^;]+)$")


def parse_requirement(
    text: str, origin: Origin, marker_environment: dict[str, str] | None
) -> tuple[str, str | None, Requirement | None] | SkippedDependency | None:
    """(name, exact pin or None, parsed requirement); a skip; None if the marker is false.

    Raises LineError for text that is not a PEP 508 requirement.
    """
    match = SIMPLE_PIN.match(text)
    if match:
        return match["name"], match["version"], None
    with_marker = PIN_AND_MARKER.match(text)
    if with_marker is not None:
        match = SIMPLE_PIN.match(with_marker["pin"])
        if match is not None:
            # The common `name==1.0 ; python_version < "3.9"`: only the marker needs
            # packaging, and a tree repeats the same few markers thousands of times.
            holds = _marker_holds(with_marker["marker"], marker_environment)
            if holds is None:
                raise LineError(
                    origin.path,
                    f"invalid marker in {cut(text)!r}: {cut(with_marker['marker'].strip())!r}",
                    origin.line,
                )
            if not holds:
                log.info(
                    "%s: %s not audited: marker %s is false for the target environment",
                    origin,
                    match["name"],
                    with_marker["marker"],
                )
                return None
            return match["name"], match["version"], None
    from packaging.requirements import InvalidRequirement

    try:
        requirement = _requirement(text)
    except InvalidRequirement as exc:
        wheel = _bare_wheel(text)
        if wheel is not None:
            # `./dist/numpy-1.9.2-cp34-none-win32.whl` or a wheel URL on its own: pip
            # installs that release, and its file name says which one.
            wheel_name, wheel_version = wheel
            return wheel_name, wheel_version, _requirement(f"{wheel_name}=={wheel_version}")
        if _looks_like_reference(text):
            named = editable_name(text)
            version = version_from_url(text, named) if named != text else None
            if version is not None:
                # `https://.../Flask-0.11.1.tar.gz#egg=Flask`: pip installs that release.
                return named, version, _requirement(f"{named}=={version}")
            return SkippedDependency(
                name=named,
                origins=(origin,),
                reason=f"direct reference {cut(text)!r}: its name or version is only known "
                "by building it, which vulnsweep never does; not audited",
                unresolved=True,
            )
        first = cut(str(exc).splitlines()[0])
        raise LineError(
            origin.path, f"invalid requirement {cut(text)!r}: {first}", origin.line
        ) from None
    if requirement.marker is not None and not _evaluate(
        requirement, text, origin, marker_environment
    ):
        log.info(
            "%s: %s not audited: marker %s is false for the target environment",
            origin,
            requirement.name,
            requirement.marker,
        )
        return None
    if requirement.url:
        version = version_from_url(requirement.url, requirement.name)
        if version is None:
            return SkippedDependency(
                name=requirement.name,
                origins=(origin,),
                reason=f"direct reference to {_redact(requirement.url)}: its version is only "
                "known by building it, which vulnsweep never does; not audited",
                unresolved=True,
            )
        return requirement.name, version, requirement
    return requirement.name, _exact_pin(requirement), requirement


def _evaluate(
    requirement: Requirement, text: str, origin: Origin, environment: dict[str, str] | None
) -> bool:
    from packaging.markers import InvalidMarker, UndefinedComparison

    assert requirement.marker is not None
    try:
        return requirement.marker.evaluate(environment)
    except (InvalidMarker, UndefinedComparison, ValueError) as exc:
        raise LineError(
            origin.path, f"invalid marker in {cut(text)!r}: {cut(str(exc))}", origin.line
        ) from None


def _marker_holds(marker: str, environment: dict[str, str] | None) -> bool | None:
    key = tuple(sorted(environment.items())) if environment is not None else None
    return _marker_cached(marker.strip(), key)


@functools.lru_cache(maxsize=4096)
def _marker_cached(marker: str, environment: tuple[tuple[str, str], ...] | None) -> bool | None:
    """True/False, or None when the marker is invalid."""
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison

    try:
        return Marker(marker).evaluate(dict(environment) if environment is not None else None)
    except (InvalidMarker, UndefinedComparison, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def _requirement(text: str) -> Requirement:
    """Parsed once per distinct text: a monorepo repeats the same lines many times."""
    from packaging.requirements import Requirement

    return Requirement(text)


def requirement_to_pin(
    text: str,
    origin: Origin,
    marker_environment: dict[str, str] | None,
    *,
    resolving: bool = False,
) -> Collected | RequirementLine | None:
    """One PEP 508 string (pyproject, SBOM, ...) as an auditable pin or a skip; when
    `resolving`, an unpinned requirement comes back as a line to resolve."""
    try:
        parsed = parse_requirement(text, origin, marker_environment)
    except LineError as exc:
        return SkippedDependency(name=text[:80], origins=(origin,), reason=str(exc), error=True)
    if parsed is None or isinstance(parsed, SkippedDependency):
        return parsed
    name, version, _ = parsed
    if version is None and resolving:
        return RequirementLine(text, origin)
    if version is None:
        return SkippedDependency(
            name=name,
            origins=(origin,),
            reason=f"requirement {text!r} is not pinned with == or ===; pin it or audit a "
            "lock file",
        )
    return Dependency(name=name, version=version, origins=(origin,))


def _exact_pin(requirement: Requirement) -> str | None:
    for spec in requirement.specifier:
        if spec.operator == "===" or (spec.operator == "==" and "*" not in spec.version):
            return spec.version
    return None


def version_from_url(url: str, name: str) -> str | None:
    """The exact version a wheel or sdist URL names: pip installs that release, or
    fails when the file's metadata disagrees with its name. VCS URLs and local
    directories name none (only a build would tell)."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    filename = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[-1]
    try:
        if filename.endswith(".whl"):
            found, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            found, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    if found != canonical_name(name):
        return None
    return str(version)


def _bare_wheel(text: str) -> tuple[str, str] | None:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    location = text.split("#", 1)[0].split("?", 1)[0].strip()
    if not location.endswith(".whl") or " " in location:
        return None
    try:
        name, version, _, _ = parse_wheel_filename(location.rsplit("/", 1)[-1])
    except InvalidWheelFilename:
        return None
    return str(name), str(version)


def _looks_like_reference(text: str) -> bool:
    return (
        "://" in text
        or text.startswith((".", "/", "~"))
        or text.endswith((".whl", ".zip", ".tar.gz", ".tgz"))
    )


def _redact(url: str) -> str:
    from vulnsweep.redact import redact_url

    return redact_url(url)


def editable_name(value: str) -> str:
    match = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", value)
    return match[1] if match else value
