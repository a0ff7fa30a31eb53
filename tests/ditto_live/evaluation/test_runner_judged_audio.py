"""The evaluation judges the clip it reports: an optimised row's control metrics (the loss-shaped one and the
BS.1770 judge) read the vocoded decode of x_T*, the audio the row keeps and embeds -- not an unoptimised decode,
which would score the optimisation's rows as the unoptimised one."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ditto_live.controls import KINDS
from ditto_live.engine import ito
from ditto_live.engine.audio import MelFrontEnd
from ditto_live.evaluation.cases import load_test_split, make_cases
from ditto_live.evaluation.runner import Embedder, Setting, run_case
from ditto_live.generation import jobspec, pipeline
from tests.fakes import FakeSentenceEncoder

from .conftest import MEL, narrow_bundle


def test_an_optimised_row_is_judged_on_the_audio_decoded_from_x_T_star(corpus, tmp_path, monkeypatch):
    bundle = narrow_bundle()
    front = MelFrontEnd(MEL)
    embedder = Embedder(bundle.clap, FakeSentenceEncoder(), front)
    split = load_test_split(corpus, "tiny", front)
    (case,) = make_cases("intensity", split, 1, bundle.tags, MEL.frame_rate, MEL.sample_rate, MEL.window_seconds,
                         tmp_path / "references")
    decodes: list[tuple[torch.Tensor, torch.Tensor]] = []  # (x_T decoded, raw x0) of every DITTO-2 decode
    real_decode = ito.ditto2_decode
    monkeypatch.setattr(ito, "ditto2_decode", lambda *a, **k: (x0 := real_decode(*a, **k), decodes.append(
        (a[1].clone(), x0.clone())))[0])  # methods.METHODS calls it through the module
    heard: list[np.ndarray] = []  # what the intensity kind measured (every path to a judge goes through it)
    kind = KINDS["intensity"]
    monkeypatch.setitem(KINDS, "intensity", dataclasses.replace(
        kind, measure=lambda t, m: (heard.append(np.array(m.audio)), kind.measure(t, m))[1]))

    (gen,) = run_case(bundle, case, Setting("CTM M=1", "ditto2", "ctm", "1", (2,)), embedder, "cpu",
                      (str(tmp_path),), steps=1, keep_audio=True)

    spec = jobspec.parse_job(case.job)
    x_T, _ = pipeline.window_noise(spec.seed, 0, spec.seeds, MEL, "cpu")  # [seeds, 1, F, N] as drawn
    (optimised,) = [x0 for decoded, x0 in decodes if not torch.equal(decoded, x_T[:1])]  # x_T*, not x_T
    (audio,) = heard
    assert gen.audio is not None and np.array_equal(audio, gen.audio)  # judged = reported and embedded
    np.testing.assert_allclose(audio, pipeline.vocode(bundle, optimised.float().clamp(-1, 1)[0]),  # as decode()
                               atol=1e-6)
    assert "intensity_loudness_mae_db" in gen.metrics
