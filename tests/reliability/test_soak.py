"""Longer fault runs (`pytest -m soak`): every transient scenario over many seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.test_faults import TRANSIENT, audit_json
from tests.servers.osv import Faults, OsvServer


@pytest.mark.soak
@pytest.mark.parametrize("scenario", list(TRANSIENT))
@pytest.mark.parametrize("seed", range(3, 13))
def test_transient_faults_soak(
    osv_server: OsvServer,
    clean_report: dict,
    tmp_path: Path,  # type: ignore[type-arg]
    scenario: str,
    seed: int,
) -> None:
    osv_server.reset(Faults(**{**TRANSIENT[scenario].__dict__, "seed": seed}))
    code, report, stderr = audit_json(osv_server, tmp_path / "cache")
    assert code == 1, stderr
    assert report == clean_report
