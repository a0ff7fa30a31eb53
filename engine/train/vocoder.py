"""Train the neural vocoder (engine/vocoder.py) on the corpus audio.

Loss, GAN-free (as DITTO-2 drops the GAN of CTM): a multi-resolution STFT loss (spectral convergence +
log-magnitude L1, Parallel WaveGAN) plus an L1 between the mel of the output and the input mel, in the
model's own normalised dB domain, so the vocoder is judged on the representation it inverts.
Training examples are random frame-aligned crops of the corpus windows; the input mel is computed from
the crop by the same front end that built the corpus, so train and use see the same mels.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from ditto_live.engine.audio import PRESETS as MEL_PRESETS
from ditto_live.engine.audio import MelConfig, MelFrontEnd
from ditto_live.engine.train import distributed
from ditto_live.engine.train.common import OptimConfig, batch_indices, checkpoint_meta, start_run, train_loop
from ditto_live.engine.train.dataset import part_rows, read_shards, read_windows
from ditto_live.engine.vocoder import VOCODER_PRESETS, Vocoder, VocoderConfig

log = logging.getLogger(__name__)

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) of the multi-resolution loss


@dataclass(frozen=True)
class VocoderRecipe:
    preset: str = "tiny"  # mel preset and vocoder preset
    steps: int = 3000  # optimizer steps
    batch: int = 16  # crops per step, over all processes (each of W ranks draws batch / W)
    segment_frames: int = 64  # mel frames per crop (64 * 256 samples = 0.74 s)
    mel_weight: float = 5.0  # weight of the mel L1 against the multi-resolution STFT loss
    seed: int = 0  # seeds initialisation, crops and data order
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, warmup=100, ema_decay=0.995))

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# losses


def stft_magnitude(wav: Tensor, n_fft: int, hop: int) -> Tensor:
    """|STFT| with a Hann window. wav [B, T] -> [B, n_fft/2 + 1, frames]"""
    window = torch.hann_window(n_fft, device=wav.device)
    spec = torch.stft(wav.float(), n_fft, hop, window=window, center=True, return_complex=True)
    return spec.abs().clamp_min(1e-7)


def spectral_convergence(pred_mag: Tensor, true_mag: Tensor) -> Tensor:
    """||S - S_hat||_F / ||S||_F, averaged over the batch."""
    num = (true_mag - pred_mag).flatten(1).norm(dim=1)
    den = true_mag.flatten(1).norm(dim=1).clamp_min(1e-7)
    return (num / den).mean()


def log_magnitude_l1(pred_mag: Tensor, true_mag: Tensor) -> Tensor:
    """Mean |log S - log S_hat|."""
    return (true_mag.log() - pred_mag.log()).abs().mean()


def multi_resolution_stft_loss(pred: Tensor, target: Tensor,
                               resolutions: tuple[tuple[int, int], ...] = STFT_RESOLUTIONS) -> Tensor:
    """Mean over resolutions of spectral convergence + log-magnitude L1. pred, target: [B, T]"""
    total = pred.new_zeros(())
    for n_fft, hop in resolutions:
        p, t = stft_magnitude(pred, n_fft, hop), stft_magnitude(target, n_fft, hop)
        total = total + spectral_convergence(p, t) + log_magnitude_l1(p, t)
    return total / len(resolutions)


def mel_l1(pred_wav: Tensor, target_mel: Tensor, front: MelFrontEnd) -> Tensor:
    """L1 between the mel of the output and the target mel, both [B, 1, F, N] in [-1, 1]."""
    return (front.wav_to_mel(pred_wav) - target_mel).abs().mean()


def vocoder_loss(vocoder: nn.Module, wav: Tensor, front: MelFrontEnd, mel_weight: float) -> Tensor:
    """The full training loss on a batch of clean crops wav [B, frames * hop]; ``vocoder``: a ``Vocoder``, or
    one wrapped for DDP."""
    with torch.no_grad():
        mel = front.wav_to_mel(wav)  # [B, 1, F, N]
    pred = vocoder(mel)  # [B, N * hop]
    return multi_resolution_stft_loss(pred, wav) + mel_weight * mel_l1(pred, mel, front)


def random_crops(audio: Tensor, idx: Tensor, segment: int, hop: int, generator: torch.Generator) -> Tensor:
    """Frame-aligned crops of ``segment * hop`` samples from rows ``idx`` of audio [N, T] -> [B, segment*hop]."""
    frames = audio.shape[1] // hop
    starts = torch.randint(0, frames - segment + 1, (len(idx),), generator=generator) * hop
    return torch.stack([audio[i, s:s + segment * hop] for i, s in zip(idx.tolist(), starts.tolist())]).float()


# ---------------------------------------------------------------------------------------------
# entry point


def load_train_audio(data_dir: str | Path, split: str = "train", limit: int = 0,
                     part: tuple[int, int] = (0, 1)) -> Tensor:
    """A corpus split's first ``limit`` (0 = all) audio windows as one float16 tensor [N, samples] at the
    model rate (the shards audio/<split>-<k>.safetensors of docs/architecture.md); of those, block
    ``part`` (index, count: ``dataset.part_rows``) alone."""
    n = sum(m["split"] == split for m in read_windows(data_dir))
    rows = part_rows(min(n, limit) if limit else n, part)
    return read_shards(Path(data_dir) / "audio", split, "audio", rows=rows)[0].half()


def train_vocoder(data_dir: str | Path, out_dir: str | Path, preset: str = "tiny", steps: int = 3000,
                  batch: int = 16, lr: float = 1e-3, seed: int = 0, device: str = "auto",
                  resume: bool | str = False, ckpt_every: int = 500, progress: bool = True,
                  audio: Tensor | None = None, limit: int = 0, stop_at: int | None = None,
                  time_budget_s: float | None = None, fit_s: float | None = None) -> dict:
    """Train a vocoder on a corpus (or on ``audio`` [N, samples] given directly); checkpoints of kind
    "vocoder" go to OUT/step-N, OUT/latest and OUT/final. Under torchrun each rank reads its block of
    the corpus (or of ``audio``) and draws batch / W crops a step; ``fit_s``: see ``train_loop``. Returns the final metrics."""
    recipe = VocoderRecipe(preset=preset, steps=steps, batch=batch, seed=seed,
                           optim=OptimConfig(lr=lr, warmup=min(100, steps // 10), ema_decay=0.995))
    run = start_run(seed, device)
    dev, gen, machine, ranks = run.device, run.generator, run.machine, run.ranks
    per_rank = distributed.local_batch(batch, ranks.world)
    mel_cfg: MelConfig = MEL_PRESETS[preset]
    voc_cfg: VocoderConfig = VOCODER_PRESETS[preset]
    if audio is None:
        audio = load_train_audio(data_dir, limit=limit, part=ranks.part)
    else:
        rows = part_rows(len(audio), ranks.part)
        audio = audio[rows.start:rows.stop]
    windows = distributed.total(len(audio))
    log.info("vocoder: %d training windows, preset %s", windows, preset)
    model = Vocoder(voc_cfg).to(dev)
    net = distributed.wrap(model)  # what the loss calls: DDP under torchrun, the model itself otherwise
    front = MelFrontEnd(mel_cfg).to(dev)
    hop = mel_cfg.hop_length
    segment = min(recipe.segment_frames, audio.shape[1] // hop)

    def loss_fn(step: int) -> Tensor:
        idx = batch_indices(step, per_rank, len(audio), run.seed)
        wav = random_crops(audio, idx, segment, hop, gen).to(dev)
        return vocoder_loss(net, wav, front, recipe.mel_weight)

    def export_meta(metrics: dict) -> dict:
        return checkpoint_meta("vocoder", model, voc_cfg.to_dict(), mel_cfg.to_dict(),
                               recipe.to_dict() | {"data": str(data_dir), "windows": windows}, metrics, machine)

    result = train_loop(model, loss_fn, steps, recipe.optim, dev, {"data": gen}, batch, out_dir=out_dir,
                        ckpt_every=ckpt_every, resume=resume, export_meta=export_meta, desc="vocoder",
                        progress=progress, stop_at=stop_at, time_budget_s=time_budget_s, fit_s=fit_s)
    return result.metrics() | {"first_loss": round(result.first_loss, 6), "machine": machine}
