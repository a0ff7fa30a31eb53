"""The training toolkit and the base-model trainer: schedule shape, EMA algebra, data order, a tiny
model overfitting one batch, and checkpoint + resume continuing bit-identically."""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch import nn

from ditto_live.engine.tags import TagVocab
from ditto_live.engine.train.common import (
    EMA,
    OptimConfig,
    batch_indices,
    describe_machine,
    lr_at,
    resolve_device,
    train_loop,
)
from tests.engine.conftest import MICRO, make_unet

VOCAB = TagVocab.from_names(genre=["a", "b"], mood=["major", "minor"], tempo=["slow", "fast"],
                            instrument=["piano", "organ"]).to_dict()


def test_lr_warms_up_linearly_then_decays_by_cosine_to_the_floor():
    base, warmup, total = 1e-3, 10, 110
    lrs = [lr_at(s, base, warmup, total, min_ratio=0.1) for s in range(total + 1)]
    assert lrs[0] == pytest.approx(base / warmup)
    assert lrs[warmup - 1] == pytest.approx(base)
    assert all(b > a for a, b in zip(lrs[:warmup - 1], lrs[1:warmup]))  # rising during warm-up
    assert all(b <= a for a, b in zip(lrs[warmup:], lrs[warmup + 1:]))  # never rising after
    mid = warmup + (total - warmup) // 2
    assert lrs[mid] == pytest.approx(base * (0.1 + 0.9 * 0.5))  # half-way down the cosine
    assert lrs[total] == pytest.approx(base * 0.1)


def test_ema_follows_the_closed_form_average_and_copies_into_a_model():
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.zero_()
    ema = EMA(model, decay=0.9)
    for _ in range(5):
        with torch.no_grad():
            model.weight.add_(1.0)  # weights 1, 2, 3, 4, 5
        ema.update(model)
    expected = sum(0.1 * 0.9 ** (5 - k) * k for k in range(1, 6))  # shadow started at 0
    assert torch.allclose(ema.shadow["weight"], torch.full((2, 3), expected))
    target = nn.Linear(3, 2)
    ema.copy_to(target)
    assert torch.equal(target.weight, ema.shadow["weight"])
    assert not torch.equal(model.weight, target.weight)


def test_ema_decay_warms_up_when_given_the_step():
    model = nn.Linear(1, 1, bias=False)
    w0 = model.weight.item()
    ema = EMA(model, decay=0.999)
    with torch.no_grad():
        model.weight.fill_(10.0)
    ema.update(model, step=0)  # decay min(0.999, 1/10) = 0.1: mostly the new weight
    assert ema.shadow["weight"].item() == pytest.approx(0.1 * w0 + 0.9 * 10.0)
    ema.update(model, step=10_000)  # now the full decay
    assert ema.shadow["weight"].item() == pytest.approx(0.999 * (0.1 * w0 + 0.9 * 10.0) + 0.001 * 10.0)


def test_batch_indices_visit_every_example_once_per_epoch_and_depend_only_on_their_arguments():
    n, batch, seed = 10, 4, 7
    order = torch.cat([batch_indices(s, batch, n, seed) for s in range(5)])  # 20 = two epochs
    assert sorted(order[:10].tolist()) == list(range(10))
    assert sorted(order[10:].tolist()) == list(range(10))
    assert not torch.equal(order[:10], order[10:])  # a new permutation each epoch
    assert torch.equal(batch_indices(3, batch, n, seed), order[12:16])
    assert not torch.equal(batch_indices(0, batch, n, seed + 1), order[:4])


def test_describe_machine_names_the_cpu():
    text = describe_machine("cpu")
    assert text.startswith("CPU ") and "threads" in text
    assert resolve_device("cpu").type == "cpu"


def test_tiny_unet_overfits_one_batch_through_the_training_loop():
    from ditto_live.engine.train.base import v_loss

    model = make_unet(MICRO)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 1, 16, 64, generator=gen) * 2 - 1
    t = torch.tensor([100, 300, 600, 900])
    eps = torch.randn(x0.shape, generator=gen)
    tags = torch.tensor([[1, 1, 1, 1], [2, 2, 2, 2], [1, 2, 1, 2], [0, 0, 0, 0]])
    t0 = time.perf_counter()
    result = train_loop(model, lambda step: v_loss(model, x0, t, eps, tags), steps=40,
                        optim=OptimConfig(lr=5e-3, warmup=5, ema_decay=0.0, weight_decay=0.0),
                        device=torch.device("cpu"), gens={"g": gen}, examples_per_step=4, progress=False,
                        tail=5)
    assert time.perf_counter() - t0 < 20
    assert result.final_loss * 5 <= result.first_loss, (result.first_loss, result.final_loss)


def _toy_data(n: int = 6):
    from ditto_live.engine.train.dataset import MelData

    gen = torch.Generator().manual_seed(3)
    mels = (torch.rand(n, 1, 16, 64, generator=gen) * 2 - 1).half()
    tags = torch.randint(1, 3, (n, 4), generator=gen)
    return MelData(mels, tags, VOCAB)


