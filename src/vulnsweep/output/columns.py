"""pip-audit's columns layout: one row per finding, then a table of skipped entries."""

from __future__ import annotations

from collections.abc import Sequence
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
from vulnsweep.redact import OSC8_LINK, printable


def _width(cell: str) -> int:
    return len(OSC8_LINK.sub("", cell)) if "\x1b" in cell else len(cell)


def _pad(cell: str, width: int) -> str:
    return cell + " " * (width - _width(cell))


def link(text: str, url: str) -> str:
    return f"\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, _width(cell)) for w, cell in zip(widths, row)]
    lines = [
        " ".join(_pad(h, w) for h, w in zip(headers, widths)).rstrip(),
        " ".join("-" * w for w in widths),
    ]
    lines += [" ".join(_pad(c, w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return lines


class ColumnsWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        group_by = self.options.group_by
        headers = ["Name", "Version", "ID", "Fix Versions"]
        if group_by in ("project", "owner"):
            headers.insert(0, group_by.capitalize())
        with_state = result.baseline_date is not None
        if with_state:
            headers.append("State")
        with_severity = any(f.vulnerability.severity for f in result.reported)
        if with_severity:
            headers.append("Severity")
        with_risk = with_exploitation(result)
        if with_risk:
            headers.append("Exploited")
        if self.options.aliases:
            headers.append("Aliases")
        if self.options.desc:
            headers.append("Description")
        # Several input files (a tree, a monorepo): say where each finding is pinned.
        with_origin = len({o.path for dep, _ in result.audited for o in dep.origins}) > 1
        if with_origin:
            headers.append("Origin")
        # Resolved (transitive) dependencies: the chain that pulled each one in.
        with_via = any(dep.paths for dep, findings in result.audited if findings)
        if with_via:
            headers.append("Via")
        rows = []
        project_files = {p.path: set(p.files) for p in result.projects}
        listed = grouped(result, group_by)
        if with_origin and group_by is None:  # each package's findings together
            listed = sorted(listed, key=lambda row: row[1].dependency.canonical_name)
        for group, finding in listed:
            dep, vuln = finding.dependency, finding.vulnerability
            name, ident = dep.canonical_name, vuln.id
            if self.options.hyperlinks:
                name, ident = link(name, pypi_url(name)), link(ident, vuln.url)
            row = [name, dep.version, ident, ",".join(vuln.fix_versions)]
            if group_by in ("project", "owner"):
                row.insert(0, group)
            if with_state:
                row.append("NEW" if finding.baseline_state == "new" else "unchanged")
            if with_severity:
                row.append(vuln.severity or "UNKNOWN")
            if with_risk:
                row.append(exploitation(vuln))
            if self.options.aliases:
                row.append(", ".join(vuln.aliases))
            if self.options.desc:
                row.append(vuln.description)
            if with_origin and dep.origins:
                origins = dep.origins
                if group_by == "project":  # the project's own pin first
                    files = project_files.get(group, set())
                    origins = tuple(sorted(origins, key=lambda o: o.path not in files))
                more = len(origins) - 1
                row.append(f"{origins[0]}" + (f" (+{more} more)" if more else ""))
            elif with_origin:
                row.append("")
            if with_via:
                row.append(dep.via or "")
            rows.append(row)
        lines: list[str] = table(headers, rows) if rows else []
        ignored = [
            (
                f.dependency.canonical_name,
                f.dependency.version,
                f.vulnerability.id,
                f.ignored_reason or "",
            )
            for f in result.findings
            if f.ignored
        ]
        if ignored:
            if lines:
                lines.append("")
            lines += table(["Name", "Version", "Ignored ID", "Reason"], ignored)
        if result.fixes:
            if lines:
                lines.append("")
            lines += table(
                ["Name", "Version", "Fix"],
                [
                    (
                        f.name,
                        f.old_version,
                        f"upgrade to {f.new_version}"
                        if f.new_version
                        else f"cannot fix: {f.skip_reason}",
                    )
                    for f in result.fixes
                ],
            )
        if result.absent:
            if lines:
                lines.append("")
            lines.append(f"Fixed or gone since the baseline of {result.baseline_date}:")
            lines += table(
                ["Name", "Version", "ID", "First seen"],
                [(a.name, a.version, a.id, a.first_seen or "") for a in result.absent],
            )
        if result.projects:
            if lines:
                lines.append("")
            lines += table(VERDICT_HEADERS, verdict_rows(result))
        adverse = [
            (dep.canonical_name, dep.version, status.describe()) for dep, status in result.adverse
        ]
        if adverse:
            if lines:
                lines.append("")
            lines += table(["Name", "Version", "Status"], adverse)
        skipped = [(s.canonical_name, s.reason) for s in result.skipped]
        skipped += [
            (u.dependency.canonical_name, f"not audited ({u.dependency.version}): {u.reason}")
            for u in result.unaudited
        ]
        if skipped:
            if lines:
                lines.append("")
            lines += table(["Name", "Skip Reason"], skipped)
        if lines:
            stream.write(("\n".join(lines) + "\n").encode())
