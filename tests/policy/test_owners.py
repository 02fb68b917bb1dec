"""CODEOWNERS: GitHub's documented examples, last match wins, GitLab sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from vulnsweep.policy.owners import CodeOwners, find_codeowners

# The patterns of GitHub's CODEOWNERS documentation, in its order (the later win).
GITHUB = """\
# a comment
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
*.txt @octo-org/octocats
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
"""


@pytest.mark.parametrize(
    "path, owners",
    [
        ("README.md", ("@global-owner1", "@global-owner2")),
        ("src/app.js", ("@js-owner",)),
        ("main.go", ("docs@example.com",)),
        ("notes/todo.txt", ("@octo-org/octocats",)),
        ("build/logs/a/b.log", ("@octocat",)),  # **/logs comes later than /build/logs/
        # /docs/ (later) beats docs/*; docs/* alone would not reach nested files
        ("docs/getting-started.md", ("@doctocat",)),
        ("docs/build-app/troubleshooting.md", ("@doctocat",)),
        # a slash inside a pattern anchors it at the root, as in .gitignore
        ("x/docs/intro.md", ("@global-owner1", "@global-owner2")),
        ("scripts/deploy.sh", ("@doctocat", "@octocat")),
        ("deeply/nested/logs/x", ("@octocat",)),
        ("apps/web/requirements.txt", ("@octocat",)),
        ("apps/github/requirements.txt", ()),  # an entry without owners: unowned
    ],
)
def test_github_examples(path: str, owners: tuple[str, ...], tmp_path: Path) -> None:
    file = tmp_path / ".github" / "CODEOWNERS"
    file.parent.mkdir()
    file.write_text(GITHUB)
    codeowners = CodeOwners(file, GITHUB)
    assert codeowners.owners(str(tmp_path / path)) == owners


def test_gitlab_sections_each_add_their_last_match(tmp_path: Path) -> None:
    text = """\
*.txt @everyone
[Backend] @backend-team
services/
services/api/ @api-lead
^[Docs][2] @docs-team
*.md
"""
    codeowners = CodeOwners(tmp_path / "CODEOWNERS", text)
    assert codeowners.owners(str(tmp_path / "services/api/requirements.txt")) == (
        "@everyone",
        "@api-lead",
    )
    assert codeowners.owners(str(tmp_path / "services/worker/requirements.txt")) == (
        "@everyone",
        "@backend-team",
    )
    assert codeowners.owners(str(tmp_path / "services/README.md")) == (
        "@backend-team",
        "@docs-team",
    )


def test_found_where_the_platforms_look_and_not_above_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "docs").mkdir()
    (repo / "docs" / "CODEOWNERS").write_text("* @docs\n")
    assert find_codeowners(repo / "sub") == repo / "docs" / "CODEOWNERS"
    (repo / "CODEOWNERS").write_text("* @root\n")
    assert find_codeowners(repo) == repo / "CODEOWNERS"
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text("* @github\n")
    assert find_codeowners(repo) == repo / ".github" / "CODEOWNERS"
    (tmp_path / "CODEOWNERS").write_text("* @outside\n")
    other = tmp_path / "other"
    (other / ".git").mkdir(parents=True)
    assert find_codeowners(other) is None


def test_a_trailing_star_owns_only_the_files_directly_inside(tmp_path: Path) -> None:
    codeowners = CodeOwners(tmp_path / "CODEOWNERS", "docs/* @docs\n")
    assert codeowners.owners(str(tmp_path / "docs/requirements.txt")) == ("@docs",)
    assert codeowners.owners(str(tmp_path / "docs/sub/requirements.txt")) == ()
