"""Capture real PyPI index data for the local PEP 691 test index (run once, by hand).

    python tests/servers/capture_index.py tests/data/index [PROJECT ...]
    python tests/servers/capture_index.py tests/data/index-fix --pick NAME==V1,V2 ...

For each project listed below: its PEP 691 JSON page from pypi.org, trimmed to the
newest releases that have a wheel installable on CPython 3.11 / manylinux x86_64
(one wheel per release), and the PEP 658 core metadata of each kept wheel with the
long description removed (the test server recomputes the metadata hashes).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.parser import HeaderParser
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

PROJECTS = {
    # web
    "flask": 45,
    "werkzeug": 45,
    "jinja2": 30,
    "markupsafe": 12,
    "itsdangerous": 12,
    "click": 20,
    "blinker": 10,
    "asgiref": 12,
    "django": 40,
    "sqlparse": 12,
    "gunicorn": 12,
    # http
    "requests": 40,
    "urllib3": 40,
    "idna": 12,
    "charset-normalizer": 12,
    "chardet": 8,
    "certifi": 8,
    "pysocks": 4,
    "httpx": 12,
    "httpcore": 12,
    "h11": 8,
    "anyio": 12,
    "sniffio": 6,
    "typing-extensions": 12,
    "exceptiongroup": 6,
    # general
    "packaging": 12,
    "six": 6,
    "python-dateutil": 6,
    "attrs": 12,
    "pyyaml": 12,
    "colorama": 6,
    "pytz": 6,
    "tzdata": 6,
    "tomli": 6,
    "pygments": 12,
    "markdown": 12,
    "rich": 12,
    "markdown-it-py": 8,
    "mdurl": 4,
    "jsonschema": 12,
    "jsonschema-specifications": 6,
    "referencing": 8,
    "rpds-py": 6,
    # crypto and data
    "cryptography": 12,
    "cffi": 8,
    "pycparser": 6,
    "pillow": 12,
    "pyjwt": 12,
    "sqlalchemy": 12,
    "greenlet": 8,
    "mako": 8,
    "alembic": 8,
    # celery's tree
    "celery": 8,
    "kombu": 8,
    "billiard": 6,
    "vine": 4,
    "amqp": 6,
    "click-didyoumean": 4,
    "click-repl": 4,
    "click-plugins": 4,
    "prompt-toolkit": 6,
    "wcwidth": 6,
    "tzlocal": 4,
    # aws
    "boto3": 6,
    "botocore": 6,
    "jmespath": 4,
    "s3transfer": 6,
}

ACCEPT = "application/vnd.pypi.simple.v1+json"
SUPPORTED: list[Tag] = [
    *cpython_tags(
        (3, 11),
        platforms=[
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
            "manylinux_2_28_x86_64",
            "manylinux_2_5_x86_64",
            "manylinux1_x86_64",
            "linux_x86_64",
        ],
    ),
    *compatible_tags((3, 11), "cp311", platforms=["manylinux_2_17_x86_64", "linux_x86_64"]),
]
RANK = {tag: i for i, tag in enumerate(SUPPORTED)}


def get(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def best_wheel(files: list[dict]) -> dict | None:
    best, best_rank = None, None
    for f in files:
        try:
            _, _, _, tags = parse_wheel_filename(f["filename"])
        except InvalidWheelFilename:
            continue
        ranks = [RANK[t] for t in tags if t in RANK]
        if ranks and (best_rank is None or min(ranks) < best_rank):
            best, best_rank = f, min(ranks)
    return best


def strip_description(text: str) -> str:
    headers = HeaderParser().parsestr(text, headersonly=True)
    kept = [f"{k}: {v}" for k, v in headers.items() if k.lower() != "description"]
    return "\n".join(kept) + "\n\n"


def capture(name: str, keep: int, out: Path, pick: set[Version] | None = None) -> None:
    page = json.loads(get(f"https://pypi.org/simple/{name}/", ACCEPT))
    by_version: dict[Version, list[dict]] = {}
    for f in page["files"]:
        if not f["filename"].endswith(".whl"):
            continue
        try:
            version = parse_wheel_filename(f["filename"])[1]
        except (InvalidWheelFilename, InvalidVersion):
            continue
        by_version.setdefault(version, []).append(f)
    kept = []
    metadata: dict[str, str] = {}
    for version in sorted(by_version, reverse=True):
        if pick is not None and version not in pick:
            continue
        wheel = best_wheel(by_version[version])
        if wheel is None:
            continue
        try:  # PyPI serves PEP 658 metadata for every wheel (backfilled in 2023)
            metadata[wheel["filename"]] = strip_description(
                get(wheel["url"] + ".metadata").decode()
            )
        except OSError:
            continue
        kept.append(wheel)
        if pick is None and len(kept) >= keep:
            break
    files = [
        {
            "filename": f["filename"],
            "hashes": f["hashes"],
            "requires-python": f.get("requires-python"),
            "yanked": f.get("yanked", False),
            "upload-time": f.get("upload-time"),
        }
        for f in reversed(kept)
    ]
    record = {
        "name": canonicalize_name(page["name"]),
        "source": f"https://pypi.org/simple/{name}/",
        "files": files,
        "metadata": metadata,
    }
    (out / f"{record['name']}.json").write_text(json.dumps(record, indent=1, sort_keys=True))
    print(name, len(files), file=sys.stderr)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if sys.argv[2:3] == ["--pick"]:  # chosen releases only (old, vulnerable ones too)
        picks = [arg.split("==", 1) for arg in sys.argv[3:]]
        with ThreadPoolExecutor(8) as pool:
            for _ in pool.map(
                lambda p: capture(p[0], 0, out, {Version(v) for v in p[1].split(",")}), picks
            ):
                pass
        return
    wanted = {k: v for k, v in PROJECTS.items() if k in sys.argv[2:] or len(sys.argv) == 2}
    with ThreadPoolExecutor(8) as pool:
        for _ in pool.map(lambda item: capture(item[0], item[1], out), wanted.items()):
            pass


if __name__ == "__main__":
    main()
