"""The contrastive text-audio model: unit-norm embeddings, soft-target loss, and it learns to match."""

from __future__ import annotations

import torch

from ditto_live.engine.clap import ClapConfig, ClapModel, contrastive_loss, retrieval_accuracy

CFG = ClapConfig(n_mels=16, text_dim=8, embed_dim=8, channels=(8, 8), hidden=16)


def test_embeddings_are_unit_norm_and_differentiable():
    model = ClapModel(CFG)
    mel = torch.randn(3, 1, 16, 32, requires_grad=True)
    a = model.encode_audio(mel)
    assert a.shape == (3, 8)
    torch.testing.assert_close(a.norm(dim=-1), torch.ones(3))
    a.sum().backward()
    assert mel.grad is not None and mel.grad.abs().sum() > 0


def test_loss_is_lower_for_matching_pairs_than_for_swapped_ones():
    a = torch.eye(2)
    match = contrastive_loss(a, a, torch.tensor([0, 1]), torch.tensor(3.0))
    swapped = contrastive_loss(a, a.flip(0), torch.tensor([0, 1]), torch.tensor(3.0))
    assert match < 0.1 < swapped


def test_training_separates_two_kinds_of_clip():
    g = torch.Generator().manual_seed(0)
    model = ClapModel(CFG)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    text = torch.randn(2, 8, generator=g)

    def batch():
        ids = torch.randint(0, 2, (16,), generator=g)
        mel = torch.randn(16, 1, 16, 32, generator=g) * 0.3
        mel[ids == 1, :, :8] += 1.0  # class 1 is loud in the low bands
        return mel, ids

    mel, ids = batch()
    with torch.no_grad():
        before = retrieval_accuracy(model.encode_audio(mel), model.encode_text(text[ids]), ids)
    for _ in range(60):
        m, i = batch()
        loss = contrastive_loss(model.encode_audio(m), model.encode_text(text[i]), i, model.logit_scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = retrieval_accuracy(model.encode_audio(mel), model.encode_text(text[ids]), ids)
    assert after == 1.0 and after >= before


def test_checkpoint_round_trip_rebuilds_the_clap_model(tmp_path):
    from ditto_live.engine.checkpoint import load_checkpoint, save_checkpoint

    model = ClapModel(CFG)
    save_checkpoint(tmp_path / "clap", model, {"kind": "clap", "model_config": CFG.to_dict()})
    loaded, meta = load_checkpoint(tmp_path / "clap")
    mel = torch.randn(2, 1, 16, 32)
    torch.testing.assert_close(loaded.encode_audio(mel), model.encode_audio(mel))
    assert meta["kind"] == "clap"
