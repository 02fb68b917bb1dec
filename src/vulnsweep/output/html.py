"""One self-contained HTML page to open and scan: a summary band, charts, per-project
verdicts and a findings table that sorts and filters in the browser.

Nothing is fetched by the page (inline CSS, inline SVG, one small inline script, and a
Content-Security-Policy that forbids any other source). Everything that comes from
advisories or input files is escaped: an advisory summary holding `<script>` is text.
"""

from __future__ import annotations

import html
import logging
from collections import Counter
from collections.abc import Iterable
from typing import BinaryIO
from urllib.parse import quote

from vulnsweep import __version__
from vulnsweep.model import AuditResult, Finding, Vulnerability
from vulnsweep.output import (
    OutputOptions,
    exploitation,
    grouped,
    pypi_url,
    with_exploitation,
)

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
_COLOURS = {
    "CRITICAL": "#7b1fa2",
    "HIGH": "#c62828",
    "MEDIUM": "#ef6c00",
    "LOW": "#558b2f",
    "UNKNOWN": "#616161",
}
_SUMMARY_CHARS = 300  # per table cell; the advisory link has the rest
# Past this many rows a page is slow to open and impossible to read: rows are folded
# to one per package, version and advisory (its groups listed in the cell), and past
# it again the most important are kept. The JSON report keeps every finding.
MAX_ROWS = 5_000
_SHOWN_GROUPS = 3
log = logging.getLogger(__name__)


def fit_rows(listed: list[tuple[str, Finding]]) -> tuple[list[tuple[str, Finding]], str]:
    """The findings table's rows, summarised at fleet size; and what was done, said."""
    if len(listed) <= MAX_ROWS:
        return listed, ""
    folded: dict[tuple[tuple[str, str], str], tuple[Finding, list[str]]] = {}
    for group, finding in listed:
        key = (finding.dependency.key, finding.vulnerability.id)
        if key in folded:
            folded[key][1].append(group)
        else:
            folded[key] = (finding, [group])
    rows = []
    for finding, groups in folded.values():
        shown = ", ".join(groups[:_SHOWN_GROUPS])
        more = len(groups) - _SHOWN_GROUPS
        rows.append((f"{shown} (+{more} more)" if more > 0 else shown, finding))
    note = (
        f"{len(listed):,} findings: one row per package, version and advisory "
        f"({len(rows):,} rows), with the projects that have it"
    )
    if len(rows) > MAX_ROWS:
        rows.sort(key=lambda row: _importance(row[1]))
        note += f"; the {MAX_ROWS:,} most important are shown"
        rows = rows[:MAX_ROWS]
    note += ". The JSON report (-f json) has every finding."
    log.warning("HTML report: %s", note)
    return rows, note


def _risk_rank(vuln: Vulnerability) -> int:
    """The Exploited column's sort value, higher first as --sort risk orders: malicious,
    known exploited, unknown (not knowing is not safety), then EPSS per mille."""
    if vuln.malicious:
        return 3000
    if vuln.kev is not None:
        return 2000
    if vuln.epss is None:
        return 1001
    return round(vuln.epss.probability * 1000)


def _importance(finding: Finding) -> tuple[int, int, int]:
    return (
        0 if finding.fails else 1,
        0 if finding.baseline_state == "new" else 1,
        SEVERITIES.index(_severity(finding)),  # CRITICAL first
    )


_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
  color:#1d1d1f;background:#fafafa}
