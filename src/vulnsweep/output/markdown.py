"""pip-audit's markdown layout: a findings table linking PyPI and the advisory, then a
table of skipped dependencies."""

from __future__ import annotations

from typing import BinaryIO

from vulnsweep.model import AuditResult
from vulnsweep.output import OutputOptions, pypi_url


def _cell(text: str) -> str:
    from vulnsweep.output.columns import printable

    return printable(text.replace("|", "\\|").replace("\n", " "))


class MarkdownWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        header, border = "Name | Version | ID | Fix Versions", "--- | --- | --- | ---"
        with_severity = any(f.vulnerability.severity for f in result.reported)
        if with_severity:
            header, border = header + " | Severity", border + " | ---"
        if self.options.aliases:
            header, border = header + " | Aliases", border + " | ---"
        if self.options.desc:
            header, border = header + " | Description", border + " | ---"
        with_via = any(dep.paths for dep, findings in result.audited if findings)
        if with_via:
            header, border = header + " | Via", border + " | ---"
        rows = []
        for dep, findings in result.audited:
            for finding in findings:
                if finding.ignored:
                    continue
                vuln = finding.vulnerability
                row = (
                    f"[{dep.canonical_name}]({pypi_url(dep.canonical_name)}) | {dep.version} "
                    f"| [{vuln.id}]({vuln.url}) | {','.join(vuln.fix_versions)}"
                )
                if with_severity:
                    row += f" | {vuln.severity or 'UNKNOWN'}"
                if self.options.aliases:
                    row += " | " + ", ".join(
                        f"[{a}](https://osv.dev/vulnerability/{a})" for a in vuln.aliases
                    )
                if self.options.desc:
                    row += f" | {_cell(vuln.description)}"
                if with_via:
                    row += f" | {_cell(dep.via or '')}"
                rows.append(row)
        parts = []
        if rows:
            parts.append("\n".join([header, border, *rows]))
        ignored = [f for f in result.findings if f.ignored]
        if ignored:
            parts.append(
                "\n".join(
                    [
                        "Name | Version | Ignored ID | Reason",
                        "--- | --- | --- | ---",
                        *(
                            f"{f.dependency.canonical_name} | {f.dependency.version} | "
                            f"[{f.vulnerability.id}]({f.vulnerability.url}) | "
                            f"{_cell(f.ignored_reason or '')}"
                            for f in ignored
                        ),
                    ]
                )
            )
        skipped = [(s.canonical_name, s.reason) for s in result.skipped]
        skipped += [
            (u.dependency.canonical_name, f"not audited: {u.reason}") for u in result.unaudited
        ]
        if skipped:
            parts.append(
                "\n".join(
                    [
                        "Name | Skip Reason",
                        "--- | ---",
                        *(f"{_cell(n)} | {_cell(r)}" for n, r in skipped),
                    ]
                )
            )
        if parts:
            stream.write(("\n\n".join(parts) + "\n").encode())
