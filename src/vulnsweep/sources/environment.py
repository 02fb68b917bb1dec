"""Installed environments, read from `*.dist-info` / `*.egg-info` metadata on disk.

pip is never run. For another interpreter we ask it once for its site directories
with `-I -S` (isolated, no `site` import), so no `.pth` file or package code runs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

from vulnsweep.errors import InputError
from vulnsweep.model import Dependency, Origin, SkippedDependency
from vulnsweep.sources import Collected

log = logging.getLogger(__name__)

_SITE_QUERY = (
    "import json, site, sys\n"
    "paths = site.getsitepackages() if hasattr(site, 'getsitepackages') else []\n"
    "user = site.getusersitepackages() if hasattr(site, 'getusersitepackages') else None\n"
    "print(json.dumps({'paths': paths, 'user': user, 'prefix': sys.prefix,"
    " 'base_prefix': getattr(sys, 'base_prefix', sys.prefix)}))\n"
)


def current_site_dirs(local_only: bool = False) -> list[str]:
    """This interpreter's import path directories that can hold distributions."""
    dirs = [p for p in sys.path if p and os.path.isdir(p)]
    if local_only and sys.prefix != sys.base_prefix:
        prefix = os.path.realpath(sys.prefix)
        dirs = [d for d in dirs if os.path.realpath(d).startswith(prefix + os.sep)]
    return dirs


def interpreter_site_dirs(python: str, local_only: bool = False) -> list[str]:
    try:
        proc = subprocess.run(
            [python, "-I", "-S", "-c", _SITE_QUERY],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(python, "no such interpreter") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(python, f"cannot run the interpreter: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(python, f"interpreter failed to report its paths: {last}")
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise InputError(python, "interpreter printed something other than its paths") from None
    paths = [str(p) for p in info["paths"]]
    if not local_only and info.get("user"):
        paths.append(str(info["user"]))
    if local_only and info["prefix"] != info["base_prefix"]:
        prefix = os.path.realpath(info["prefix"])
        paths = [p for p in paths if os.path.realpath(p).startswith(prefix + os.sep)]
    return [p for p in paths if os.path.isdir(p)]


class EnvironmentSource:
    def __init__(self, site_dirs: Sequence[str], *, skip_editable: bool = False) -> None:
        self.site_dirs = list(site_dirs)
        self.skip_editable = skip_editable

    def collect(self) -> Iterator[Collected]:
        for site_dir in self.site_dirs:
            if not os.path.isdir(site_dir):
                raise InputError(site_dir, "not a directory")
            try:
                distributions = list(metadata.distributions(path=[site_dir]))
            except OSError as exc:
                raise InputError(site_dir, f"cannot read: {exc.strerror or exc}") from None
            for dist in sorted(distributions, key=_dist_path):
                yield from self._one(dist, site_dir)

    def _one(self, dist: metadata.Distribution, site_dir: str) -> Iterator[Collected]:
        origin = Origin(_dist_path(dist) or site_dir)
        name = dist.metadata["Name"] if dist.metadata else None
        version = dist.version if dist.metadata else None
        if not name:
            log.warning("%s: distribution metadata without a Name; not audited", origin)
            yield SkippedDependency(
                name=origin.path, origins=(origin,), reason="installed metadata has no Name"
            )
            return
        if not version:
            yield SkippedDependency(
                name=name, origins=(origin,), reason="installed metadata has no Version"
            )
            return
        if _is_editable(dist):
            if not self.skip_editable:
                yield SkippedDependency(
                    name=name,
                    version=version,
                    origins=(origin,),
                    reason="editable install of a local project: its code is not a release",
                )
            return
        yield Dependency(name=name, version=version, origins=(origin,))


def _dist_path(dist: metadata.Distribution) -> str:
    path = getattr(dist, "_path", None)
    return str(path) if path is not None else ""


def _is_editable(dist: metadata.Distribution) -> bool:
    try:
        text = dist.read_text("direct_url.json")
    except OSError:
        return False
    if not text:
        return False
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return bool((data.get("dir_info") or {}).get("editable"))


def site_dirs_from_args(
    paths: Sequence[str],
    python: str | None,
    local_only: bool,
) -> list[str]:
    if paths:
        for path in paths:
            if not Path(path).is_dir():
                raise InputError(path, "--path must name a site-packages directory")
        return list(paths)
    if python:
        return interpreter_site_dirs(python, local_only)
    return current_site_dirs(local_only)
