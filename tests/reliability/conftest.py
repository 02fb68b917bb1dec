"""Shared by the fault suites: the report of a clean run to compare against."""

from __future__ import annotations

import pytest

from tests.reliability.test_faults import audit_json
from tests.servers.osv import OsvServer


@pytest.fixture(scope="package")
def clean_report(
    _osv_server_session: OsvServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict:  # type: ignore[type-arg]
    _osv_server_session.reset()
    code, report, _ = audit_json(_osv_server_session, tmp_path_factory.mktemp("clean"))
    assert code == 1
    return report
