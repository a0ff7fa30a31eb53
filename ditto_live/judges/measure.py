"""Each control of a job measured on the vocoded audio -- what the job runner's sidecar and the evaluation report.

Each kind measures itself (``ditto_live/controls/``): a loss-shaped metric (librosa RMS, chroma, MFCC
self-similarity; the re-analysed mel for painting and loops; the text-audio model for text) beside an
independent judge (``ditto_live/judges/independent.py``: BS.1770 loudness, pYIN + mir_eval, chroma-novelty boundaries).
Kept apart from the job runner because the evaluation measures its cases the same way, without a job.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ditto_live.controls import KINDS, ClipTarget, Measuring, TextAudio
from ditto_live.engine.audio import MelFrontEnd


def measure_controls(targets: list[ClipTarget[Any]], audio: np.ndarray, front: MelFrontEnd,
                     text_model: TextAudio | None = None) -> dict[str, float]:
    """Each control measured on vocoded audio [samples] at the front end's rate (text only when
    ``text_model`` is given)."""
    m = Measuring(audio, front.cfg.sample_rate, front, front.cfg, text_model)
    out: dict[str, float] = {}
    for t in targets:
        out.update(KINDS[t.kind].measure(t, m))
    return out
