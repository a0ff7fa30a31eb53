"""A picture of a result: the spectrogram with each control's target against what the audio achieved.

Achieved curves are measured on the vocoded audio with librosa (``ditto_live/metrics.py``), the same
numbers the sidecar reports. matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ditto_live import metrics
from ditto_live.engine.controls.structure import labels_to_target
from ditto_live.targets import SSM_SIZE, ClipTarget

PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def plot_result(path: str | Path, mel: np.ndarray, audio: np.ndarray, sample_rate: int, frame_rate: float,
                targets: list[ClipTarget], title: str = "") -> Path:
    """Write a PNG: spectrogram on top, then one panel per intensity / melody / structure target.
    mel: [F, N] normalised; audio: [samples] at ``sample_rate``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [t for t in targets if t.kind in ("intensity", "melody", "structure")]
    fig, axes = plt.subplots(1 + len(panels), 1, figsize=(10, 2.6 * (1 + len(panels))), squeeze=False)
    seconds = mel.shape[-1] / frame_rate
    ax = axes[0, 0]
    ax.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0]), cmap="magma",
              vmin=-1, vmax=1)
    ax.set(title=title or "result", ylabel="mel band")
    for t in targets:
        if t.mask is not None:
            on = t.mask.numpy() > 0
            ax.fill_between(np.arange(len(on)) / frame_rate, 0, mel.shape[0], where=on, color="cyan", alpha=0.15,
                            label=f"{t.kind} reference")
    for ax_row, t in zip(axes[1:], panels):
        ax = ax_row[0]
        if t.kind == "intensity":
            achieved = metrics.rms_db_curve(audio, sample_rate)
            ax.plot(np.arange(len(t.curve)) / frame_rate, t.curve.numpy(), label="target", lw=2)
            ax.plot(np.arange(len(achieved)) / frame_rate, achieved, label="achieved (librosa RMS)", alpha=0.8)
            ax.set(ylabel="dB")
        elif t.kind == "melody":
            achieved = metrics.chroma_argmax(audio, sample_rate)
            tgt = t.pitch.numpy().astype(float)
            tgt[tgt < 0] = np.nan
            ax.plot(np.arange(len(tgt)) / frame_rate, tgt, "s", ms=3, label="target")
            ax.plot(np.arange(len(achieved)) / frame_rate, achieved, ".", ms=2, alpha=0.7,
                    label="achieved (librosa chroma argmax)")
            ax.set(yticks=range(12), yticklabels=PITCH_NAMES, ylabel="pitch class")
        else:
            target = labels_to_target(t.labels, SSM_SIZE).numpy()
            achieved = metrics.mfcc_self_similarity(audio, sample_rate, size=SSM_SIZE)
            ax.imshow(np.concatenate([target, np.full((SSM_SIZE, 2), np.nan), achieved], 1), cmap="viridis",
                      vmin=-1, vmax=1, aspect="auto")
            ax.set(title="structure: target | achieved (librosa MFCC self-similarity)", xticks=[], yticks=[])
            continue
        ax.set(xlim=(0, seconds), xlabel="seconds", title=t.kind)
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    part = path.with_name(f".{path.name}.part")
    fig.savefig(part, dpi=80, format="png")
    plt.close(fig)
    os.replace(part, path)  # atomic, like the WAV and the sidecar
    return path
