"""VEX in: OpenVEX 0.2 and CycloneDX 1.5/1.6 VEX documents, read into statements that
policy matches to findings by vulnerability id or alias and by product purl
(`pkg:pypi/name@version`, or versionless for every version).

A `not_affected` statement suppresses its findings (they stay listed, as suppressed,
with the statement's justification, author and timestamp); `affected`,
`under_investigation` and `fixed` annotate them. A statement that matches nothing is
named once; a file that is not VEX is an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from vulnsweep.errors import InputError
from vulnsweep.model import Finding, VexStatement, canonical_name, version_key

# CycloneDX analysis states, in OpenVEX's words.
_CYCLONEDX_STATE = {
    "not_affected": "not_affected",
    "false_positive": "not_affected",
    "exploitable": "affected",
    "in_triage": "under_investigation",
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
}


def pypi_purl(text: str) -> tuple[str, str | None] | None:
    """(canonical name, version or None) of a `pkg:pypi/...` purl; None for others."""
    if not text.lower().startswith("pkg:pypi/"):
        return None
    rest = text[len("pkg:pypi/") :].split("#", 1)[0].split("?", 1)[0]
    name, _, version = rest.partition("@")
    if not name:
        return None
    return canonical_name(unquote(name)), unquote(version) or None


def read_vex(path: str) -> list[VexStatement]:
    try:
        document = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    except ValueError:
        raise InputError(path, "not a VEX document (not JSON)") from None
    if isinstance(document, dict) and "openvex" in str(document.get("@context", "")):
        statements = list(_openvex(path, document))
    elif isinstance(document, dict) and document.get("bomFormat") == "CycloneDX":
        statements = list(_cyclonedx(path, document))
    else:
        raise InputError(path, "not a VEX document (neither OpenVEX nor CycloneDX)")
    return statements


def _openvex(path: str, document: dict[str, Any]) -> Iterator[VexStatement]:
    author = document.get("author") if isinstance(document.get("author"), str) else None
    stamp = document.get("timestamp") if isinstance(document.get("timestamp"), str) else None
    for number, statement in enumerate(document.get("statements") or (), start=1):
        if not isinstance(statement, dict):
            continue
        vulnerability = statement.get("vulnerability")
        if isinstance(vulnerability, str):
            ids = {vulnerability}
        elif isinstance(vulnerability, dict):
            ids = {str(vulnerability.get("name", ""))} | {
                str(a) for a in vulnerability.get("aliases") or () if isinstance(a, str)
            }
        else:
            ids = set()
        products = []
        for product in statement.get("products") or ():
            purl = product if isinstance(product, str) else None
            if isinstance(product, dict):
                identifiers = product.get("identifiers") or {}
                purl = identifiers.get("purl") if isinstance(identifiers, dict) else None
                purl = purl or product.get("@id")
            parsed = pypi_purl(purl) if isinstance(purl, str) else None
            if parsed is not None:
                products.append(parsed)
        yield VexStatement(
            ids=frozenset(i for i in ids if i),
            products=tuple(products),
            status=str(statement.get("status", "")),
            justification=_text(statement.get("justification")),
            detail=_text(statement.get("impact_statement") or statement.get("action_statement")),
            author=author,
            timestamp=_text(statement.get("timestamp")) or stamp,
            source=f"{path}: statement {number}",
        )


def _cyclonedx(path: str, document: dict[str, Any]) -> Iterator[VexStatement]:
    refs: dict[str, str] = {}
    for component in document.get("components") or ():
        if isinstance(component, dict) and isinstance(component.get("purl"), str):
            refs[str(component.get("bom-ref", component["purl"]))] = component["purl"]
    author = None
    metadata = document.get("metadata") or {}
    authors = metadata.get("authors") if isinstance(metadata, dict) else None
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        author = _text(authors[0].get("name"))
    for number, vulnerability in enumerate(document.get("vulnerabilities") or (), start=1):
        if not isinstance(vulnerability, dict) or not isinstance(
            vulnerability.get("analysis"), dict
        ):
            continue
        analysis = vulnerability["analysis"]
        ids = {str(vulnerability.get("id", ""))} | {
            str(r.get("id")) for r in vulnerability.get("references") or () if isinstance(r, dict)
        }
        products = []
        for affected in vulnerability.get("affects") or ():
            ref = affected.get("ref") if isinstance(affected, dict) else None
            parsed = pypi_purl(refs.get(str(ref), str(ref))) if ref else None
            if parsed is not None:
                products.append(parsed)
        state = str(analysis.get("state", ""))
        justification = _text(analysis.get("justification"))
        if state == "false_positive":
            justification = justification or "false_positive"
        yield VexStatement(
            ids=frozenset(i for i in ids if i and i != "None"),
            products=tuple(products),
            status=_CYCLONEDX_STATE.get(state, state),
            justification=justification,
            detail=_text(analysis.get("detail")),
            author=author,
            timestamp=_text(analysis.get("lastUpdated") or analysis.get("firstIssued")),
            source=f"{path}: vulnerability {number}",
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Vex:
    """Statements from every `--vex` file; which one applies to a finding."""

    def __init__(self, statements: Iterable[VexStatement]) -> None:
        self.statements = list(statements)
        self.used: set[int] = set()

    def match(self, finding: Finding) -> VexStatement | None:
        dep, ids = finding.dependency, finding.vulnerability.ids
        for index, statement in enumerate(self.statements):
            if not statement.ids & ids:
                continue
            for name, version in statement.products:
                if name == dep.canonical_name and (
                    version is None or version_key(version) == dep.key[1]
                ):
                    self.used.add(index)
                    return statement
        return None

    def unused(self) -> list[str]:
        return [
            f"VEX {s.source} ({', '.join(sorted(s.ids)) or 'no id'}) matched no finding"
            for i, s in enumerate(self.statements)
            if i not in self.used
        ]
