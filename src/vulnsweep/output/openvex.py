"""-f openvex: an OpenVEX 0.2 document with a statement for every finding: `affected`
with what to do, or `not_affected` with the justification a VEX input gave, or the
ignore policy's reason as the impact statement. It validates against OpenVEX's schema."""

from __future__ import annotations

import hashlib
from typing import Any, BinaryIO
from urllib.parse import quote

import orjson

from vulnsweep import __version__
from vulnsweep.model import AuditResult, Finding
from vulnsweep.output import OutputOptions

CONTEXT = "https://openvex.dev/ns/v0.2.0"
JUSTIFICATIONS = {
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
}


def purl(finding: Finding) -> str:
    dep = finding.dependency
    return f"pkg:pypi/{quote(dep.canonical_name)}@{quote(dep.version, safe='+')}"


class OpenVexWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        statements = [self._statement(f, result) for f in result.findings]
        stamp = result.generated_at or "1970-01-01T00:00:00Z"
        digest = hashlib.sha256(orjson.dumps(statements, option=orjson.OPT_SORT_KEYS))
        document: dict[str, Any] = {
            "@context": CONTEXT,
            "@id": f"urn:vulnsweep:openvex:{digest.hexdigest()[:32]}",
            "author": "vulnsweep",
            "role": "Document Creator",
            "timestamp": stamp,
            "version": 1,
            "tooling": f"vulnsweep {__version__}",
            "statements": statements,
        }
        stream.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")

    def _statement(self, finding: Finding, result: AuditResult) -> dict[str, Any]:
        vuln = finding.vulnerability
        statement: dict[str, Any] = {
            "vulnerability": {
                "name": vuln.id,
                **({"aliases": list(vuln.aliases)} if vuln.aliases else {}),
            },
            "products": [{"@id": purl(finding)}],
        }
        given = finding.vex
        if finding.ignored:
            statement["status"] = "not_affected"
            if given is not None and given.justification in JUSTIFICATIONS:
                statement["justification"] = given.justification
                if given.detail:
                    statement["impact_statement"] = given.detail
            else:
                statement["impact_statement"] = finding.ignored_reason or "ignored by policy"
        elif given is not None and given.status in ("fixed", "under_investigation"):
            statement["status"] = given.status
        else:
            statement["status"] = "affected"
            fixes = ", ".join(vuln.fix_versions)
            statement["action_statement"] = (
                f"Upgrade {finding.dependency.canonical_name} to one of: {fixes}"
                if fixes
                else "No fix version is known: remove or replace the dependency"
            )
        if given is not None and given.timestamp:
            statement["timestamp"] = given.timestamp
        elif result.generated_at:
            statement["timestamp"] = result.generated_at
        return statement
