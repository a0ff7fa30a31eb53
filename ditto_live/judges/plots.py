"""A picture of a result: the spectrogram with each control's target against what the audio achieved.

Each kind draws its own panel (``ditto_live/controls/``): achieved curves are measured on the vocoded audio
with librosa (``ditto_live/judges/metrics.py``), the loss-shaped numbers the sidecar reports. matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ditto_live.controls import KINDS, ClipTarget, Measuring
from ditto_live.engine.audio import MelFrontEnd


def plot_result(path: str | Path, mel: np.ndarray, audio: np.ndarray, front: MelFrontEnd,
                targets: list[ClipTarget[Any]], title: str = "") -> Path:
    """Write a PNG: spectrogram on top, then one panel per target whose kind draws one (``Kind.plot``).
    mel: [F, N] normalised; audio: [samples] at the front end's rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame_rate = front.cfg.frame_rate
    panels = [t for t in targets if KINDS[t.kind].plot is not None]
    fig, axes = plt.subplots(1 + len(panels), 1, figsize=(10, 2.6 * (1 + len(panels))), squeeze=False)
    seconds = mel.shape[-1] / frame_rate
    ax = axes[0, 0]
    ax.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0]), cmap="magma",
              vmin=-1, vmax=1)
    ax.set(title=title or "result", ylabel="mel band")
    for t in targets:
        if (pinned := KINDS[t.kind].pinned) is not None:
            on = pinned(t).numpy() > 0
            ax.fill_between(np.arange(len(on)) / frame_rate, 0, mel.shape[0], where=on, color="cyan", alpha=0.15,
                            label=f"{t.kind} reference")
    measured = Measuring(audio, front.cfg.sample_rate, front, front.cfg)
    for ax_row, t in zip(axes[1:], panels):
        ax, draw = ax_row[0], KINDS[t.kind].plot
        if draw is not None and draw(ax, t, measured):  # a panel over time
            ax.set(xlim=(0, seconds), xlabel="seconds", title=t.kind)
            ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    part = path.with_name(f".{path.name}.part")
    fig.savefig(part, dpi=80, format="png")
    plt.close(fig)
    os.replace(part, path)  # atomic, like the WAV and the sidecar
    return path
