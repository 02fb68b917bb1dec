"""The environment being audited: PEP 508 marker values (this interpreter, or another
described by --python-version, --platform and --marker-environment), its Python
version and the wheel tags pip would accept there -- one place for sources (markers)
and resolution (tags) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from vulnsweep.errors import InputError, UsageError

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
            import platform

            machine = self.marker_values.get("platform_machine") or platform.machine()
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


PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
}


MARKER_VARIABLES = frozenset(
    {
        "implementation_name",
        "implementation_version",
        "os_name",
        "platform_machine",
        "platform_python_implementation",
        "platform_release",
        "platform_system",
        "platform_version",
        "python_full_version",
        "python_version",
        "sys_platform",
    }
)


def target_environment(
    python_version: str | None,
    platform: str | None,
    marker_file: str | None = None,
) -> dict[str, str] | None:
    """Marker values for the environment being audited; None means this interpreter.

    `marker_file` is a JSON object of PEP 508 marker variables (what
    `packaging.markers.default_environment()` gives on the production host);
    --python-version and --platform then apply on top of it."""
    if python_version is None and platform is None and marker_file is None:
        return None
    from packaging.markers import default_environment

    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    if marker_file is not None:
        env.update(_read_marker_file(marker_file))
    if python_version is not None:
        parts = python_version.split(".")
        if not (2 <= len(parts) <= 3 and all(p.isdigit() for p in parts)):
            raise UsageError(
                f"--python-version must look like 3.12 or 3.12.1, got {python_version!r}"
            )
        env["python_version"] = ".".join(parts[:2])
        env["python_full_version"] = ".".join(parts) if len(parts) == 3 else f"{python_version}.0"
    if platform is not None:
        if platform not in PLATFORMS:
            raise UsageError(f"--platform must be one of {', '.join(PLATFORMS)}")
        env.update(PLATFORMS[platform])
    return env


def _read_marker_file(path: str) -> dict[str, str]:
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a JSON marker environment: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(path, "a marker environment must be a JSON object")
    unknown = sorted(set(data) - MARKER_VARIABLES)
    if unknown:
        raise InputError(path, f"unknown marker variables: {', '.join(unknown)}")
    bad = sorted(k for k, v in data.items() if not isinstance(v, str))
    if bad:
        raise InputError(path, f"marker values must be strings: {', '.join(bad)}")
    return dict(data)


def platform_of(environment: dict[str, str] | None) -> str | None:
    """--platform's name for a marker environment's sys_platform (for wheel tags)."""
    if environment is None:
        return None
    return {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(
        environment.get("sys_platform", "")
    )
