"""Checkpoints (engine/checkpoint.py) and the tag vocabulary they carry (engine/tags.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from ditto_live.engine.audio import PRESETS
from ditto_live.engine.checkpoint import (
    META_FILE,
    WEIGHTS_FILE,
    load_checkpoint,
    read_meta,
    register_model_kind,
    save_checkpoint,
)
from ditto_live.engine.tags import NULL_NAME, TagVocab, tempo_bucket
from ditto_live.engine.unet import UNet, UNetConfig

CFG = UNetConfig(channels=(8, 16), blocks=(1, 1), attention=(False, True), mid_attention=False,
                 cross_attention=True, head_dim=8, ff_mult=2, emb_dim=16, groups=4, w_embed=True)
VOCAB = TagVocab.from_names(genre=["chorale", "folk"], mood=["major", "minor"],
                            tempo=["slow", "moderate", "fast", "very fast"], instrument=["piano"])


def _model(seed: int = 0) -> UNet:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = UNet(CFG, VOCAB.sizes)
        for p in model.parameters():  # no zero-initialised tensor may hide a loading bug
            p.data.add_(0.01 * torch.randn_like(p))
    return model


def _meta(**extra) -> dict:
    return {"kind": "ctm", "model_config": CFG.to_dict(), "mel_config": PRESETS["tiny"].to_dict(),
            "tags": VOCAB.to_dict(), "recipe": {"lr": 1e-4}, "metrics": {"loss": 0.5}} | extra


def test_round_trip_is_bit_exact_and_keeps_the_metadata(tmp_path):
    model = _model()
    save_checkpoint(tmp_path / "ckpt", model, _meta())
    loaded, meta = load_checkpoint(tmp_path / "ckpt")
    assert type(loaded) is UNet and loaded.cfg == CFG and loaded.takes_w and not loaded.training
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    assert meta["tags"] == VOCAB.to_dict() and meta["vocab_sizes"] == list(VOCAB.sizes)
    assert meta["metrics"] == {"loss": 0.5} and meta["mel_config"]["n_mels"] == 80
    assert TagVocab.from_dict(meta["tags"]) == VOCAB
    x, t, tags = torch.randn(1, 1, 8, 16), torch.tensor([500.0]), VOCAB.encode({"genre": "folk"})[None]
    with torch.no_grad():
        assert torch.equal(model(x, t, tags, torch.ones(1)), loaded(x, t, tags, torch.ones(1)))
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [META_FILE, WEIGHTS_FILE]  # no temp left


def test_half_checkpoint_stores_float16_and_loads_close(tmp_path):
    model = _model()
    save_checkpoint(tmp_path / "h", model, _meta(), half=True)
    assert (tmp_path / "h" / WEIGHTS_FILE).stat().st_size < 0.6 * sum(
        t.numel() * 4 for t in model.state_dict().values())
    loaded, _ = load_checkpoint(tmp_path / "h")
    assert next(loaded.parameters()).dtype == torch.float32
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, atol=1e-3, rtol=1e-3)
    kept, _ = load_checkpoint(tmp_path / "h", dtype=None)
    assert next(kept.parameters()).dtype == torch.float16


def test_unknown_kind_and_missing_folder_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nothing")
    save_checkpoint(tmp_path / "c", _model(), _meta(kind="mystery"))
    with pytest.raises(ValueError, match="mystery"):
        load_checkpoint(tmp_path / "c")
    with pytest.raises(ValueError, match="kind"):
        save_checkpoint(tmp_path / "d", _model(), {"model_config": {}})


def test_registered_kinds_are_rebuilt_by_their_builder(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class LinCfg:
        n: int = 3

        def to_dict(self):
            return dataclasses.asdict(self)

    class Lin(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.cfg = cfg
            self.lin = nn.Linear(cfg.n, 2)

    register_model_kind("test-linear", lambda mc: Lin(LinCfg(**mc)))
    model = Lin(LinCfg(n=5))
    save_checkpoint(tmp_path / "l", model, {"kind": "test-linear"})  # model_config filled from model.cfg
    assert read_meta(tmp_path / "l")["model_config"] == {"n": 5}
    loaded, _ = load_checkpoint(tmp_path / "l")
    assert torch.equal(loaded.lin.weight, model.lin.weight)


def test_vocab_sizes_come_from_the_tag_names_when_not_stored(tmp_path):
    model = _model()
    save_checkpoint(tmp_path / "c", model, _meta())
    meta = json.loads((tmp_path / "c" / META_FILE).read_text())
    del meta["vocab_sizes"]
    (tmp_path / "c" / META_FILE).write_text(json.dumps(meta))
    loaded, _ = load_checkpoint(tmp_path / "c")
    assert loaded.vocab_sizes == VOCAB.sizes


def test_tag_vocab_encodes_decodes_and_names_the_choices_on_error():
    assert VOCAB.sizes == (3, 3, 5, 2)
    enc = VOCAB.encode({"genre": "folk", "tempo": "fast"})
    assert enc.tolist() == [2, 0, 3, 0] and enc.dtype == torch.long  # missing fields -> null
    assert VOCAB.decode(enc) == {"genre": "folk", "mood": None, "tempo": "fast", "instrument": None}
    with pytest.raises(ValueError, match=r"genre.*'jazz'.*chorale, folk"):
        VOCAB.encode({"genre": "jazz"})
    with pytest.raises(ValueError, match="colour"):
        VOCAB.encode({"colour": "red"})
    assert TagVocab.from_dict(json.loads(json.dumps(VOCAB.to_dict()))) == VOCAB  # as model.json holds it
    with pytest.raises(ValueError, match=NULL_NAME):
        TagVocab((("x",), (NULL_NAME,), (NULL_NAME,), (NULL_NAME,)))


def test_tempo_buckets():
    assert [tempo_bucket(b) for b in (60, 79.9, 80, 109, 110, 139, 140, 200)] == [
        "slow", "slow", "moderate", "moderate", "fast", "fast", "very fast", "very fast"]
    with pytest.raises(ValueError):
        tempo_bucket(0)
