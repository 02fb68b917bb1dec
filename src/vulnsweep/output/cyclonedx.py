"""CycloneDX (1.6 by default; 1.4 / 1.5 on request) via cyclonedx-python-lib: every
audited component with its purl, every vulnerability with its source, aliases as
references, CVSS ratings, a recommendation naming the fix versions, and `affects`."""

from __future__ import annotations

from typing import BinaryIO

from vulnsweep import __version__
from vulnsweep.model import AuditResult
from vulnsweep.model import Vulnerability as Advisory
from vulnsweep.output import OutputOptions, owners_of


class CycloneDxWriter:
    def __init__(self, options: OutputOptions, *, xml: bool) -> None:
        self.options = options
        self.xml = xml

    def write(self, result: AuditResult, stream: BinaryIO) -> None:
        stream.write(self.render(result).encode())

    def render(self, result: AuditResult) -> str:
        from decimal import Decimal

        from cyclonedx.model import Property, XsUri
        from cyclonedx.model.bom import Bom
        from cyclonedx.model.component import Component, ComponentType
        from cyclonedx.model.impact_analysis import (
            ImpactAnalysisAffectedStatus,
            ImpactAnalysisResponse,
        )
        from cyclonedx.model.vulnerability import (
            BomTarget,
            BomTargetVersionRange,
            Vulnerability,
            VulnerabilityAnalysis,
            VulnerabilityRating,
            VulnerabilityReference,
            VulnerabilityScoreSource,
            VulnerabilitySeverity,
            VulnerabilitySource,
        )
        from cyclonedx.output import make_outputter
        from cyclonedx.schema import OutputFormat, SchemaVersion
        from packageurl import PackageURL

        bom = Bom()
        bom.metadata.tools.components.add(
            Component(type=ComponentType.APPLICATION, name="vulnsweep", version=__version__)
        )
        components = {}
        project_of = {file: p.path for p in result.projects for file in p.files}
        for dep, _ in result.audited:
            # A monorepo walk: which projects pin it and who owns them, as properties.
            properties = [
                Property(name="vulnsweep:project", value=project)
                for project in dict.fromkeys(
                    project_of[o.path] for o in dep.origins if o.path in project_of
                )
            ]
            properties += [
                Property(name="vulnsweep:owner", value=owner) for owner in owners_of(result, dep)
            ]
            component = Component(
                type=ComponentType.LIBRARY,
                name=dep.canonical_name,
                version=dep.version,
                purl=PackageURL("pypi", None, dep.canonical_name, dep.version),
                bom_ref=f"{dep.canonical_name}=={dep.version}",
                properties=properties,
            )
            components[dep.key] = component
            bom.components.add(component)
        vulns: dict[str, Vulnerability] = {}
        states: dict[str, set[str]] = {}
        ignored: dict[str, str] = {}  # id -> reason, for ids no dependency reports
        live: set[str] = set()
        ours: dict[str, Advisory] = {}
        for dep, findings in result.audited:
            for finding in findings:
                vuln = finding.vulnerability
                ours.setdefault(vuln.id, vuln)
                entry = vulns.get(vuln.id)
                if entry is None:
                    ratings = []
                    if vuln.score is not None and vuln.vector is not None:
                        method = (
                            VulnerabilityScoreSource.CVSS_V4
                            if vuln.vector.startswith("CVSS:4")
                            else VulnerabilityScoreSource.CVSS_V3_1
                            if vuln.vector.startswith("CVSS:3.1")
                            else VulnerabilityScoreSource.CVSS_V3
                        )
                        ratings.append(
                            VulnerabilityRating(
                                score=Decimal(str(vuln.score)),
                                method=method,
                                vector=vuln.vector,
                                severity=VulnerabilitySeverity(vuln.severity.lower())
                                if vuln.severity
                                else None,
                            )
                        )
                    elif vuln.severity:
                        ratings.append(
                            VulnerabilityRating(
                                severity=VulnerabilitySeverity(vuln.severity.lower())
                            )
                        )
                    fixes = ", ".join(vuln.fix_versions)
                    entry = Vulnerability(
                        bom_ref=f"vulnerability:{vuln.id}",
                        id=vuln.id,
                        source=VulnerabilitySource(name="OSV", url=XsUri(vuln.url)),
                        references=[
                            VulnerabilityReference(
                                id=alias,
                                source=VulnerabilitySource(
                                    name="OSV", url=XsUri(f"https://osv.dev/vulnerability/{alias}")
                                ),
                            )
                            for alias in vuln.aliases
                        ],
                        ratings=ratings,
                        description=vuln.description,
                        recommendation=(
                            f"Upgrade to one of: {fixes}" if fixes else "No fix version is known"
                        ),
                    )
                    vulns[vuln.id] = entry
                if finding.ignored:
                    ignored.setdefault(vuln.id, finding.ignored_reason or "")
                else:
                    live.add(vuln.id)
                entry.affects.add(
                    BomTarget(
                        ref=components[dep.key].bom_ref.value or "",
                        versions=[
                            BomTargetVersionRange(
                                version=dep.version, status=ImpactAnalysisAffectedStatus.AFFECTED
                            )
                        ],
                    )
                )
                if finding.baseline_state is not None:
                    states.setdefault(vuln.id, set()).add(finding.baseline_state)
        for vuln_id, reason in ignored.items():
            if vuln_id not in live:
                # Kept, with the team's decision, rather than silently dropped.
                vulns[vuln_id].analysis = VulnerabilityAnalysis(
                    responses=[ImpactAnalysisResponse.WILL_NOT_FIX], detail=f"ignored: {reason}"
                )
        for vuln_id in sorted(live) if result.exploitation is not None else ():
            for name, value in _exploitation_properties(ours[vuln_id]):
                vulns[vuln_id].properties.add(Property(name=name, value=value))
        # What could not be audited or resolved is said on the BOM itself: an SBOM
        # consumer must not read the absence of a finding as "clean".
        for unaudited in result.unaudited:
            dep = unaudited.dependency
            bom.metadata.properties.add(
                Property(
                    name="vulnsweep:not_audited",
                    value=f"{dep.canonical_name} {dep.version}: {unaudited.reason}",
                )
            )
        for skip in result.skipped:
            name = "vulnsweep:not_resolved" if skip.unresolved else "vulnsweep:skipped"
            bom.metadata.properties.add(
                Property(name="vulnsweep:input_error" if skip.error else name,
                         value=f"{skip.name}: {skip.reason}")
            )  # fmt: skip
        for vuln_id, seen in states.items():
            state = "new" if "new" in seen else "unchanged"
            vulns[vuln_id].properties.add(Property(name="vulnsweep:baseline_state", value=state))
        for entry in vulns.values():
            bom.vulnerabilities.add(entry)
        version = {"1.4": SchemaVersion.V1_4, "1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}[
            self.options.cyclonedx_version
        ]
        outputter = make_outputter(
            bom, OutputFormat.XML if self.xml else OutputFormat.JSON, version
        )
        return outputter.output_as_string(indent=2)


def _exploitation_properties(vuln: Advisory) -> list[tuple[str, str]]:
    """KEV and EPSS as vulnerability properties; an unknown is said, never left as 0."""
    kev = vuln.kev
    out = [
        (
            "vulnsweep:kev",
            "listed" if kev is not None else "not listed" if vuln.kev_checked else "unknown",
        )
    ]
    if kev is not None:
        out += [("vulnsweep:kev_date_added", kev.date_added or ""),
                ("vulnsweep:kev_due_date", kev.due_date or "")]  # fmt: skip
    if vuln.epss is not None:
        out += [("vulnsweep:epss", f"{vuln.epss.probability:g}"),
                ("vulnsweep:epss_percentile", f"{vuln.epss.percentile:g}")]  # fmt: skip
    else:
        out.append(("vulnsweep:epss", "unknown"))
    if vuln.malicious:
        out.append(("vulnsweep:malicious", "true"))
    return out
