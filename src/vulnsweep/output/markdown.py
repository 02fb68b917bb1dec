"""pip-audit's markdown layout: a findings table linking PyPI and the advisory, then a
table of skipped dependencies."""

from __future__ import annotations

from typing import BinaryIO

from vulnsweep.model import AuditResult
from vulnsweep.output import (
    VERDICT_HEADERS,
    OutputOptions,
    exploitation,
    grouped,
    pypi_url,
    verdict_rows,
    with_exploitation,
)


def cell(text: str) -> str:
    from vulnsweep.redact import printable

    return printable(text.replace("|", "\\|").replace("\n", " "))


class MarkdownWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        header, border = "Name | Version | ID | Fix Versions", "--- | --- | --- | ---"
        with_state = result.baseline_date is not None
        if with_state:
            header, border = header + " | State", border + " | ---"
        with_severity = any(f.vulnerability.severity for f in result.reported)
        if with_severity:
            header, border = header + " | Severity", border + " | ---"
        with_risk = with_exploitation(result)
        if with_risk:
            header, border = header + " | Exploited", border + " | ---"
        if self.options.aliases:
            header, border = header + " | Aliases", border + " | ---"
        if self.options.desc:
            header, border = header + " | Description", border + " | ---"
        with_via = any(dep.paths for dep, findings in result.audited if findings)
        if with_via:
            header, border = header + " | Via", border + " | ---"
        group_by = self.options.group_by
        sections: dict[str, list[str]] = {}
        for group, finding in grouped(result, group_by):
            dep, vuln = finding.dependency, finding.vulnerability
            row = (
                f"[{dep.canonical_name}]({pypi_url(dep.canonical_name)}) | {dep.version} "
                f"| [{vuln.id}]({vuln.url}) | {','.join(vuln.fix_versions)}"
            )
            if with_state:
                row += " | **new**" if finding.baseline_state == "new" else " | unchanged"
            if with_severity:
                row += f" | {vuln.severity or 'UNKNOWN'}"
            if with_risk:
                row += f" | {exploitation(vuln)}"
            if self.options.aliases:
                row += " | " + ", ".join(
                    f"[{a}](https://osv.dev/vulnerability/{a})" for a in vuln.aliases
                )
            if self.options.desc:
                row += f" | {cell(vuln.description)}"
            if with_via:
                row += f" | {cell(dep.via or '')}"
            sections.setdefault(group, []).append(row)
        parts = []
        if result.projects:
            parts.append(
                "\n".join(
                    [
                        " | ".join(VERDICT_HEADERS),
                        " | ".join("---" for _ in VERDICT_HEADERS),
                        *(" | ".join(cell(c) for c in row) for row in verdict_rows(result)),
                    ]
                )
            )
        for group, rows in sections.items():
            table = "\n".join([header, border, *rows])
            if group_by in ("project", "owner"):
                table = f"### {cell(group)}\n\n{table}"
            parts.append(table)
        if result.absent:
            parts.append(
                "\n".join(
                    [
                        f"Fixed or gone since the baseline of {result.baseline_date}:",
                        "",
                        "Name | Version | ID | First seen",
                        "--- | --- | --- | ---",
                        *(
                            f"{cell(a.name)} | {cell(a.version)} | {cell(a.id)} | "
                            f"{a.first_seen or ''}"
                            for a in result.absent
                        ),
                    ]
                )
            )
        if result.plans:  # --fix: the plan, one entry per vulnerable release
            from vulnsweep.output.fixplan import fleet_markdown

            parts.append(fleet_markdown(result.plans, lambda f: result.owners.get(f, ())).rstrip())
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
                            f"{cell(f.ignored_reason or '')}"
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
                        *(f"{cell(n)} | {cell(r)}" for n, r in skipped),
                    ]
                )
            )
        if parts:
            stream.write(("\n\n".join(parts) + "\n").encode())
