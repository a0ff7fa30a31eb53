"""docs/protocol.md documents every address of the table, with an oscsend example for every request,
and every error code."""

from __future__ import annotations

from pathlib import Path

from ditto_live.protocol import ERROR_CODES, MESSAGES, type_tags

DOC = Path(__file__).resolve().parents[3] / "docs" / "protocol.md"


def test_every_address_and_error_code_is_documented():
    text = DOC.read_text()
    for m in MESSAGES:
        assert f"`{m.address}`" in text, m.address
    for code in ERROR_CODES:
        assert f"`{code}`" in text, code


def test_every_request_has_an_oscsend_example_with_its_type_tags():
    lines = [line for line in DOC.read_text().splitlines() if line.startswith("oscsend ")]
    for m in MESSAGES:
        if m.direction != "request":
            continue
        examples = [line.split() for line in lines if line.split()[3] == m.address]
        assert examples, f"no oscsend example for {m.address}"
        tags = type_tags(m.address)
        assert all((ex[4] if len(ex) > 4 and tags else "") == tags for ex in examples), m.address