def _final_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "final" / "model.safetensors"))


def test_checkpoint_and_resume_continue_bit_identically(tmp_path):
    pytest.importorskip("ditto_live.engine.checkpoint")
    from ditto_live.engine.train.base import train_base

    data = _toy_data()
    common = dict(preset="tiny", steps=6, batch=2, lr=1e-3, seed=5, device="cpu", progress=False, data=data,
                  val=data, warmup=2, ema_decay=0.9, unet_config=MICRO)
    full = train_base(None, tmp_path / "full", ckpt_every=0, **common)

    # an interrupted run: stops after 3 of its 6 steps with a checkpoint; a fresh call resumes it
    cut = train_base(None, tmp_path / "cut", ckpt_every=100, stop_at=3, **common)
    assert cut["steps"] == 3 and not (tmp_path / "cut" / "final").exists()
    assert (tmp_path / "cut" / "latest" / "train_state.pt").exists()
    resumed = train_base(None, tmp_path / "cut", ckpt_every=0, resume=True, **common)

    a, b = _final_weights(tmp_path / "full"), _final_weights(tmp_path / "cut")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["steps"] == full["steps"] == 6
    assert math.isfinite(full["final_loss"])


def _write_toy_corpus(root):
    """A corpus folder written by the corpus builder's writer: 5 train windows (two shards, to check
    their order is kept) and 2 val windows of 16 mels x 64 frames; window i's mel is i / 10."""
    import numpy as np

    from ditto_live.data.shards import CorpusWriter

    rng = np.random.default_rng(0)
    writer = CorpusWriter(root, ("tiny",), shard_size=3)
    for i in range(7):
        tags = {"genre": ["chorale", "folk"][i % 2], "mood": "major", "tempo": "slow",
                "instrument": "organ" if i != 3 else "celesta"}
        mel = np.full((16, 64), i / 10, dtype=np.float16)
        writer.add({"work": f"w{i}", "split": "train" if i < 5 else "val", "tags": tags},
                   rng.uniform(-0.5, 0.5, 64 * 256).astype(np.float32), {"tiny": mel}, np.zeros(64, np.int8))
    writer.close()


def test_corpus_loaders_read_mels_tags_and_audio_in_row_order(tmp_path):
    from ditto_live.engine.train.dataset import load_mel_data
    from ditto_live.engine.train.vocoder import load_train_audio

    _write_toy_corpus(tmp_path)
    data = load_mel_data(tmp_path, "tiny", "train")
    assert data.mels.shape == (5, 1, 16, 64) and data.mels.dtype == torch.float16
    assert torch.allclose(data.mels[:, 0, 0, 0].float(), torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4]), atol=1e-3)
    genre, _, _, instrument = TagVocab.from_dict(data.vocab).names
    assert genre[0] == "<null>" and set(genre[1:]) == {"chorale", "folk"}
    assert [genre[i] for i in data.tags[:, 0].tolist()] == ["chorale", "folk", "chorale", "folk", "chorale"]
    assert instrument[data.tags[3, 3]] == "celesta"
    assert data.vocab_sizes == (3, 2, 2, 3)
    val = load_mel_data(tmp_path, "tiny", "val", vocab=data.vocab)
    assert val.mels.shape[0] == 2 and val.vocab == data.vocab
    assert load_mel_data(tmp_path, "tiny", "train", limit=2).mels.shape[0] == 2
    audio = load_train_audio(tmp_path)
    assert audio.shape == (5, 64 * 256)
    with pytest.raises(FileNotFoundError):
        load_mel_data(tmp_path, "paper", "train")


def test_cfg_dropout_nulls_rows_and_fields_at_their_rates():
    from ditto_live.engine.train.base import drop_tags

    tags = torch.ones(20000, 4, dtype=torch.long)
    out = drop_tags(tags, 0.1, 0.05, torch.Generator().manual_seed(0))
    rows_null = (out == 0).all(dim=1).float().mean().item()
    field_null = (out == 0).float().mean().item()
    assert rows_null == pytest.approx(0.1 + 0.9 * 0.05 ** 4, abs=0.01)
    assert field_null == pytest.approx(0.1 + 0.9 * 0.05, abs=0.01)
    assert torch.equal(drop_tags(tags[:8], 0.0, 0.0, torch.Generator()), tags[:8])


