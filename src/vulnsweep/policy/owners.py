"""CODEOWNERS (GitHub and GitLab syntax): who owns each pinning file.

Looked for where both platforms look, first found wins: `.github/CODEOWNERS`,
`CODEOWNERS`, `docs/CODEOWNERS` (GitLab also `.gitlab/CODEOWNERS`). Patterns follow
gitignore rules; within a section the last matching line wins. GitLab `[Section]`
headers (with optional default owners) each contribute their own last match."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS")
_SECTION = re.compile(r"^\^?\[(?P<name>[^\]]+)\](?:\[\d+\])?(?P<owners>.*)$")


@dataclass(frozen=True)
class Rule:
    pattern: str
    regex: re.Pattern[str]
    owners: tuple[str, ...]
    line: int


def find_codeowners(root: Path) -> Path | None:
    """The CODEOWNERS file for a tree: at the root, or at the repository root above."""
    for directory in (root, *root.parents):
        for location in LOCATIONS:
            if (directory / location).is_file():
                return directory / location
        if (directory / ".git").exists():
            return None
    return None


def _regex(pattern: str) -> re.Pattern[str]:
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory_only = pattern.endswith("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("/**", i) and i + 3 == len(body):
            out.append("/.*")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "\\" and i + 1 < len(body):
            out.append(re.escape(body[i + 1]))
            i += 2
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    # A matching directory owns everything below it; GitHub's `docs/*` is the exception:
    # it owns only the files directly in docs/.
    if directory_only:
        suffix = "/.*"
    elif body.endswith("/*"):
        suffix = ""
    else:
        suffix = "(?:/.*)?"
    return re.compile(f"^{prefix}{''.join(out)}{suffix}$")


class CodeOwners:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        nested = path.parent.name in (".github", "docs", ".gitlab")
        self.root = path.parent.parent if nested else path.parent
        self.sections: list[list[Rule]] = [[]]
        defaults: tuple[str, ...] = ()
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            section = _SECTION.match(line)
            if section is not None:
                self.sections.append([])
                defaults = tuple(section["owners"].split())
                continue
            line = line.split(" #", 1)[0]
            pattern, *owners = line.replace("\\ ", "\0").split()
            pattern = pattern.replace("\0", " ")
            self.sections[-1].append(
                Rule(pattern, _regex(pattern), tuple(owners) or defaults, number)
            )

    @classmethod
    def load(cls, root: Path) -> CodeOwners | None:
        path = find_codeowners(root)
        if path is None:
            return None
        return cls(path, path.read_text(encoding="utf-8", errors="replace"))

    @functools.cache  # noqa: B019 - one instance per run, a few thousand files
    def owners(self, file: str) -> tuple[str, ...]:
        """Owners of a file (a path as given, relative to the CODEOWNERS root or absolute)."""
        path = Path(file)
        try:
            relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return ()
        found: list[str] = []
        for rules in self.sections:
            for rule in reversed(rules):
                if rule.regex.match(relative):
                    found += [o for o in rule.owners if o not in found]
                    break
        return tuple(found)
