"""The Vocos-style vocoder: shapes and size, its losses, that training lowers the loss on a clip, the
Griffin-Lim fallback, and a checkpoint round trip."""

from __future__ import annotations

import math

import pytest
import torch

from ditto_live.engine.audio import PRESETS, MelFrontEnd
from ditto_live.engine.train.common import EMA, OptimConfig, train_loop
from ditto_live.engine.train.vocoder import (
    log_magnitude_l1,
    multi_resolution_stft_loss,
    random_crops,
    spectral_convergence,
    stft_magnitude,
    vocoder_loss,
)
from ditto_live.engine.unet import count_parameters
from ditto_live.engine.vocoder import VOCODER_PRESETS, Vocoder, VocoderConfig, istft, mel_to_wav

SR = 22050


def _chord(samples: int) -> torch.Tensor:
    """A two-note tone with an onset, [1, samples]."""
    t = torch.arange(samples) / SR
    return (0.3 * torch.sin(2 * math.pi * 220 * t) + 0.2 * torch.sin(2 * math.pi * 330 * t) * (t > 0.2)).unsqueeze(0)


def test_vocoder_maps_mel_frames_to_hop_samples_each():
    voc = Vocoder(VOCODER_PRESETS["tiny"])
    wav = voc(torch.rand(2, 1, 80, 48) * 2 - 1)
    assert wav.shape == (2, 48 * 256)
    assert torch.isfinite(wav).all()
    assert voc(torch.rand(1, 80, 16)).shape == (1, 16 * 256)  # [B, F, N] accepted too


def test_tiny_vocoder_is_small_and_paper_vocoder_matches_the_paper_mels():
    n_tiny = count_parameters(Vocoder(VOCODER_PRESETS["tiny"]))
    assert 200_000 <= n_tiny <= 1_000_000
    assert VOCODER_PRESETS["paper"].n_mels == PRESETS["paper"].n_mels
    assert VOCODER_PRESETS["tiny"].n_mels == PRESETS["tiny"].n_mels
    assert VocoderConfig.from_dict(VOCODER_PRESETS["tiny"].to_dict()) == VOCODER_PRESETS["tiny"]


def test_stft_losses_vanish_on_identical_signals_and_grow_with_the_error():
    x = _chord(8192)
    noisy = x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert multi_resolution_stft_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    small = multi_resolution_stft_loss(noisy, x).item()
    large = multi_resolution_stft_loss(x + 4 * (noisy - x), x).item()
    assert 0 < small < large
    m = stft_magnitude(x, 1024, 256)
    assert spectral_convergence(m * 2, m).item() == pytest.approx(1.0, rel=1e-4)  # ||2S - S|| / ||S||
    assert log_magnitude_l1(m * math.e, m).item() == pytest.approx(1.0, rel=1e-4)


def test_random_crops_are_frame_aligned_slices_of_their_rows():
    audio = torch.arange(3 * 10 * 4, dtype=torch.float32).reshape(3, 40)  # 10 frames of hop 4
    crops = random_crops(audio, torch.tensor([2, 0]), segment=3, hop=4, generator=torch.Generator().manual_seed(1))
    assert crops.shape == (2, 12)
    for crop, row in zip(crops, (2, 0)):
        start = int(crop[0].item()) - row * 40
        assert start % 4 == 0
        assert torch.equal(crop, audio[row, start:start + 12])


def test_vocoder_training_lowers_its_loss_on_one_clip():
    torch.manual_seed(0)
    wav = _chord(32 * 256)
    front = MelFrontEnd(PRESETS["tiny"])
    voc = Vocoder(VOCODER_PRESETS["tiny"])
    result = train_loop(voc, lambda step: vocoder_loss(voc, wav, front, 5.0), steps=30,
                        optim=OptimConfig(lr=2e-3, warmup=3, ema_decay=0.0), device=torch.device("cpu"),
                        gens={}, examples_per_step=1, progress=False, tail=3)
    assert result.final_loss < 0.85 * result.first_loss, (result.first_loss, result.final_loss)


def test_mel_to_wav_uses_the_vocoder_when_given_and_griffin_lim_otherwise():
    cfg = PRESETS["tiny"]
    mel = MelFrontEnd(cfg).wav_to_mel(_chord(16 * 256))
    voc = Vocoder(VOCODER_PRESETS["tiny"]).eval()
    by_voc = mel_to_wav(mel, voc)
    assert torch.allclose(by_voc, voc(mel).clamp(-1, 1))
    by_gl = mel_to_wav(mel, None, cfg, n_iter=4)
    assert by_gl.shape == by_voc.shape == (1, 16 * 256)
    with pytest.raises(ValueError):
        mel_to_wav(mel, None, None)


def test_vocoder_checkpoint_round_trip_is_exact(tmp_path):
    ckpt = pytest.importorskip("ditto_live.engine.checkpoint")
    voc = Vocoder(VOCODER_PRESETS["tiny"]).eval()
    ema = EMA(voc, 0.5)  # any non-trivial weights
    ema.copy_to(voc)
    meta = {"kind": "vocoder", "model_config": VOCODER_PRESETS["tiny"].to_dict(),
            "mel_config": PRESETS["tiny"].to_dict()}
    ckpt.save_checkpoint(tmp_path / "vocoder", voc, meta)
    loaded, meta2 = ckpt.load_checkpoint(tmp_path / "vocoder")
    assert isinstance(loaded, Vocoder) and meta2["kind"] == "vocoder"
    mel = torch.rand(1, 1, 80, 8) * 2 - 1
    assert torch.equal(loaded(mel), voc(mel))


def test_log_power_is_the_synthesised_spectrum_in_bels_and_carries_the_mel_gradient():
    torch.manual_seed(0)
    voc = Vocoder(VocoderConfig()).eval()
    mel = torch.rand(2, 1, 80, 12).mul(2).sub(1).requires_grad_(True)
    bels = voc.log_power(mel)
    spectrum = voc.head.spectrum(voc.features(mel))
    assert bels.shape == (2, 513, 12)
    assert torch.allclose(bels, torch.log10(spectrum.abs().square()), atol=1e-4)
    bels.sum().backward()
    assert torch.isfinite(mel.grad).all() and float(mel.grad.abs().sum()) > 0


@pytest.mark.parametrize(("n_fft", "frames"), [(1024, 1), (1024, 37), (2048, 64)])
def test_the_traceable_istft_is_torchs_istft(n_fft, frames):
    """The head's ISTFT (inverse FFTs and an overlap-add, so a graph can be traced through it) gives the
    waveform ``torch.istft`` gives, centred, at the tiny and paper STFT sizes."""
    g = torch.Generator().manual_seed(frames)
    spec = torch.complex(torch.randn(2, n_fft // 2 + 1, frames, generator=g),
                         torch.randn(2, n_fft // 2 + 1, frames, generator=g))
    window = torch.hann_window(n_fft)
    want = torch.istft(spec, n_fft, 256, window=window, center=True, length=frames * 256)
    torch.testing.assert_close(istft(spec, n_fft, 256, window, frames * 256), want, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="multiple of the hop"):
        istft(spec, n_fft, 300, window, frames * 300)
