"""Model bundles: name and path resolution, listing with card metrics, cards, loading, export, and the
`models` / `train` commands' user-facing errors."""

from __future__ import annotations

import json
import shutil

import pytest

from ditto_live.cli import main
from ditto_live.errors import UsageError
from ditto_live.generation import models

TINY_MEL = {"sample_rate": 22050, "n_fft": 1024, "hop_length": 256, "n_mels": 80, "frames": 512, "fmin": 0.0,
            "fmax": 11025.0, "min_db": -100.0, "max_db": 0.0}


def _fake_checkpoint(folder, kind, metrics, nbytes=1000):
    """A checkpoint folder as listing sees it: model.json plus a weights file of some size."""
    folder.mkdir(parents=True)
    meta = {"kind": kind, "model_config": {}, "mel_config": TINY_MEL, "recipe": {"preset": "tiny", "steps": 7},
            "metrics": metrics, "machine": "CPU test"}
    (folder / "model.json").write_text(json.dumps(meta))
    (folder / "model.safetensors").write_bytes(b"\0" * nbytes)


@pytest.fixture
def fake_bundle(tmp_path):
    b = tmp_path / "mybundle"
    _fake_checkpoint(b / "base", "base", {"steps": 7, "final_loss": 0.25, "val_loss": 0.3}, 3000)
    _fake_checkpoint(b / "vocoder", "vocoder", {"steps": 5, "final_loss": 2.5}, 500)
    (b / "card.md").write_text("# card\n")
    return b


def test_unknown_model_name_is_a_usage_error_that_says_how_to_build_one(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "ASSETS", tmp_path / "assets")
    with pytest.raises(UsageError, match=r"no model named 'nope'.*train_all\.sh"):
        models.resolve_bundle("nope")


def test_names_resolve_under_assets_and_paths_resolve_as_given(fake_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(models, "ASSETS", fake_bundle.parent)
    assert models.resolve_bundle("mybundle") == fake_bundle
    assert models.resolve_bundle(str(fake_bundle)) == fake_bundle
    assert models.bundled_names() == ["mybundle"]
    # a single checkpoint folder counts as a bundle holding that one kind
    assert models._component_dirs(fake_bundle / "vocoder") == {"vocoder": fake_bundle / "vocoder"}
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError):
        models.resolve_bundle(str(empty))