def test_init_from_a_checkpoint_grows_the_tag_tables_keeping_old_rows(tmp_path):
    from ditto_live.engine.train.base import load_grown, merge_vocab, train_base

    old = TagVocab.from_names(genre=["a", "b"], tempo=["fast", "slow"]).to_dict()
    new = TagVocab.from_names(genre=["a", "c"], tempo=["fast", "slow", "very fast"]).to_dict()
    merged = TagVocab.from_dict(merge_vocab(old, new))
    assert merged.names[0] == ("<null>", "a", "b", "c") and merged.names[2] == ("<null>", "fast", "slow", "very fast")

    small, big = make_unet(MICRO, vocab_sizes=(3, 1, 3, 1)), make_unet(MICRO, vocab_sizes=merged.sizes)
    load_grown(big, small.state_dict())
    w_old, w_new = small.tag_emb[0].weight, big.tag_emb[0].weight
    assert torch.equal(w_new[:3], w_old) and torch.equal(w_new[3], w_old[0])  # new row = the null row
    assert torch.equal(big.tag_emb[1].weight, small.tag_emb[1].weight)

    # a second phase from a finished run keeps the architecture and records where it started
    pytest.importorskip("ditto_live.engine.checkpoint")
    (tmp_path / "corpus").mkdir()
    _write_toy_corpus(tmp_path / "corpus")
    first = dict(preset="tiny", steps=2, batch=2, lr=1e-3, device="cpu", progress=False, ckpt_every=0,
                 unet_config=MICRO, warmup=1)
    train_base(tmp_path / "corpus", tmp_path / "p1", **first)
    train_base(tmp_path / "corpus", tmp_path / "p2", init=tmp_path / "p1" / "final",
               **(first | {"unet_config": None}))
    import json

    meta = json.loads((tmp_path / "p2" / "final" / "model.json").read_text())
    assert meta["model_config"]["channels"] == list(MICRO.channels)
    assert meta["recipe"]["init"] == str(tmp_path / "p1" / "final")


class _Counter:
    """Trained state outside the model (like a distillation's target), counted by ``after_step``."""

    def __init__(self):
        self.n = 0

    def state_dict(self) -> dict:
        return {"n": self.n}

    def load_state_dict(self, state: dict) -> None:
        self.n = state["n"]


def test_train_loop_runs_after_step_once_a_step_and_carries_others_through_a_resume(tmp_path):
    pytest.importorskip("ditto_live.engine.checkpoint")
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    kw = dict(steps=5, optim=OptimConfig(lr=1e-2, warmup=1, ema_decay=0.0), device=torch.device("cpu"),
              examples_per_step=4, progress=False, out_dir=tmp_path, ckpt_every=0,
              export_meta=lambda metrics: {"kind": "toy", "model_config": {}, "metrics": metrics})

    model, first = nn.Linear(2, 1), _Counter()
    cut = train_loop(model, lambda step: model(x).square().mean(), gens={}, stop_at=3, others={"c": first},
                     after_step=lambda step: setattr(first, "n", first.n + 1), **kw)
    assert cut.steps == 3 and first.n == 3 and cut.meta["metrics"]["steps"] == 3

    model, second = nn.Linear(2, 1), _Counter()
    done = train_loop(model, lambda step: model(x).square().mean(), gens={}, resume=True, others={"c": second},
                      after_step=lambda step: setattr(second, "n", second.n + 1), **kw)
    assert done.steps == 5 and second.n == 5  # restored to 3, then two more steps
    assert (tmp_path / "final" / "train_state.pt").exists()


def test_fitted_schedule_ends_within_the_time_budget_and_a_resume_keeps_it(tmp_path):
    from ditto_live.engine.train.common import fitted_steps

    assert fitted_steps(1000, 25, rate=10.0, seconds_left=5.0, margin=1.0) == 75
    assert fitted_steps(60, 25, rate=10.0, seconds_left=5.0) == 60  # never beyond --steps
    assert fitted_steps(1000, 25, rate=10.0, seconds_left=-1.0) == 25

    pytest.importorskip("ditto_live.engine.checkpoint")
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))

    def run(model, **kw):
        def loss_fn(step):
            time.sleep(0.01)
            return model(x).square().mean()
        return train_loop(model, loss_fn, steps=100_000, optim=OptimConfig(lr=1e-2, warmup=2, ema_decay=0.0),
                          device=torch.device("cpu"), gens={}, examples_per_step=4, progress=False,
                          out_dir=tmp_path, ckpt_every=0, fit_s=1.0,
                          export_meta=lambda metrics: {"kind": "toy", "model_config": {}, "metrics": metrics}, **kw)

    t0 = time.perf_counter()
    cut = run(nn.Linear(2, 1), stop_at=30)  # fitted at step 25, stopped at 30
    total = cut.meta["metrics"]["schedule_steps"]
    assert 30 < total < 200 and cut.steps == 30
    exports: list[tuple[int, bool]] = []
    done = run(nn.Linear(2, 1), resume=True,  # keeps the fitted schedule, does not fit again
               on_checkpoint=lambda step, model, finished: exports.append((step, finished)) or {})
    assert done.steps == done.meta["metrics"]["schedule_steps"] == total
    assert exports == [(total, True)]  # the distillation's quality check runs on a fitted run's last export
    assert time.perf_counter() - t0 < 10
