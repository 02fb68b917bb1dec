"""Projects resolved as pip and uv install them, or named as not resolved (issue 22):
extras and groups that name their own project, the local project at its own version,
Poetry's tables, direct references at the version their file names, and exit 3 for
anything that cannot be resolved without running code. All on the local index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.resolution.test_end_to_end import audit
from tests.servers.index import IndexServer, Project
from tests.servers.osv import OsvServer
from vulnsweep.sources.poetry import python_marker, specifier
from vulnsweep.sources.pyproject import PyprojectSource


def resolved_pins(out: str) -> dict[str, str]:
    entries = json.loads(out)["dependencies"]
    return {d["name"]: d["version"] for d in entries if "vulns" in d}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


SELF_REFERENCING = """\
[project]
name = "Audit-Me"
version = "1.0"
dependencies = ["idna<3.20"]

[project.optional-dependencies]
cov = ["six"]
test = ["pysocks", "audit-me[cov]"]
lint = ["audit_me[test] ; python_version >= '3'"]
dev = ["certifi", "audit-me[test,lint]"]
loop = ["audit-me[loop]"]

[dependency-groups]
ci = ["audit-me[dev]"]
"""


def requirement_lines(project: Path, **selection: tuple[str, ...]) -> list[str]:
    from vulnsweep.model import ResolutionRequest
    from vulnsweep.sources.pyproject import ProjectSelection

    source = PyprojectSource(project, selection=ProjectSelection(**selection), resolve=True)
    (request,) = [i for i in source.collect() if isinstance(i, ResolutionRequest)]
    return [line.text for line in request.requirements]


def test_extras_and_groups_that_name_their_own_project_expand(tmp_path: Path) -> None:
    project = write(tmp_path / "pyproject.toml", SELF_REFERENCING)
    # dev -> certifi + own [lint, test]; lint -> own [test] under its marker; test ->
    # pysocks + own [cov] -> six.
    expanded = [
        "idna<3.20",
        "certifi",
        'pysocks ; python_version >= "3"',
        'six ; python_version >= "3"',
        "pysocks",
        "six",
    ]
    assert requirement_lines(project, extras=("dev",)) == expanded
    # A cycle through its own extras ends; the group brings in the dev extra.
    assert requirement_lines(project, groups=("ci",), extras=("loop",)) == expanded
    from vulnsweep.sources.pyproject import PyprojectSource as Source

    (request,) = [r for r in Source(project, resolve=True).collect() if hasattr(r, "project")]
    assert request.project_version == "1.0"  # type: ignore[union-attr]


def test_self_referencing_extras_are_audited_end_to_end(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    project = write(tmp_path / "app" / "pyproject.toml", SELF_REFERENCING)
    code, out, err = audit(
        index_server, osv_server, cache_dir, str(project.parent), "--extra", "dev", "-f", "json"
    )
    assert code == 0, err
    assert resolved_pins(out) == {
        "idna": "3.19",
        "certifi": "2026.7.22",
        "pysocks": "1.7.1",
        "six": "1.17.0",
    }


def _wheel(name: str, version: str, requires: list[str]) -> tuple[dict[str, object], str]:
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    return {"filename": filename, "hashes": {}}, metadata


def test_the_local_project_is_pinned_at_its_own_version(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    """core 3.2.0 here; its plugin's newest release pins core==3.2.2. pip and uv pick the
    plugin release that agrees with the local core (3.2.0), not the newest."""
    releases = [_wheel("core-plugins", v, [f"core=={v}"]) for v in ("3.2.0", "3.2.2")]
    plugins = Project(
        "core-plugins", [f for f, _ in releases], {f["filename"]: m for f, m in releases}
    )
    project = write(
        tmp_path / "core" / "pyproject.toml",
        '[project]\nname = "core"\nversion = "3.2.0"\n\n[dependency-groups]\n'
        'plugins = ["core-plugins"]\n',
    )
    with IndexServer(extra={"core-plugins": plugins}) as index:
        code, out, err = audit(index, osv_server, cache_dir, str(project.parent), "-f", "json")
    assert code == 0, err
    assert resolved_pins(out) == {"core-plugins": "3.2.0"}


POETRY = """\
[tool.poetry]
name = "poetry-app"
version = "0.1.0"

