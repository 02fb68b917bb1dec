"""The environment being resolved for: marker values, Python version and wheel tags.

The running interpreter by default; `--python-version`/`--platform` describe another
one (a CI box auditing what production installs), with the tags pip would accept there.
"""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.tags import Tag
    from packaging.version import Version

# Platform tags a wheel may carry to install on each --platform (x86-64 / arm64 hosts).
_PLATFORM_TAGS = {
    "linux": [
        *(f"manylinux_2_{minor}_x86_64" for minor in range(39, 4, -1)),
        "manylinux2014_x86_64",
        "manylinux2010_x86_64",
        "manylinux1_x86_64",
        "linux_x86_64",
    ],
    "macos": [
        *(
            f"macosx_{major}_0_{arch}"
            for major in range(15, 10, -1)
            for arch in ("arm64", "universal2")
        ),
        *(
            f"macosx_10_{minor}_{arch}"
            for minor in range(16, 8, -1)
            for arch in ("x86_64", "universal2", "intel")
        ),
    ],
    "windows": ["win_amd64"],
}


@dataclass(frozen=True)
class TargetEnvironment:
    """`markers` None means the running interpreter (and its own tags)."""

    markers: dict[str, str] | None = None
    platform: str | None = None

    @cached_property
    def marker_values(self) -> dict[str, str]:
        from packaging.markers import default_environment

        values = {k: str(v) for k, v in default_environment().items()}
        values.update(self.markers or {})
        return values

    @cached_property
    def python_version(self) -> Version:
        from packaging.version import Version

        return Version(self.marker_values["python_full_version"])

    @cached_property
    def tag_rank(self) -> dict[Tag, int]:
        """Each acceptable wheel tag and its priority (lower is better), as pip orders them."""
        from packaging import tags

        if self.markers is None:
            ordered = list(tags.sys_tags())
        else:
            version = self.python_version.release[:2]
            abi = f"cp{version[0]}{version[1]}"
            platforms = (
                _PLATFORM_TAGS[self.platform]
                if self.platform in _PLATFORM_TAGS
                else list(tags.platform_tags())
            )
            machine = self.marker_values.get("platform_machine") or _platform.machine()
            if machine in ("aarch64", "arm64") and self.platform == "linux":
                platforms = [p.replace("x86_64", "aarch64") for p in platforms]
            ordered = [
                *tags.cpython_tags(version, abis=[abi, "abi3", "none"], platforms=platforms),
                *tags.compatible_tags(version, abi, platforms=platforms),
            ]
        return {tag: rank for rank, tag in enumerate(ordered)}

    def evaluate(self, marker: object, extras: frozenset[str] = frozenset()) -> bool:
        """A requirement's marker, true when it holds for any requested extra (or none)."""
        from packaging.markers import Marker

        assert isinstance(marker, Marker)
        values = dict(self.marker_values)
        for extra in extras or ("",):
            values["extra"] = extra
            if marker.evaluate(values):
                return True
        return False