header{background:#263238;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#cfd8dc}
main{padding:16px 24px;max-width:1500px}
.band{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px}
.card{background:#fff;border-radius:8px;padding:10px 16px;min-width:110px;
  box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px}
.card span{color:#555}
.charts{display:flex;flex-wrap:wrap;gap:24px;margin-bottom:16px}
.chart{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002}
.chart h2,section h2{font-size:16px;margin:0 0 8px}
section{margin:20px 0}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{padding:5px 8px;border-bottom:1px solid #eceff1;text-align:left;vertical-align:top}
th{background:#eceff1;position:sticky;top:0}
#findings th{cursor:pointer;user-select:none}
#findings th[data-dir=asc]::after{content:" \\25B2"}
#findings th[data-dir=desc]::after{content:" \\25BC"}
.sev{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600}
.new{background:#fff3e0;color:#e65100;border-radius:4px;padding:1px 6px;font-size:12px}
.fail{color:#c62828;font-weight:600}.pass{color:#2e7d32;font-weight:600}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:8px 0}
.filters input[type=search]{padding:6px 8px;min-width:280px}
.muted{color:#666}
code{font-size:12px}
"""

_SCRIPT = """
(function(){
  var table=document.getElementById('findings');
  if(!table){return;}
  var body=table.tBodies[0], rows=Array.prototype.slice.call(body.rows);
  var q=document.getElementById('q'), sev=document.getElementById('sev');
  var fresh=document.getElementById('only-new'), shown=document.getElementById('shown');
  rows.forEach(function(r){r.searchText=r.textContent.toLowerCase();});
  function apply(){
    var text=q.value.toLowerCase(), level=sev.value, onlyNew=fresh&&fresh.checked, n=0;
    rows.forEach(function(r){
      var ok=(!text||r.searchText.indexOf(text)>=0)
        &&(!level||r.getAttribute('data-sev')===level)
        &&(!onlyNew||r.getAttribute('data-state')==='new');
      r.hidden=!ok; if(ok){n++;}
    });
    shown.textContent=String(n);
  }
  q.addEventListener('input',apply); sev.addEventListener('change',apply);
  if(fresh){fresh.addEventListener('change',apply);}
  table.tHead.addEventListener('click',function(e){
    var th=e.target.closest('th'); if(!th){return;}
    var i=th.cellIndex, dir=th.getAttribute('data-dir')==='asc'?'desc':'asc';
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.removeAttribute('data-dir');});
    th.setAttribute('data-dir',dir);
    function key(r){
      var c=r.cells[i], s=c.getAttribute('data-sort');
      return s===null?c.textContent:s;
    }
    rows.sort(function(a,b){
      var x=key(a),y=key(b),nx=parseFloat(x),ny=parseFloat(y);
      var c=(!isNaN(nx)&&!isNaN(ny)&&String(nx)===x&&String(ny)===y)?nx-ny:x.localeCompare(y);
      return dir==='asc'?c:-c;
    });
    rows.forEach(function(r){body.appendChild(r);});
  });
  apply();
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _severity(finding: Finding) -> str:
    return finding.vulnerability.severity or "UNKNOWN"


def _badge(level: str) -> str:
    return f'<span class="sev" style="background:{_COLOURS[level]}">{_e(level)}</span>'


def bar_chart(title: str, bars: Iterable[tuple[str, int, str]], width: int = 420) -> str:
    """A horizontal bar chart as inline SVG; labels are escaped text."""
    items = list(bars)
    if not items:
        return ""
    top = max(count for _, count, _ in items) or 1
    row, label_width = 24, 150
    height = row * len(items) + 8
    parts = [
        f'<div class="chart"><h2>{_e(title)}</h2>'
        f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (label, count, colour) in enumerate(items):
        y = index * row + 4
        length = max(2, round((width - label_width - 50) * count / top))
        shown = label if len(label) <= 22 else label[:21] + "\u2026"
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{_e(shown)}<title>{_e(label)}</title></text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{length}" height="16" rx="3" '
            f'fill="{_e(colour)}"/><text x="{label_width + length + 6}" y="{y + 15}" '
            f'font-size="12">{count}</text>'
        )
    parts.append("</svg></div>")
    return "".join(parts)


class HtmlWriter:
    def __init__(self, options: OutputOptions) -> None:
        self.options = options

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        stream.write(self.render(result).encode("utf-8"))

    def render(self, result: AuditResult) -> str:
        reported = result.reported
        by_severity = Counter(_severity(f) for f in reported)
        with_baseline = result.baseline_date is not None
        out = [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            "<title>vulnsweep report</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<header><h1>vulnsweep report</h1>",
            f"<p>{_e(result.generated_at or '')} \u00b7 vulnsweep {_e(__version__)} \u00b7 "
            f"{len(result.audited)} dependencies audited</p></header><main>",
        ]
        out.append(self._band(result, by_severity, with_baseline))
        charts = [
            bar_chart(
                "Findings by severity",
                [(level, by_severity[level], _COLOURS[level]) for level in SEVERITIES],
            )
        ]
        if result.projects:
            ranked = sorted(result.projects, key=lambda p: (-len(p.reported), p.path))[:10]
            charts.append(
                bar_chart(
                    "Projects with the most findings",
                    [(p.path, len(p.reported), "#1565c0") for p in ranked if p.reported],
                )
            )
        out.append(f'<div class="charts">{"".join(charts)}</div>')
        if result.projects:
            out.append(self._projects(result, with_baseline))
        out.append(self._findings(result, with_baseline))
        out.append(self._absent(result))
        out.append(self._ignored(result))
        out.append(self._skipped(result))
        out.append(f"</main><script>{_SCRIPT}</script></body></html>\n")
        return "".join(out)

    def _band(self, result: AuditResult, by_severity: Counter[str], with_baseline: bool) -> str:
        reported = result.reported
        cards: list[tuple[int, str, str | None]] = [
            (len(reported), "findings", None),
            (len({f.dependency.key for f in reported}), "packages affected", None),
            (len(result.failing), "failing the run", None),
        ]
        cards += [(by_severity[level], level.lower(), _COLOURS[level]) for level in SEVERITIES]
        if with_baseline:
            states = Counter(f.baseline_state for f in reported)
            cards += [
                (states["new"], "new", "#e65100"),
                (states["unchanged"], "unchanged", None),
                (len(result.absent), f"fixed since {result.baseline_date}", "#2e7d32"),
            ]
        if result.skipped or result.unaudited:
            cards.append((len(result.skipped) + len(result.unaudited), "not audited", None))
        rendered = "".join(
            f'<div class="card"><b{f" style=color:{colour}" if colour else ""}>{count}</b>'
            f"<span>{_e(label)}</span></div>"
            for count, label, colour in cards
        )
        return f'<div class="band">{rendered}</div>'

    def _projects(self, result: AuditResult, with_baseline: bool) -> str:
        rows = []
        for project in result.projects:
            found = project.reported
            new = sum(f.baseline_state == "new" for f in found)
            verdict = "FAIL" if project.fails else "pass"
            rows.append(
                f"<tr><td>{_e(project.path)}</td><td>{_e(', '.join(project.owners))}</td>"
                f"<td>{project.dependencies}</td><td>{len(found)}</td>"
                + (f"<td>{new}</td>" if with_baseline else "")
                + f'<td class="{verdict.lower()}">{verdict}</td></tr>'
            )
        head = "<th>Project</th><th>Owners</th><th>Dependencies</th><th>Findings</th>"
        head += "<th>New</th>" if with_baseline else ""
        return (
            f"<section><h2>Projects</h2><table><thead><tr>{head}<th>Verdict</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )

    def _findings(self, result: AuditResult, with_baseline: bool) -> str:
        group_by = self.options.group_by or ("project" if result.projects else None)
        listed = grouped(result, group_by)
        group_label = {"project": "Project", "owner": "Owner", "package": None}.get(group_by or "")
        listed, note = fit_rows(listed)
        with_risk = with_exploitation(result)
        rows = []
        for group, finding in listed:
            dep, vuln = finding.dependency, finding.vulnerability
            level = _severity(finding)
            summary = vuln.description
            if len(summary) > _SUMMARY_CHARS:
                summary = summary[: _SUMMARY_CHARS - 1] + "\u2026"
            via = " \u2192 ".join(dep.paths[0]) if dep.paths else ""
            origin = str(dep.origins[0]) if dep.origins else ""
            state = finding.baseline_state or ""
            cells = []
            if group_label:
                cells.append(f"<td>{_e(group)}</td>")
            cells += [
                f'<td><a href="{_e(pypi_url(dep.canonical_name))}">'
                f"{_e(dep.canonical_name)}</a></td>",
                f"<td>{_e(dep.version)}</td>",
                f'<td><a href="https://osv.dev/vulnerability/{_e(quote(vuln.id, safe=""))}">'
                f"{_e(vuln.id)}</a><br><span class=muted>{_e(', '.join(vuln.aliases))}</span></td>",
                f'<td data-sort="{SEVERITIES.index(level)}">{_badge(level)}'
                + (f" <span class=muted>{vuln.score:.1f}</span>" if vuln.score is not None else "")
                + "</td>",
                *(
                    [f'<td data-sort="{_risk_rank(vuln)}">{_e(exploitation(vuln))}</td>']
                    if with_risk
                    else []
                ),
                f"<td>{_e(', '.join(vuln.fix_versions) or 'none')}</td>",
                f"<td>{_e(summary)}</td>",
                f"<td><code>{_e(via or origin)}</code></td>",
            ]
            if with_baseline:
                cells.append(
                    f'<td data-sort="{_e(state)}">'
                    + ('<span class="new">new</span>' if state == "new" else _e(state))
                    + "</td>"
                )
            rows.append(
                f'<tr data-sev="{level}" data-state="{_e(state)}">' + "".join(cells) + "</tr>"
            )
        heads = ([group_label] if group_label else []) + [
            "Package",
            "Version",
            "Advisory",
            "Severity",
            *(["Exploited"] if with_risk else []),
            "Fix versions",
            "Summary",
            "Dependency path / pinned at",
        ]
        if with_baseline:
            heads.append("State")
        options = "".join(
            f'<option value="{level}">{level.lower()}</option>' for level in SEVERITIES
        )
        new_filter = (
            '<label><input type="checkbox" id="only-new"> only new</label>' if with_baseline else ""
        )
        return (
            "<section><h2>Findings</h2>"
            + (f'<p class="muted" id="summarised">{_e(note)}</p>' if note else "")
            + '<div class="filters"><input type="search" id="q" placeholder="filter: package, '
            'advisory, alias, text" aria-label="filter findings">'
            f'<select id="sev" aria-label="severity"><option value="">any severity</option>'
            f"{options}</select>{new_filter}"
            f'<span class="muted"><span id="shown">{len(rows)}</span> of {len(rows)} shown</span>'
            "</div>"
            f'<table id="findings"><thead><tr>{"".join(f"<th>{_e(h)}</th>" for h in heads)}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
        )

    def _absent(self, result: AuditResult) -> str:
        if not result.absent:
            return ""
        rows = "".join(
            f"<tr><td>{_e(a.name)}</td><td>{_e(a.version)}</td><td>{_e(a.id)}</td>"
            f"<td>{_e(a.first_seen or '')}</td></tr>"
            for a in result.absent
        )
        return (
            f"<section><h2>Fixed or gone since the baseline of {_e(result.baseline_date)}</h2>"
            "<table><thead><tr><th>Package</th><th>Version</th><th>Advisory</th>"
            f"<th>First seen</th></tr></thead><tbody>{rows}</tbody></table></section>"
        )

    def _ignored(self, result: AuditResult) -> str:
        ignored = [f for f in result.findings if f.ignored]
        if not ignored:
            return ""
        rows = "".join(
            f"<tr><td>{_e(f.dependency.canonical_name)}</td><td>{_e(f.dependency.version)}</td>"
            f"<td>{_e(f.vulnerability.id)}</td><td>{_e(f.ignored_reason or '')}</td></tr>"
            for f in ignored
        )
        return (
            "<section><h2>Ignored</h2><table><thead><tr><th>Package</th><th>Version</th>"
            f"<th>Advisory</th><th>Reason</th></tr></thead><tbody>{rows}</tbody></table></section>"
        )

    def _skipped(self, result: AuditResult) -> str:
        entries = [(s.canonical_name, s.version or "", s.reason) for s in result.skipped]
        entries += [
            (u.dependency.canonical_name, u.dependency.version, f"not audited: {u.reason}")
            for u in result.unaudited
        ]
        if not entries:
            return ""
        rows = "".join(
            f"<tr><td>{_e(name)}</td><td>{_e(version)}</td><td>{_e(reason)}</td></tr>"
            for name, version, reason in entries
        )
        return (
            "<section><h2>Not audited</h2><table><thead><tr><th>Name</th><th>Version</th>"
            f"<th>Reason</th></tr></thead><tbody>{rows}</tbody></table></section>"
        )
