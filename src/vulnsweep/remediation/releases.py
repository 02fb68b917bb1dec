"""What the index says about the releases a plan moves to: every file's sha256 (for
hash-pinned files) and upload times (to tell a line that has stopped from one that is
still released). Read from the PEP 691 project pages, once per project."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from packaging.version import Version

from vulnsweep.model import DeadEnd, canonical_name, parse_version, parsed_version_key, version_key

# A line of releases (major.minor) whose newest release is this much older than the
# project's newest is taken to have stopped: Django's 3.2, urllib3's 1.26.
STOPPED_AFTER = dt.timedelta(days=365)


@dataclass(frozen=True)
class ReleaseFile:
    """One file as a lock records it. The URL is absolute and carries no credentials."""

    filename: str
    url: str
    sha256: str
    size: int | None
    upload_time: str | None  # as the index wrote it (RFC 3339)
    requires_python: str | None


@dataclass
class ReleaseFiles:
    """One project's page, as the planner needs it."""

    hashes: dict[str, list[str]] = field(default_factory=dict)  # version key -> sha256s
    files: dict[str, list[ReleaseFile]] = field(default_factory=dict)  # version key -> files
    uploaded: dict[Version, dt.datetime] = field(default_factory=dict)  # newest file per release
    versions: list[Version] = field(default_factory=list)  # not yanked, ascending


def read_page(page: dict[str, object], page_url: str = "") -> ReleaseFiles:
    """Lenient: entries that cannot be read are passed over, never guessed at."""
    from urllib.parse import urljoin

    from vulnsweep.index.client import strip_credentials

    out = ReleaseFiles()
    live: set[Version] = set()
    files = page.get("files")
    for entry in files if isinstance(files, list) else ():
        if not isinstance(entry, dict):
            continue
        filename = str(entry.get("filename", ""))
        version = _version_of(filename)
        if version is None:
            continue
        key = parsed_version_key(version)
        hashes = entry.get("hashes")
        digest = hashes.get("sha256") if isinstance(hashes, dict) else None
        if isinstance(digest, str) and digest:
            found = out.hashes.setdefault(key, [])
            if digest.lower() not in found:
                found.append(digest.lower())
            url = entry.get("url")
            size = entry.get("size")
            uploaded = entry.get("upload-time")
            needs = entry.get("requires-python")
            if isinstance(url, str) and url:
                out.files.setdefault(key, []).append(
                    ReleaseFile(
                        filename,
                        strip_credentials(urljoin(page_url, url)).split("#", 1)[0],
                        digest.lower(),
                        size if isinstance(size, int) and not isinstance(size, bool) else None,
                        uploaded if isinstance(uploaded, str) else None,
                        needs if isinstance(needs, str) and needs else None,
                    )
                )
        when = _timestamp(entry.get("upload-time"))
        if when is not None and (version not in out.uploaded or out.uploaded[version] < when):
            out.uploaded[version] = when
        if entry.get("yanked") in (None, False):
            live.add(version)
    out.versions = sorted(live)
    for found in out.hashes.values():
        found.sort()
    return out


def _version_of(filename: str) -> Version | None:
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except ValueError:
        return None


def _timestamp(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _line(version: Version) -> tuple[int, int]:
    release = (*version.release, 0)
    return release[0], release[1]


def still_released(files: ReleaseFiles, line: tuple[int, int]) -> bool:
    """Upload times decide where the page has them; without them, only the newest line
    counts as still released."""
    versions = [v for v in files.versions if not v.is_prerelease]
    if not versions:
        return True
    newest_line = max(_line(v) for v in versions)
    if line == newest_line:
        return True
    times = [files.uploaded[v] for v in versions if v in files.uploaded]
    mine = [files.uploaded[v] for v in versions if _line(v) == line and v in files.uploaded]
    if not times or not mine:
        return False
    return max(times) - max(mine) <= STOPPED_AFTER


def backports(files: ReleaseFiles) -> bool:
    """Whether the project has released on an older line after a newer one began
    (Django, urllib3): only then is "the last release of its line" news. Projects that
    never backport (requests, idna, calendar-versioned certifi) are not flagged."""
    first_of: dict[tuple[int, int], dt.datetime] = {}
    for version, when in files.uploaded.items():
        if version.is_prerelease:
            continue
        line = _line(version)
        if line not in first_of or when < first_of[line]:
            first_of[line] = when
    for version, when in files.uploaded.items():
        line = _line(version)
        if any(other > line and began < when for other, began in first_of.items()):
            return True
    return False


def dead_end(
    name: str,
    version: str,
    files: ReleaseFiles,
    is_clean: Callable[[str], bool],
) -> DeadEnd | None:
    """A fix whose line has stopped, with the smallest clean release on a line that
    is still released (checked with `is_clean`, the audit's own answer)."""
    target = parse_version(version)
    if target is None or target.is_prerelease or not backports(files):
        return None
    line = _line(target)
    if still_released(files, line):
        return None
    in_line = [v for v in files.versions if _line(v) == line and not v.is_prerelease]
    last = max(in_line, default=target)
    when = files.uploaded.get(last)
    alternative = next(
        (
            str(v)
            for v in files.versions
            if v > target
            and not v.is_prerelease
            and _line(v) != line
            and still_released(files, _line(v))
            and is_clean(str(v))
        ),
        None,
    )
    return DeadEnd(
        canonical_name(name),
        version,
        f"{line[0]}.{line[1]}",
        f"{last}" + (f" on {when.date().isoformat()}" if when else ""),
        alternative,
    )


def hashes_for(
    pages: dict[str, ReleaseFiles], pins: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    out = {}
    for name, version in pins:
        files = pages.get(canonical_name(name))
        if files is not None:
            out[(canonical_name(name), version)] = files.hashes.get(version_key(version), [])
    return out
