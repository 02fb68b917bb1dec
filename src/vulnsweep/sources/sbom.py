"""SBOM input: CycloneDX (JSON or XML) and SPDX (JSON).

Components with a `pkg:pypi/...` purl and a version are audited; the rest are
counted and skipped. XML is parsed with defusedxml, which refuses entity expansion
and external entities outright (a hostile SBOM cannot blow up memory or read files).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from vulnsweep.errors import InputError
from vulnsweep.model import Dependency, Origin, SkippedDependency
from vulnsweep.sources import Collected
from vulnsweep.sources.text import read_file

_PURL = re.compile(r"^pkg:(?P<type>[^/]+)/(?P<rest>[^?#]+)")


def parse_pypi_purl(purl: str) -> tuple[str, str | None] | None:
    """(name, version) of a pkg:pypi purl; None for other package types."""
    match = _PURL.match(purl.strip())
    if not match or match["type"].lower() != "pypi":
        return None
    rest = match["rest"]
    name, _, version = rest.rpartition("@") if "@" in rest else (rest, "", "")
    name = unquote(name.rsplit("/", 1)[-1])
    return name, unquote(version) or None


def looks_like_sbom(path: Path, head: str) -> bool:
    name = path.name.lower()
    if name.endswith((".cdx.json", ".cdx.xml", ".spdx.json")) or name in ("bom.json", "bom.xml"):
        return True
    return '"bomFormat"' in head or '"spdxVersion"' in head or "cyclonedx.org/schema/bom" in head


class SbomSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[Collected]:
        display = str(self.path)
        text = read_file(self.path)
        if text.lstrip().startswith("<"):
            yield from self._cyclonedx_xml(display, text)
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(display, f"invalid JSON: {exc.msg}", exc.lineno) from None
        if not isinstance(data, dict):
            raise InputError(display, "SBOM is not a JSON object")
        if data.get("bomFormat") == "CycloneDX":
            lines = _PurlLines(text.splitlines())
            yield from self._components(display, lines, data.get("components") or [])
        elif "spdxVersion" in data:
            yield from self._spdx(display, text, data)
        else:
            raise InputError(display, "neither a CycloneDX nor an SPDX JSON document")

    def _components(
        self, path: str, lines: _PurlLines, components: list[Any]
    ) -> Iterator[Collected]:
        for component in components:
            if not isinstance(component, dict):
                continue
            purl = component.get("purl")
            yield self._from_purl(
                path, purl, str(component.get("name", purl or "?")), component.get("version"), lines
            )
            yield from self._components(path, lines, component.get("components") or [])

    def _spdx(self, path: str, text: str, data: dict[str, Any]) -> Iterator[Collected]:
        lines = _PurlLines(text.splitlines())
        for package in data.get("packages") or []:
            if not isinstance(package, dict):
                continue
            purl = next(
                (
                    ref.get("referenceLocator")
                    for ref in package.get("externalRefs") or []
                    if isinstance(ref, dict) and ref.get("referenceType") == "purl"
                ),
                None,
            )
            yield self._from_purl(
                path, purl, str(package.get("name", "?")), package.get("versionInfo"), lines
            )

    def _from_purl(
        self, path: str, purl: Any, name: str, version: Any, lines: _PurlLines
    ) -> Collected:
        line = lines.get(purl) if isinstance(purl, str) else None
        origin = Origin(path, line)
        parsed = parse_pypi_purl(purl) if isinstance(purl, str) else None
        if parsed is None:
            return SkippedDependency(
                name=name, origins=(origin,), reason="not a PyPI package (no pkg:pypi purl)"
            )
        purl_name, purl_version = parsed
        version = purl_version or (version if isinstance(version, str) else None)
        if not version:
            return SkippedDependency(
                name=purl_name, origins=(origin,), reason="SBOM component has no version"
            )
        return Dependency(name=purl_name, version=version, origins=(origin,))

    def _cyclonedx_xml(self, path: str, text: str) -> Iterator[Collected]:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring

        try:
            root = fromstring(text, forbid_dtd=True)
        except DefusedXmlException as exc:
            raise InputError(
                path,
                f"refused unsafe XML ({type(exc).__name__}): entity "
                "declarations are not allowed in an SBOM",
            ) from None
        except ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else None
            raise InputError(path, f"invalid XML: {exc.msg}", line) from None
        namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        if root.tag != f"{namespace}bom" or "cyclonedx" not in namespace:
            raise InputError(path, "not a CycloneDX XML document")
        lines = _PurlLines(text.splitlines())
        # The BOM's own components and their nested ones, as the JSON reader reads them:
        # never metadata/component (the subject) or metadata/tools (who made the BOM).
        pending = root.findall(f"{namespace}components/{namespace}component")[::-1]
        while pending:  # depth first, in document order
            component = pending.pop()
            purl = component.findtext(f"{namespace}purl")
            name = component.findtext(f"{namespace}name") or purl or "?"
            version = component.findtext(f"{namespace}version")
            yield self._from_purl(path, purl, name, version, lines)
            pending += component.findall(f"{namespace}components/{namespace}component")[::-1]


_PURL_IN_TEXT = re.compile(r"pkg:[^\"'<>\s]+")


class _PurlLines:
    """purl -> first line it appears on, built in one pass (SBOMs can be huge)."""

    def __init__(self, lines: list[str]) -> None:
        self.index: dict[str, int] = {}
        for number, line in enumerate(lines, start=1):
            for match in _PURL_IN_TEXT.finditer(line):
                self.index.setdefault(match.group(0), number)

    def get(self, purl: str) -> int | None:
        return self.index.get(purl.strip())
