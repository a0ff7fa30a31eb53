"""The LAION-CLAP adapter: differentiable resampling to 48 kHz, the module's calls, clear errors."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from ditto_live.errors import UsageError
from ditto_live.generation.laion import CLAP_RATE, fft_resample, load_laion_clap


def test_fft_resample_keeps_a_tone_and_its_length_ratio():
    sr = 22050
    t = torch.arange(sr) / sr
    wav = torch.sin(2 * torch.pi * 440 * t)[None]
    out = fft_resample(wav, sr, CLAP_RATE)
    assert out.shape[-1] == CLAP_RATE
    spectrum = np.abs(np.fft.rfft(out[0].numpy()))
    assert abs(np.argmax(spectrum) * 1.0 - 440) <= 1  # 1 s of audio -> 1 Hz bins
    assert float(out.abs().max()) == pytest.approx(1.0, abs=0.02)


class FakeClapModule(torch.nn.Module):
    """Stands in for laion_clap.CLAP_Module: a linear audio tower over 48 kHz audio, a bag-of-letters text tower."""

    def __init__(self, enable_fusion=False, device="cpu"):
        super().__init__()
        self.audio = torch.nn.Linear(64, 8)
        self.loaded = None

    def load_ckpt(self, path):
        self.loaded = path

    def get_audio_embedding_from_data(self, x, use_tensor=True):
        frames = x[..., : (x.shape[-1] // 64) * 64].reshape(x.shape[0], -1, 64)
        return self.audio(frames.abs().mean(dim=1))

    def get_text_embedding(self, texts, use_tensor=True):
        return torch.stack([torch.tensor([float(t.count(c)) for c in "aeiouynt"]) for t in texts])


def test_adapter_embeds_vocoded_mel_with_gradients(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "laion_clap", types.SimpleNamespace(CLAP_Module=FakeClapModule))
    ckpt = tmp_path / "630k-audioset-best.pt"
    ckpt.write_bytes(b"x")

    def vocode(mel):  # any differentiable map to audio
        return mel.mean(dim=(1, 2)).repeat_interleave(256, dim=-1)

    model = load_laion_clap(ckpt, vocode, 22050)
    assert model.module.loaded == str(ckpt)
    mel = torch.randn(2, 1, 8, 32, requires_grad=True)
    a = model.encode_audio(mel)
    t = model.encode_text(["a sad song", "dance"])
    assert a.shape == t.shape == (2, 8)
    (a * t).sum().backward()
    assert mel.grad is not None and mel.grad.abs().sum() > 0


def test_missing_checkpoint_or_package_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="not found"):
        load_laion_clap(tmp_path / "nope.pt", lambda m: m, 22050)
    ckpt = tmp_path / "c.pt"
    ckpt.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "laion_clap", None)
    with pytest.raises(UsageError, match="pip install laion-clap"):
        load_laion_clap(ckpt, lambda m: m, 22050)


def test_a_text_control_is_measured_through_the_adapter(tmp_path, monkeypatch):
    """The text measurement reads only the ``controls.TextAudio`` protocol (encode_audio, encode_text, device),
    so a job whose text control runs on LAION-CLAP is measured with it too."""
    from ditto_live.controls import ClipTarget
    from ditto_live.controls.text import TextTarget
    from ditto_live.engine.audio import PRESETS, MelFrontEnd
    from ditto_live.judges.measure import measure_controls

    monkeypatch.setitem(sys.modules, "laion_clap", types.SimpleNamespace(CLAP_Module=FakeClapModule))
    ckpt = tmp_path / "630k-audioset-best.pt"
    ckpt.write_bytes(b"x")
    model = load_laion_clap(ckpt, lambda mel: mel.mean(dim=(1, 2)).repeat_interleave(256, dim=-1), 22050)
    assert model.device == torch.device("cpu")
    audio = np.random.default_rng(0).normal(0, 0.1, 22050).astype(np.float32)
    target = ClipTarget("text", 1.0, TextTarget("a sad song"))
    measured = measure_controls([target], audio, MelFrontEnd(PRESETS["tiny"]), model)
    assert set(measured) == {"text_cosine"} and -1 <= measured["text_cosine"] <= 1