[tool.poetry.dependencies]
python = "^3.8"
idna = "~3.18"
requests = { version = "^2.30", extras = ["socks"] }
six = { version = "*", optional = true }
certifi = [
    { version = "<2020", python = "<3.0" },
    { version = "^2026.1", python = ">=3.8" },
]
local-lib = { path = "../lib" }

[tool.poetry.extras]
compat = ["six"]

[tool.poetry.group.docs]
optional = true

[tool.poetry.group.docs.dependencies]
markdown = "*"

[tool.poetry.dev-dependencies]
pyyaml = "6.0.*"
"""


def test_poetry_constraints_become_pep_440() -> None:
    assert specifier("^1.2.3") == ">=1.2.3,<2.0.0"
    assert specifier("^0.2.3") == ">=0.2.3,<0.3.0"
    assert specifier("^0.0.3") == ">=0.0.3,<0.0.4"
    assert specifier("~1.2") == ">=1.2,<1.3"
    assert specifier("1.2.*") == "==1.2.*"
    assert specifier(">= 1.2 < 2.0") == ">=1.2,<2.0"
    assert specifier("*") == ""
    assert python_marker("~2.7 || ^3.4") == (
        '((python_version >= "2.7" and python_version < "2.8") or '
        '(python_version >= "3.4" and python_version < "4.0"))'
    )


def test_a_poetry_project_resolves_like_pip_and_names_what_it_cannot(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    project = write(tmp_path / "app" / "pyproject.toml", POETRY)
    code, out, err = audit(index_server, osv_server, cache_dir, str(project.parent), "-f", "json")
    entries = json.loads(out)["dependencies"]
    # As for a PEP 621 project, no selection audits everything: extras and groups too.
    assert resolved_pins(out) == {
        "idna": "3.18",
        "requests": "2.34.2",
        "pysocks": "1.7.1",
        "certifi": "2026.7.22",
        "charset-normalizer": "3.5.1",
        "urllib3": "2.8.0",
        "six": "1.17.0",
        "markdown": "3.10.3",
        "pyyaml": "6.0.3",
    }
    [skip] = [d for d in entries if "skip_reason" in d]
    assert skip["name"] == "local-lib"
    assert skip["skip_reason"].startswith("a path dependency ('../lib'): its version is only")
    assert code == 3  # what local-lib pulls in is unknown
    assert "1 input could not be fully resolved" in err
    _, out, _ = audit(
        index_server, osv_server, cache_dir, str(project.parent), "--group", "docs", "-f", "json"
    )
    assert set(resolved_pins(out)) == {
        "idna", "requests", "pysocks", "certifi", "charset-normalizer", "urllib3", "markdown",
    }  # fmt: skip


def test_an_sdist_url_is_audited_at_the_version_its_file_names(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    requirements = write(
        tmp_path / "r.in",
        "werkzeug @ https://files.example.invalid/werkzeug-3.0.1.tar.gz\nflask\n",
    )
    _code, out, err = audit(
        index_server, osv_server, cache_dir, "-r", str(requirements), "-f", "json"
    )
    pinned = resolved_pins(out)
    assert (pinned["werkzeug"], pinned["flask"]) == ("3.0.1", "3.0.3"), err


@pytest.mark.parametrize(
    "line",
    [
        "werkzeug @ git+https://github.com/pallets/werkzeug@main",
        "werkzeug @ file:///srv/checkouts/werkzeug",
    ],
)
def test_a_reference_whose_version_needs_a_build_is_exit_3(
    line: str,
    index_server: IndexServer,
    osv_server: OsvServer,
    cache_dir: Path,
    tmp_path: Path,
) -> None:
    requirements = write(tmp_path / "r.in", f"{line}\nidna<3.20\n")
    code, out, _err = audit(
        index_server, osv_server, cache_dir, "-r", str(requirements), "-f", "json"
    )
    assert code == 3
    [skip] = [d for d in json.loads(out)["dependencies"] if "skip_reason" in d]
    assert skip["name"] == "werkzeug"
    assert "its version is only known by building it" in skip["skip_reason"]
    assert resolved_pins(out) == {"idna": "3.19"}


def test_dynamic_dependencies_are_exit_3(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path, index_server: IndexServer
) -> None:
    project = write(
        tmp_path / "app" / "pyproject.toml",
        '[project]\nname = "app"\nversion = "1"\ndynamic = ["dependencies"]\n',
    )
    code, _, err = audit(index_server, osv_server, cache_dir, str(project.parent), "-f", "json")
    assert code == 3
    assert "[project] dependencies are dynamic" in err


def test_hatch_requirements_txt_and_pdm_dev_dependencies_are_static_data(
    index_server: IndexServer, osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    project = write(
        tmp_path / "app" / "pyproject.toml",
        '[project]\nname = "app"\nversion = "1"\ndynamic = ["dependencies"]\n\n'
        '[tool.hatch.metadata.hooks.requirements_txt]\nfiles = ["requirements.txt"]\n\n'
        '[tool.pdm.dev-dependencies]\ntest = ["pysocks"]\n',
    )
    write(tmp_path / "app" / "requirements.txt", "idna<3.20\n")
    code, out, err = audit(index_server, osv_server, cache_dir, str(project.parent), "-f", "json")
    assert code == 0, err  # nothing dynamic is left unread
    assert resolved_pins(out) == {"idna": "3.19", "pysocks": "1.7.1"}


def test_a_release_with_invalid_metadata_is_skipped_as_pip_does(
    osv_server: OsvServer, cache_dir: Path, tmp_path: Path
) -> None:
    """pip 24.1+: "Ignoring version 2.0 of odd since it has invalid metadata", and the
    previous release is installed. Dropping the bad entry instead would resolve a set
    pip never installs."""
    releases = [_wheel("odd", "1.0", ["idna<3.20"]), _wheel("odd", "2.0", ["idna (>=2.0.*)"])]
    odd = Project("odd", [f for f, _ in releases], {f["filename"]: m for f, m in releases})
    requirements = write(tmp_path / "r.in", "odd\n")
    with IndexServer(extra={"odd": odd}) as index:
        code, out, err = audit(index, osv_server, cache_dir, "-r", str(requirements), "-f", "json")
    assert code == 0, err
    assert resolved_pins(out) == {"odd": "1.0", "idna": "3.19"}
    assert "ignoring odd 2.0: its metadata has an invalid Requires-Dist entry" in err


@pytest.fixture(scope="module")
def offline_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers import run_cli
    from tests.servers.osv import DATA_ZIP

    cache = tmp_path_factory.mktemp("offline")
    assert run_cli("db", "import", str(DATA_ZIP), "--cache-dir", str(cache)).returncode == 0
    return cache


@pytest.mark.parametrize(
    "fmt",
    ["columns", "json", "markdown", "ndjson", "sarif", "cyclonedx-json", "cyclonedx-xml", "html"],
)
def test_every_format_names_what_could_not_be_resolved(
    fmt: str, tmp_path: Path, offline_cache: Path
) -> None:
    """An input vulnsweep cannot resolve is named with its reason in every report (an
    OpenVEX document speaks only of vulnerabilities, so it has no place for one)."""
    from tests.helpers import run_cli

    cache = offline_cache
    pins = write(
        tmp_path / "requirements.txt",
        "werkzeug @ git+https://github.com/pallets/werkzeug@main\njinja2==2.10.1\n",
    )
    proc = run_cli(
        "-r", str(pins), "--offline", "--cache-dir", str(cache), "--max-db-age", "1e5",
        "-f", fmt,
    )  # fmt: skip
    assert proc.returncode == 3
    assert "its version is only known by building it" in proc.stdout
