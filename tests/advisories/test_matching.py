from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from vulnsweep.advisories.matching import compile_affected, record_affects


def rec(events: list[dict[str, str]], versions: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": "TEST-1",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Pkg.Name"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "versions": versions or [],
            }
        ],
    }


def affects(record: dict[str, Any], version: str) -> bool:
    return record_affects(compile_affected(record).get("pkg-name", []), version)


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        ([{"introduced": "0"}, {"fixed": "1.2"}], "1.1.9", True),
        ([{"introduced": "0"}, {"fixed": "1.2"}], "1.2", False),
        ([{"introduced": "0"}, {"fixed": "1.2"}], "1.2.0", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}], "0.9", False),
        ([{"introduced": "1.0"}, {"fixed": "1.2"}], "1.0", True),
        ([{"introduced": "1.0"}, {"last_affected": "1.3"}], "1.3", True),
        ([{"introduced": "1.0"}, {"last_affected": "1.3"}], "1.3.1", False),
        ([{"introduced": "0"}], "999", True),
        # Two intervals in one range, events given out of order.
        (
            [{"fixed": "2.0"}, {"introduced": "3.0"}, {"introduced": "0"}, {"fixed": "3.1"}],
            "2.5",
            False,
        ),
        (
            [{"fixed": "2.0"}, {"introduced": "3.0"}, {"introduced": "0"}, {"fixed": "3.1"}],
            "3.0.5",
            True,
        ),
        ([{"introduced": "0"}, {"limit": "1.5"}], "1.6", False),
        ([{"introduced": "0"}, {"limit": "1.5"}], "1.4", True),
        ([{"introduced": "1.0rc1"}, {"fixed": "1.0"}], "1.0rc2", True),
    ],
)
def test_spec_examples(events: list[dict[str, str]], version: str, expected: bool) -> None:
    assert affects(rec(events), version) is expected


def test_versions_list_is_normalised_and_non_pep440_is_exact() -> None:
    record = rec([], versions=["1.0", "2019-weird"])
    assert affects(record, "1.0.0")
    assert affects(record, "2019-weird")
    assert not affects(record, "2019-Weird")


def test_an_unreadable_event_makes_its_range_undecidable_not_narrower() -> None:
    from vulnsweep.advisories.records import read_advisory

    record = rec([{"introduced": "0"}, {"fixed": "not a version"}])
    # Dropping the event would widen (or, for `introduced`, narrow) the range: it is
    # left out of matching, and the package is named as one that cannot be decided.
    assert not affects(record, "5.0")
    advisory = read_advisory(record)
    assert advisory is not None
    assert advisory.unreadable == {
        "pkg-name": "`affected[0]`.ranges[0] event fixed='not a version' is not a PEP 440 version"
    }
    assert read_advisory(rec([{"introduced": "0"}, {"fixed": "2"}])).unreadable == {}  # type: ignore[union-attr]


# -- property: the matcher agrees with a literal reading of the spec -----------------

versions = st.builds(
    lambda a, b, c: f"{a}.{b}.{c}", st.integers(0, 4), st.integers(0, 4), st.integers(0, 3)
)


def brute_force(intervals: list[tuple[str | None, str | None]], version: str) -> bool:
    v = Version(version)
    return any(
        (lo is None or v >= Version(lo)) and (hi is None or v < Version(hi)) for lo, hi in intervals
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(versions, min_size=1, max_size=8, unique_by=lambda s: Version(s)), versions)
def test_sorted_boundaries_match_interval_semantics(bounds: list[str], probe: str) -> None:
    ordered = sorted(bounds, key=Version)
    # Alternate introduced/fixed over sorted boundaries: disjoint [lo, hi) intervals.
    events = [{"introduced" if i % 2 == 0 else "fixed": b} for i, b in enumerate(ordered)]
    intervals = [
        (ordered[i], ordered[i + 1] if i + 1 < len(ordered) else None)
        for i in range(0, len(ordered), 2)
    ]
    shuffled = list(reversed(events))  # the spec sorts events; input order must not matter
    assert affects(rec(shuffled), probe) is brute_force(intervals, probe)


# -- property: sort keys order versions exactly as packaging does ---------------------

pep440 = st.builds(
    lambda epoch, release, pre, post, dev, local: (
        (f"{epoch}!" if epoch else "")
        + ".".join(map(str, release))
        + (f"{pre[0]}{pre[1]}" if pre else "")
        + (f".post{post}" if post is not None else "")
        + (f".dev{dev}" if dev is not None else "")
        + (f"+{local}" if local else "")
    ),
    st.integers(0, 2),
    st.lists(st.integers(0, 3), min_size=1, max_size=4),
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 2)),
    st.none() | st.integers(0, 2),
    st.none() | st.integers(0, 2),
    st.none() | st.sampled_from(["1", "ubuntu", "1.abc", "abc.2", "2.0", "Z9"]),
)


@settings(max_examples=500, deadline=None)
@given(pep440, pep440)
def test_sort_keys_order_like_pep440(a: str, b: str) -> None:
    from vulnsweep.advisories.matching import sort_key

    va, vb = Version(a), Version(b)
    ka, kb = sort_key(va), sort_key(vb)
    assert (ka < kb) is (va < vb)
    assert (ka == kb) is (va == vb)


@settings(max_examples=300, deadline=None)
@given(st.lists(pep440, min_size=1, max_size=6), pep440)
def test_stored_ranges_answer_like_fresh_ones(bounds: list[str], probe: str) -> None:
    """A range as the offline database stores it (JSON round trip) answers alike."""
    import orjson

    from vulnsweep.advisories.matching import Range, compile_ranges, sort_key

    ordered = sorted(bounds, key=Version)
    events = [{"introduced" if i % 2 == 0 else "fixed": b} for i, b in enumerate(ordered)]
    from vulnsweep.advisories.records import Entry, Event

    entry = Entry(ranges=(tuple(Event(*next(iter(e.items()))) for e in events[::-1]),))
    (fresh,) = compile_ranges(entry)
    stored = Range.from_json(orjson.loads(orjson.dumps(fresh.as_json())))
    key = sort_key(Version(probe))
    assert stored.contains(key) is fresh.contains(key)
    intervals = [
        # "introduced": "0" is the spec's "from the very first version" (dev releases too)
        (
            None if ordered[i] == "0" else ordered[i],
            ordered[i + 1] if i + 1 < len(ordered) else None,
        )
        for i in range(0, len(ordered), 2)
    ]
    if len({Version(b) for b in bounds}) == len(bounds):
        assert fresh.contains(key) is brute_force(intervals, probe)
