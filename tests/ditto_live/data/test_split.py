"""Splits are a deterministic function of the work: no work in two splits, about 90/5/5."""

from collections import Counter

from ditto_live.data.sources import list_works
from ditto_live.data.split import SPLITS, split_of


def test_split_is_stable_and_in_range():
    ids = [f"essen/x{i}.abc#{i}" for i in range(200)]
    assert [split_of(i) for i in ids] == [split_of(i) for i in ids]
    assert set(split_of(i) for i in ids) <= set(SPLITS)


def test_corpus_split_shares_are_about_90_5_5():
    refs = list_works(["bach", "essen", "oneill", "palestrina"])
    counts = Counter(split_of(r.work_id) for r in refs)
    n = sum(counts.values())
    assert n > 5000
    assert 0.87 < counts["train"] / n < 0.93
    assert 0.03 < counts["val"] / n < 0.07 and 0.03 < counts["test"] / n < 0.07
    assert len({r.work_id for r in refs}) == n  # ids are unique, so a work has one split
