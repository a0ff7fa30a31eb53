"""Each control of a job measured on the vocoded audio -- what the job runner's sidecar and the evaluation report.

Kept apart from the job runner (``ditto_live/jobs.py``) because the evaluation (``evaluation/runner.py``)
measures its cases the same way, without running a job: librosa (``ditto_live/metrics.py``) for intensity,
melody and structure, the re-analysed mel for inpaint / outpaint / loop, the text-audio model for text.
"""

from __future__ import annotations

import numpy as np
import torch

from ditto_live import metrics
from ditto_live.engine.audio import MelFrontEnd, norm_to_db
from ditto_live.engine.controls.structure import labels_to_target
from ditto_live.targets import SSM_SIZE, ClipTarget


def measure_controls(targets: list[ClipTarget], audio: np.ndarray, sample_rate: int, front: MelFrontEnd,
                     min_db: float, max_db: float, text_model=None) -> dict[str, float]:
    """Each control measured on vocoded audio: librosa for intensity, melody and structure; the re-analysed
    mel for inpaint / outpaint / loop; the text-audio model for text (skipped when ``text_model`` is None)."""
    out: dict[str, float] = {}
    remel = None
    for t in targets:
        if t.kind == "intensity":
            out["intensity_mse_db2"] = metrics.intensity_mse(audio, sample_rate, t.curve.numpy())
        elif t.kind == "melody":
            out["melody_accuracy"] = metrics.melody_accuracy(audio, sample_rate, t.pitch.numpy())
        elif t.kind == "structure":
            out["structure_mse"] = metrics.structure_mse(audio, sample_rate, labels_to_target(t.labels, SSM_SIZE).numpy())
        elif t.kind == "text" and text_model is None:
            continue
        else:
            if remel is None:
                with torch.no_grad():
                    remel = front(torch.from_numpy(audio).float()[None].to(front.window.device)).cpu()
            db = norm_to_db(remel[0, 0], min_db, max_db)  # [F, N]
            n = db.shape[-1]
            if t.kind in ("inpaint", "outpaint"):
                ref = norm_to_db(t.reference[0, :, :n], min_db, max_db)
                m = t.mask[:n].bool()
                out[f"{t.kind}_mel_mse_db2"] = float(((db - ref)[:, m] ** 2).mean())
            elif t.kind == "loop":  # spectral jump across the wrap vs the clip's typical frame step
                out["loop_seam_jump_db"] = float((db[:, -1] - db[:, 0]).abs().mean())
                out["loop_median_jump_db"] = float((db[:, 1:] - db[:, :-1]).abs().mean(0).median())
            elif t.kind == "text":
                with torch.no_grad():
                    emb = text_model.encode_audio(remel.to(next(text_model.clap.parameters()).device))
                    txt = text_model.encode_text([t.caption])
                out["text_cosine"] = float(torch.nn.functional.cosine_similarity(emb, txt).item())
    return out
