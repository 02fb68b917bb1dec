"""Policy: which findings count. Ignores match an advisory's id or any of its aliases."""

from __future__ import annotations

from collections.abc import Iterable

from vulnsweep.model import Dependency, Finding, Vulnerability


class IgnorePolicy:
    def __init__(self, ignore_ids: Iterable[str] = ()) -> None:
        self.ignore_ids = {i.strip() for i in ignore_ids if i.strip()}
        self.used: set[str] = set()

    def findings(self, dependency: Dependency, vulns: Iterable[Vulnerability]) -> list[Finding]:
        out = []
        for vuln in vulns:
            matched = sorted(self.ignore_ids & vuln.ids)
            if matched:
                self.used.update(matched)
                out.append(Finding(dependency, vuln, f"--ignore-vuln {matched[0]}"))
            else:
                out.append(Finding(dependency, vuln))
        return out

    @property
    def unused(self) -> list[str]:
        """Ignore entries that matched nothing: likely stale, worth saying so."""
        return sorted(self.ignore_ids - self.used)
