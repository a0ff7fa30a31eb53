"""The protocol table is well formed and the committed JSON export is current."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ditto_live import protocol


def test_addresses_follow_noun_verb_and_are_unique():
    addrs = [m.address for m in protocol.MESSAGES]
    assert len(addrs) == len(set(addrs))
    for a in addrs:
        assert re.fullmatch(r"/ditto/[a-z]+/[a-z]+|/ditto/error", a), a


def test_every_reply_named_by_a_request_exists_and_types_are_osc():
    for m in protocol.MESSAGES:
        for r in m.replies:
            assert protocol.BY_ADDRESS[r].direction == "reply"
        for _, t in m.args:
            assert t in "sif"


def test_committed_json_matches_the_table():
    path = Path(protocol.__file__).with_name("protocol.json")
    assert json.loads(path.read_text()) == json.loads(protocol.to_json()), \
        "run: python -m ditto_live.protocol > ditto_live/protocol.json"
