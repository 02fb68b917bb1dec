"""--fix --dry-run over a tree: one plan across every project, nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.helpers import run_cli
from tests.remediation.conftest import tool_env
from tests.remediation.test_compiled import compile_old
from tests.remediation.test_uv import uv_project
from tests.servers.index import IndexServer
from tests.servers.osv import OsvServer


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_fleet_dry_run_plans_each_release_once_and_writes_nothing(
    osv_server: OsvServer, fix_index: IndexServer, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "shop").mkdir(parents=True)
    compile_old(fix_index, tree / "shop")
    shutil.copytree(tree / "shop", tree / "blog")
    uv_project(fix_index, tree / "api", '    "urllib3<1.26",\n')
    (tree / "CODEOWNERS").write_text("/shop/ @shop-team\n/api/ @api-team\n")
    before = tree_bytes(tree)
    proc = run_cli(
        "-R", str(tree), "--fix", "--dry-run", "--osv-url", osv_server.url,
        "--index-url", fix_index.url, "--cache-dir", str(tmp_path / "c"),
        "-f", "json", "-o", str(tmp_path / "plan.json"),
        "--report", f"markdown:{tmp_path / 'plan.md'}",
        env=tool_env(fix_index, tmp_path / "tools"),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert tree_bytes(tree) == before
    report = json.loads((tmp_path / "plan.json").read_text())
    fleet = {(e["name"], e["version"]): e for e in report["fleet_plan"]}
    assert len(fleet) == len(report["fleet_plan"])  # each vulnerable release once
    requests = fleet[("requests", "2.25.1")]
    assert requests["targets"] == [
        {
            "version": "2.31.0",
            "files": [
                {"file": str(tree / "api" / "uv.lock"), "owners": ["@api-team"]},
                {"file": str(tree / "blog" / "requirements.txt"), "owners": []},
                {"file": str(tree / "shop" / "requirements.txt"), "owners": ["@shop-team"]},
            ],
        }
    ]
    assert fleet[("urllib3", "1.25.10")]["blocked"] == [
        {
            "file": str(tree / "api" / "uv.lock"),
            "owners": ["@api-team"],
            "reason": "urllib3<1.26 rules out every fix (the smallest is 1.26.18) "
            f"({tree / 'api' / 'pyproject.toml'}:7)",
        }
    ]
    markdown = (tmp_path / "plan.md").read_text()
    assert markdown.count("### requests 2.25.1\n") == 1
    assert (
        f"- **-> 2.31.0** in 3 file(s):\n  - `{tree / 'api' / 'uv.lock'}` (@api-team)\n" in markdown
    )
    assert (
        f"- **blocked** in `{tree / 'api' / 'uv.lock'}` (@api-team): urllib3<1.26 rules out"
        in markdown
    )
