"""On the shipped default model, DITTO-2 with the structure control at least halves librosa's structure
MSE on the vocoded audio (issue 6's target) for an ABA case: the surrogate's gain survives decoding."""

from __future__ import annotations

import pytest
import torch

from ditto_live.engine.conditioning import Cond
from ditto_live.engine.controls import loss_function
from ditto_live.engine.controls.structure import form_target, structure_control
from ditto_live.engine.ito import ditto2_decode, ditto2_optimise
from ditto_live.judges import metrics


@pytest.mark.slow  # ~30-60 s on a shared 2-core machine: 150 surrogate steps, two decodes, two vocoder passes
def test_ditto2_halves_the_librosa_structure_mse_of_an_aba_clip_on_the_default_model():
    from ditto_live.generation.models import load_bundle

    bundle = load_bundle("default")
    mel = bundle.mel_config
    target = form_target("ABA", mel.frames)  # [64, 64]
    loss = loss_function([structure_control(target, mel.min_db, mel.max_db)])
    cond = Cond(torch.ones(1, 4, dtype=torch.long), w=3.0)  # the first tag of every field
    x_T = torch.randn(1, 1, mel.n_mels, mel.frames, generator=torch.Generator().manual_seed(3))
    result = ditto2_optimise(bundle.ctm, x_T, cond, loss, 150, 5e-3, student_kind="ctm")

    def measured(x: torch.Tensor) -> float:
        x0 = ditto2_decode(bundle.ctm, x, cond, 2, 0.2, "ctm", torch.Generator().manual_seed(1)).clamp(-1, 1)
        with torch.no_grad():
            audio = bundle.mel_to_wav(x0)[0].numpy()
        return metrics.structure_mse(audio, mel.sample_rate, target.numpy())

    before, after = measured(x_T), measured(result.x_T)
    assert after <= 0.5 * before, (before, after)
