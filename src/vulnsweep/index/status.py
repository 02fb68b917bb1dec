"""Project status, yanked releases and release hashes, from the PEP 691 JSON index.

One request per project (`--check-status`): PEP 792's `project-status` (archived,
quarantined, deprecated) and, for the audited version, whether every file of that
release is yanked (PEP 592). Reported as warnings; `--strict` makes them fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from vulnsweep.errors import ServiceError
from vulnsweep.model import Dependency, ProjectStatus, version_key
from vulnsweep.net.http import HttpClient, RetryPolicy, Timeouts
from vulnsweep.url import Url, reveal

if TYPE_CHECKING:
    from vulnsweep.net.session import Network

DEFAULT_INDEX = "https://pypi.org/simple"
ACCEPT = "application/vnd.pypi.simple.v1+json"


async def project_pages(
    projects: Sequence[str],
    index_url: str | Url = DEFAULT_INDEX,
    *,
    concurrency: int = 32,
    timeouts: Timeouts | None = None,
    retry: RetryPolicy | None = None,
    network: Network | None = None,
) -> tuple[dict[str, dict[str, Any]], list[ServiceError]]:
    """Each project's PEP 691 JSON page, many in flight; unknown projects are absent.
    The index's credentials (from ~/.netrc or keyring) apply as they do in resolution."""
    import anyio

    from vulnsweep.index.auth import with_credentials

    base = with_credentials(reveal(index_url).rstrip("/"))  # the registry transport's
    pages: dict[str, dict[str, Any]] = {}
    errors: list[ServiceError] = []
    limit = anyio.Semaphore(concurrency)

    async def one(http: HttpClient, project: str) -> None:
        try:
            async with limit:
                page = await http.get_json(
                    Url(f"{base}/{quote(project, safe='')}/"), _project_page, missing_ok=True
                )
        except ServiceError as exc:
            errors.append(exc)
            return
        if isinstance(page, dict):
            pages[project] = page

    async with (
        HttpClient(
            "package index",
            timeouts=timeouts,
            concurrency=concurrency,
            retry=retry,
            headers={"Accept": ACCEPT},
            network=network,
        ) as http,
        anyio.create_task_group() as tg,
    ):
        for project in dict.fromkeys(projects):
            tg.start_soon(one, http, project)
    return pages, errors


async def check(
    dependencies: Sequence[Dependency],
    index_url: str | Url = DEFAULT_INDEX,
    *,
    concurrency: int = 32,
    timeouts: Timeouts | None = None,
    retry: RetryPolicy | None = None,
    network: Network | None = None,
) -> tuple[dict[tuple[str, str], ProjectStatus], list[ServiceError]]:
    pages, errors = await project_pages(
        [d.canonical_name for d in dependencies],
        index_url,
        concurrency=concurrency,
        timeouts=timeouts,
        retry=retry,
        network=network,
    )
    statuses = {
        dep.key: status_from_page(pages[dep.canonical_name], dep.version)
        for dep in dependencies
        if dep.canonical_name in pages
    }
    return statuses, errors


def status_from_page(page: dict[str, Any], version: str) -> ProjectStatus:
    project_status = page.get("project-status") or {}
    status = project_status.get("status") if isinstance(project_status, dict) else None
    reason = project_status.get("reason") if isinstance(project_status, dict) else None
    wanted = version_key(version)
    files = [
        f
        for f in page.get("files") or ()
        if isinstance(f, dict) and file_version(str(f.get("filename", ""))) == wanted
    ]
    yanked = bool(files) and all(f.get("yanked") not in (None, False) for f in files)
    yanked_reason = (
        next((f["yanked"] for f in files if isinstance(f.get("yanked"), str) and f["yanked"]), None)
        if yanked
        else None
    )
    return ProjectStatus(
        status=status if status != "active" else None,
        reason=reason,
        yanked=yanked,
        yanked_reason=yanked_reason,
    )


def file_version(filename: str) -> str | None:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            return version_key(str(parse_wheel_filename(filename)[1]))
        return version_key(str(parse_sdist_filename(filename)[1]))
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _project_page(data: Any) -> dict[str, Any]:
    """A PEP 691 project page is a JSON object; anything else is a bad answer."""
    if not isinstance(data, dict):
        raise ValueError("project page is not a JSON object")
    return data
