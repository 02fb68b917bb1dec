"""pylock.toml (PEP 751) written directly: the format is a standard with no single
owning tool, and every field a moved release needs comes from the index's PEP 691
page (file names, absolute URLs, sizes, upload times, sha256).

A moved package's `[[packages]]` entry is rendered anew (its `marker` and `index`
kept; release-specific data such as `dependencies` and attestations dropped rather
than left stale); a package the fix needs is added; nothing else is touched. A lock
is universal, so a package the new set does not need here is kept, not removed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from vulnsweep.errors import InputError
from vulnsweep.remediation.releases import ReleaseFile
from vulnsweep.remediation.tomltext import split_packages

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")

Files = Callable[[str, str], list[ReleaseFile]]


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _file(path: Path, record: ReleaseFile) -> str:
    parts = [f"name = {_string(record.filename)}", f"url = {_string(record.url)}"]
    if record.upload_time and _DATETIME.match(record.upload_time):
        parts.append(f"upload-time = {record.upload_time}")
    if record.size is not None:
        parts.append(f"size = {record.size}")
    parts.append(f"hashes = {{ sha256 = {_string(record.sha256)} }}")
    return "{ " + ", ".join(parts) + " }"


def render(path: Path, name: str, version: str, files: list[ReleaseFile],
           keep: Mapping[str, object]) -> str:  # fmt: skip
    if not files:
        raise InputError(
            str(path),
            f"the index lists no files with hashes for {name}=={version}: refusing to "
            "write a lock entry without them",
        )
    wheels = [f for f in files if f.filename.endswith(".whl")]
    sdists = [f for f in files if not f.filename.endswith(".whl")]
    lines = ["[[packages]]", f"name = {_string(name)}", f"version = {_string(version)}"]
    if isinstance(keep.get("marker"), str):
        lines.append(f"marker = {_string(str(keep['marker']))}")
    needs = next((f.requires_python for f in files if f.requires_python), None)
    if needs:
        lines.append(f"requires-python = {_string(needs)}")
    if isinstance(keep.get("index"), str):
        lines.append(f"index = {_string(str(keep['index']))}")
    if sdists:
        lines.append(f"sdist = {_file(path, sdists[0])}")
    if wheels:
        lines.append("wheels = [")
        lines += [f"    {_file(path, w)}," for w in wheels]
        lines.append("]")
    return "\n".join(lines) + "\n"


def rewrite(
    path: Path,
    text: str,
    moved: Mapping[str, str],
    added: Mapping[str, str],
    files: Files,
) -> str:
    """`moved` and `added`: canonical name -> new version."""
    out: list[str] = []
    last_package = -1
    for name, body in split_packages(text, "packages"):
        if name is not None and name in moved:
            try:
                old = tomllib.loads(body)["packages"][0]
            except (tomllib.TOMLDecodeError, KeyError, IndexError):
                raise InputError(str(path), f"cannot read the entry of {name} to rewrite") from None
            trailing = body[len(body.rstrip("\n")) :]
            rendered = render(path, name, moved[name], files(name, moved[name]), old)
            body = rendered + trailing[1:] if trailing else rendered
        out.append(body)
        if name is not None:
            last_package = len(out) - 1
    if added:
        new = "".join("\n" + render(path, n, v, files(n, v), {}) for n, v in sorted(added.items()))
        at = last_package if last_package >= 0 else len(out) - 1
        out[at] = out[at].rstrip("\n") + "\n" + new + ("\n" if at < len(out) - 1 else "")
    after = "".join(out)
    try:
        tomllib.loads(after)
    except tomllib.TOMLDecodeError as exc:  # never write what no reader can read
        raise InputError(str(path), f"the rewritten lock would not be valid TOML: {exc}") from None
    return after
