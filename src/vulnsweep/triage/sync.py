"""`vulnsweep db sync`, exploitation data: CISA's KEV catalogue and FIRST's EPSS daily
scores, each fetched with a conditional request (If-None-Match on the stored ETag, so an
unchanged file costs one 304), checked by parsing it whole, and only then stored; a
failed, truncated or garbage download keeps the previous copy and says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vulnsweep.errors import InputError, ServiceError
from vulnsweep.net.http import HttpClient, RetryPolicy, Timeouts
from vulnsweep.triage.data import parse_epss, parse_kev, read_meta, store
from vulnsweep.url import Url

KEV_URL = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
EPSS_URL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
SERVICE = "KEV/EPSS download"
MAX_DOWNLOAD = 64 * 1024 * 1024


async def sync_triage(
    path: Path, kev_url: Url, epss_url: Url, *, retry: RetryPolicy | None = None
) -> dict[str, str]:
    """{"kev": what happened, "epss": what happened}; raises nothing a source can cause:
    each outcome says whether the copy was updated, unchanged, or kept after a failure."""
    meta = read_meta(path)
    outcomes: dict[str, str] = {}
    sources: list[tuple[str, Url, Callable[[bytes, str], Any]]] = [
        ("kev", kev_url, parse_kev),
        ("epss", epss_url, parse_epss),
    ]
    async with HttpClient(
        SERVICE, timeouts=Timeouts(read=120.0), concurrency=2, retry=retry
    ) as http:
        for name, url, parse in sources:
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            had = meta.get(f"{name}_version" if name == "kev" else "epss_date") is not None
            etag = meta.get(f"{name}_etag") if had else None
            try:
                result = await http.get_document(url, etag or None, max_bytes=MAX_DOWNLOAD)
            except ServiceError as exc:
                outcomes[name] = f"failed ({exc.message}); the previous copy is kept"
                continue
            if result.status == 304:
                store(path, meta={f"{name}_checked": stamp})
                outcomes[name] = "unchanged (304)"
                continue
            if result.status != 200 or not isinstance(result.data, bytes):
                outcomes[name] = f"failed (HTTP {result.status}); the previous copy is kept"
                continue
            try:
                parsed = parse(result.data, str(url))
            except InputError as exc:
                outcomes[name] = f"failed ({exc.message}); the previous copy is kept"
                continue
            values = {f"{name}_etag": result.etag or "", f"{name}_fetched": stamp}
            if name == "kev":
                store(path, kev=parsed, meta=values)
                outcomes[name] = f"{len(parsed[1])} CVEs (catalogue {parsed[0]})"
            else:
                store(path, epss=parsed, meta=values)
                outcomes[name] = f"{len(parsed[1])} scores of {parsed[0]}"
    return outcomes
