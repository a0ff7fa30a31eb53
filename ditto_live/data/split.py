"""Deterministic train / val / test split by work: a hash of the work id, so a work never straddles splits."""

from __future__ import annotations

import hashlib

SPLITS = ("train", "val", "test")
SPLIT_PERMILLE = (900, 50, 50)  # share of works per split, in 1/1000


def split_of(work_id: str) -> str:
    """Split of a work, from the first 8 bytes of sha1(work id); independent of seed and build order."""
    h = int.from_bytes(hashlib.sha1(work_id.encode("utf-8")).digest()[:8], "big") % 1000
    edge = 0
    for name, share in zip(SPLITS, SPLIT_PERMILLE):
        edge += share
        if h < edge:
            return name
    return SPLITS[-1]
