"""Project pages: read in one pass, kept without credentials, built per release."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from vulnsweep.index import pages
from vulnsweep.index.pages import JSON_PAGE, Fits, Memo, Releases, read_page
from vulnsweep.target import TargetEnvironment, target_environment

PY311 = TargetEnvironment(target_environment("3.11.7", "linux"), "linux")
INDEX = "https://alice:s3cret@index.test/simple"
PAGE = f"{INDEX}/demo/"


def entry(filename: str, url: str, **extra: object) -> dict[str, object]:
    return {"filename": filename, "url": url, "hashes": {"sha256": "ab" * 32}, **extra}


WHEEL_2 = "demo-2.0-py3-none-any.whl"
WHEEL_1 = "demo-1.0-py3-none-any.whl"
FILES = [
    entry(WHEEL_2, f"https://alice:s3cret@index.test/files/{WHEEL_2}"),
    entry("demo-2.0.tar.gz", "../../files/demo-2.0.tar.gz"),
    entry(WHEEL_1, f"https://cdn.test/{WHEEL_1}", yanked="broken"),
    entry(
        "demo-1.0-cp27-cp27mu-manylinux1_x86_64.whl",
        "https://cdn.test/demo-1.0-cp27-cp27mu-manylinux1_x86_64.whl",
    ),
    entry("demo-0.9.tar.gz", "https://cdn.test/demo-0.9.tar.gz", **{"requires-python": "<3"}),
    # not a valid tag: passed over, as pip does
    entry("demo-0.8-py36+-none-any.whl", "https://cdn.test/demo-0.8-py36+-none-any.whl"),
    entry("other-1.0.tar.gz", "https://cdn.test/other-1.0.tar.gz"),  # another project
    entry("demo-1.0.egg", "https://cdn.test/demo-1.0.egg"),  # pip ignores eggs
]


def files_of(releases: Releases) -> list[tuple[str, str, str | None]]:
    return [(d.filename, d.url, d.yanked) for _, dists in releases for d in dists]


def test_only_installable_files_are_kept_best_first_and_credentials_follow_the_host() -> None:
    body = json.dumps({"files": FILES}).encode()
    page, _ = read_page("demo", body, JSON_PAGE, PAGE, INDEX, Fits(PY311))
    releases = Releases([page])
    assert releases.versions == [Version("2.0"), Version("1.0")]
    assert files_of(releases) == [
        (WHEEL_2, f"https://alice:s3cret@index.test/files/{WHEEL_2}", None),
        # relative to the page, and on the index's host: the index's credentials apply
        ("demo-2.0.tar.gz", "https://alice:s3cret@index.test/files/demo-2.0.tar.gz", None),
        # another host: never the index's credentials
        (WHEEL_1, f"https://cdn.test/{WHEEL_1}", "broken"),
    ]
    unfit = {Version("1.0"): None, Version("0.9"): "<3", Version("0.8"): None}
    assert releases.unfit() == unfit


def test_the_kept_page_has_no_credentials_and_reads_back_the_same() -> None:
    body = json.dumps({"files": FILES}).encode()
    fits = Fits(PY311)
    page, stored = read_page("demo", body, JSON_PAGE, PAGE, INDEX, fits, storable=True)
    assert stored is not None and b"s3cret" not in stored and b"alice" not in stored
    again, _ = read_page("demo", stored, JSON_PAGE, PAGE, INDEX, fits)
    assert files_of(Releases([again])) == files_of(Releases([page]))


def test_a_page_without_credentials_is_kept_as_sent() -> None:
    plain = [{**f, "url": str(f["url"]).replace("alice:s3cret@", "")} for f in FILES]
    body = json.dumps({"files": plain}).encode()
    _, stored = read_page("demo", body, JSON_PAGE, PAGE, INDEX, Fits(PY311), storable=True)
    assert stored is body


def test_an_html_page_is_kept_as_json() -> None:
    anchors = "".join(
        f'<a href="{f["url"]}#sha256={"ab" * 32}"'
        + (f' data-yanked="{f["yanked"]}"' if "yanked" in f else "")
        + (f' data-requires-python="{f["requires-python"]}"' if "requires-python" in f else "")
        + f">{f['filename']}</a>"
        for f in FILES
    )
    html = f"<html><body>{anchors}</body></html>".encode().replace(b'"<3"', b'"&lt;3"')
    fits = Fits(PY311)
    page, stored = read_page("demo", html, "text/html", PAGE, INDEX, fits, storable=True)
    assert stored is not None and b"s3cret" not in stored
    again, _ = read_page("demo", stored, JSON_PAGE, PAGE, INDEX, fits)
    assert files_of(Releases([again])) == files_of(Releases([page]))
    assert len(files_of(Releases([page]))) == 3


def test_files_are_built_only_for_releases_looked_at() -> None:
    many = [entry(f"demo-1.{i}-py3-none-any.whl", f"/f/demo-1.{i}.whl") for i in range(500)]
    page, _ = read_page(
        "demo", json.dumps({"files": many}).encode(), JSON_PAGE, PAGE, INDEX, Fits(PY311)
    )
    releases = Releases([page])
    newest = next(iter(releases))
    assert newest[0] == Version("1.499") and len(releases) == 500
    assert len(releases._files) == 1


def test_releases_merge_indexes_in_order() -> None:
    fits = Fits(PY311)
    first, _ = read_page(
        "demo", json.dumps({"files": FILES[:2]}).encode(), JSON_PAGE, PAGE, INDEX, fits
    )
    mirror = "https://mirror.test/simple"
    second, _ = read_page(
        "demo",
        json.dumps({"files": [entry("demo-2.0-py3-none-any.whl", "/m/demo-2.0.whl")]}).encode(),
        JSON_PAGE,
        f"{mirror}/demo/",
        mirror,
        fits,
    )
    files = Releases([first, second]).files(Version("2.0"))
    # wheels first; among equals, the first index's file first
    assert [(f.index, f.filename) for f in files] == [
        (INDEX, "demo-2.0-py3-none-any.whl"),
        (mirror, "demo-2.0-py3-none-any.whl"),
        (INDEX, "demo-2.0.tar.gz"),
    ]


def test_memo_reads_its_source_once_however_many_read_it() -> None:
    pulled: list[int] = []

    def source() -> Iterator[int]:
        for n in range(5):
            pulled.append(n)
            yield n

    memo = Memo(source())
    first, second = iter(memo), iter(memo)
    assert [next(first), next(first)] == [0, 1]
    assert list(itertools.islice(second, 3)) == [0, 1, 2]
    assert list(first) == [2, 3, 4] and list(memo) == [0, 1, 2, 3, 4]
    assert pulled == [0, 1, 2, 3, 4]


def test_hashes_and_metadata_offers_read_as_the_index_gave_them() -> None:
    wheel = "demo-3.0-py3-none-any.whl"
    offers = [
        ({"sha256": "CD" * 32}, "cd" * 32),  # PEP 714, upper-case hex read as lower
        ({}, ""),  # offered without a hash
        (True, ""),
        (False, None),
        ("yes", None),  # not a PEP 691 value: not an offer
    ]
    for offer, expected in offers:
        files = [entry(wheel, f"/f/{wheel}", **{"core-metadata": offer})]
        page, _ = read_page(
            "demo", json.dumps({"files": files}).encode(), JSON_PAGE, PAGE, INDEX, Fits(PY311)
        )
        [dist] = Releases([page]).files(Version("3.0"))
        assert (dist.metadata_sha256, dist.sha256) == (expected, "ab" * 32), offer
        assert dist.url == f"https://alice:s3cret@index.test/f/{wheel}"


_texts = st.text(max_size=80)
_digests = st.one_of(
    st.none(), st.just(""), st.binary(min_size=32, max_size=32), st.text(min_size=1, max_size=70)
)


@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.floats(allow_nan=False), st.just(math.inf)),
            st.text(min_size=1, max_size=60),
            _texts,
            st.one_of(st.none(), st.text(min_size=1, max_size=20)),
            st.one_of(st.just(False), st.just(True), _texts),
            st.one_of(st.just(False), st.just(True), _digests),
            _digests,
        ),
        max_size=6,
    ),
    base=st.sampled_from(["", "https://files.example/packages/", "ü/"]),
)
def test_a_release_s_rows_pack_and_read_back_as_parsed(rows: list[Any], base: str) -> None:
    """What a page keeps per release reads back field for field (a reason-less yank
    as True, an empty Requires-Python as None, as the built files treat them)."""
    rows = [(r[0], r[1], base + r[2], *r[3:]) for r in rows]
    packed = b"".join(pages._pack_row(row, len(base)) for row in rows)
    expected = [
        (rank, name, href, python or None, (yanked or True) if yanked is not False else False,
         None if meta is False else meta, sha)
        for rank, name, href, python, yanked, meta, sha in rows
    ]  # fmt: skip
    assert list(pages._unpack_rows(packed, base)) == expected