def test_list_models_reports_size_preset_components_and_metrics(fake_bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(models, "ASSETS", tmp_path / "no-assets")
    (fake_bundle / "runs").mkdir()
    (fake_bundle / "runs" / "big.pt").write_bytes(b"\0" * 100_000)  # training leftovers are not counted
    (info,) = models.list_models([fake_bundle])
    assert info.size_bytes == models.folder_size(fake_bundle) - 100_000 >= 3500
    assert info.preset == "tiny"
    assert info.components == ["base", "vocoder"]
    assert info.metrics["base"]["val_loss"] == 0.3
    assert info.machine == "CPU test"
    with pytest.raises(UsageError):
        models.list_models([tmp_path / "missing"])


def test_models_command_prints_a_table_with_the_card_metrics(fake_bundle, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(models, "ASSETS", tmp_path / "no-assets")
    assert main(["models", str(fake_bundle)]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "base, vocoder" in out
    assert "loss 0.2500" in out and "val 0.3000" in out
    assert main(["models", "--json", str(fake_bundle)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["metrics"]["vocoder"]["final_loss"] == 2.5


def test_write_card_regenerates_its_block_and_keeps_the_rest(fake_bundle):
    card = fake_bundle / "card.md"
    card.write_text("## Evaluation\nvoiced fraction 0.7\n")
    models.write_card(fake_bundle, title="test bundle")
    first = card.read_text()
    assert "# test bundle" in first and "| final_loss | 0.25 |" in first and "voiced fraction 0.7" in first
    models.write_card(fake_bundle, title="renamed")
    second = card.read_text()
    assert "# renamed" in second and "# test bundle" not in second
    assert second.count("voiced fraction 0.7") == 1


def test_train_without_data_is_a_usage_error(tmp_path):
    assert main(["train", "base", "--out", str(tmp_path / "o")]) == 2
    assert main(["train", "vocoder", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2


def _real_bundle(folder):
    """A bundle of real (tiny, untrained) checkpoints: a micro base UNet and the tiny vocoder."""
    import torch

    from ditto_live.engine.checkpoint import save_checkpoint
    from ditto_live.engine.unet import UNet, UNetConfig
    from ditto_live.engine.vocoder import VOCODER_PRESETS, Vocoder

    torch.manual_seed(0)
    cfg = UNetConfig(channels=(16, 32), blocks=(1, 1), attention=(False, False), mid_attention=False,
                     cross_attention=False, emb_dim=32, groups=8)
    vocab = {f: ["<null>", "x"] for f in ("genre", "mood", "tempo", "instrument")}
    unet = UNet(cfg, (2, 2, 2, 2))
    save_checkpoint(folder / "base", unet, {"kind": "base", "model_config": cfg.to_dict(), "mel_config": TINY_MEL,
                                            "tags": vocab, "vocab_sizes": [2, 2, 2, 2], "metrics": {"steps": 1}})
    voc = Vocoder(VOCODER_PRESETS["tiny"])
    save_checkpoint(folder / "vocoder", voc, {"kind": "vocoder", "model_config": VOCODER_PRESETS["tiny"].to_dict(),
                                              "mel_config": TINY_MEL, "metrics": {"steps": 1}})
    return unet, voc


def test_load_bundle_loads_what_is_present_and_vocodes_with_it(tmp_path):
    pytest.importorskip("ditto_live.engine.checkpoint")
    import torch

    unet, voc = _real_bundle(tmp_path / "b")
    bundle = models.load_bundle(str(tmp_path / "b"))
    assert set(bundle.meta) == {"base", "vocoder"} and bundle.ctm is None and bundle.clap is None
    assert bundle.mel_config.n_mels == 80 and bundle.tags["genre"] == ["<null>", "x"]
    x, t, tags = torch.randn(1, 1, 16, 64), torch.tensor([10.0]), torch.ones(1, 4, dtype=torch.long)
    assert torch.equal(bundle.base(x, t, tags), unet.eval()(x, t, tags))
    mel = torch.rand(1, 1, 80, 8) * 2 - 1
    assert torch.equal(bundle.mel_to_wav(mel), voc.eval()(mel).clamp(-1, 1))
    with pytest.raises(UsageError, match="no ctm student"):
        bundle.student("ctm")


def test_export_bundle_halves_the_weights_and_keeps_them_loadable(tmp_path):
    pytest.importorskip("ditto_live.engine.checkpoint")
    from safetensors.torch import load_file

    _real_bundle(tmp_path / "b")
    (tmp_path / "b" / "card.md").write_text("# card\n")
    size = models.export_bundle(tmp_path / "b", tmp_path / "half")
    assert size < models.folder_size(tmp_path / "b")
    weights = load_file(str(tmp_path / "half" / "vocoder" / "model.safetensors"))
    assert all(str(v.dtype) == "torch.float16" for v in weights.values() if v.is_floating_point())
    assert (tmp_path / "half" / "card.md").read_text() == "# card\n"
    bundle = models.load_bundle(str(tmp_path / "half"))
    assert next(bundle.vocoder.parameters()).dtype.is_floating_point


def test_train_all_assembles_the_bundle_and_card_from_each_stage(tmp_path, monkeypatch):
    from ditto_live.commands import train as train_cmd

    calls = []

    def fake_stage(name):
        def stage(args, *rest, **kw):
            out = [a for a in rest if hasattr(a, "mkdir")][-1]  # the run folder argument
            calls.append((name, out))
            shutil.rmtree(out / "final", ignore_errors=True)  # a rerun replaces its final checkpoint
            _fake_checkpoint(out / "final", name if name in models.COMPONENTS else "ctm",
                             {"steps": 3, "final_loss": 0.5})
            (out / "final" / "train_state.pt").write_bytes(b"state")
            return {"steps": 3}
        return stage

    monkeypatch.setattr(train_cmd, "train_base_stage", fake_stage("base"))
    monkeypatch.setattr(train_cmd, "train_vocoder_stage", fake_stage("vocoder"))
    monkeypatch.setattr(train_cmd, "train_clap_stage", fake_stage("clap"))
    monkeypatch.setattr(train_cmd, "train_student_stage",
                        lambda args, kind, teacher, out, steps: fake_stage(kind)(args, out))
    data = tmp_path / "corpus"
    data.mkdir()
    (data / "card.md").write_text("# Corpus card\nhours 2.0\n")
    bundle = tmp_path / "bundle"
    assert main(["train", "all", "--data", str(data), "--out", str(bundle)]) == 0
    assert [c[0] for c in calls] == ["base", "vocoder", "ctm", "cm", "clap"]
    for comp in models.COMPONENTS:
        assert (bundle / comp / "model.json").is_file()
        assert not (bundle / comp / "train_state.pt").exists()  # the bundle ships no training state
    card = (bundle / "card.md").read_text()
    assert "## ctm" in card and "hours 2.0" in card
    # a second run may skip stages and reuse their earlier runs
    calls.clear()
    assert main(["train", "all", "--data", str(data), "--out", str(bundle), "--skip", "base",
                 "--skip", "ctm", "--skip", "cm", "--skip", "clap"]) == 0
    assert [c[0] for c in calls] == ["vocoder"]
    assert (bundle / "base" / "model.json").is_file()
