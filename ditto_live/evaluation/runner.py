"""Running one evaluation case under one method setting, and measuring what came out.

A case's job goes through the pipeline's own steps (``ditto_live.generation.pipeline``: ``plan_job``, then
``optimise_window`` -- the window's controls, x_T, noise seed and optimisation, as ``generate`` runs each
window --, then ``decode`` and ``vocode`` once per T), so that one optimised x_T* can be decoded with several T
(Figure 5 and Table 2 vary T at a fixed optimisation) and so the timings hold only the method's own
work: ITO plus decoding, on the same initial noise for every method. The student's sampling noise is
one seed per case too: the M-step surrogate uses it and every T decodes with it, so M = T decodes
exactly what was optimised and the unoptimised row differs from the optimised ones only in x_T. Adherence is measured
on the vocoded audio with librosa (``ditto_live.judges.metrics``); quality and text relevance in the embedding
of the project's text-audio model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ditto_live.controls import KINDS
from ditto_live.engine.audio import MelFrontEnd
from ditto_live.evaluation.cases import Case
from ditto_live.generation import pipeline
from ditto_live.generation.jobspec import parse_job
from ditto_live.generation.models import Bundle
from ditto_live.generation.pipeline import (
    Backends,
    Engine,
    Laps,
    decode,
    job_cond,
    optimise_window,
    plan_job,
    sync,
    vocode,
)
from ditto_live.generation.targets import ClipTarget, TextModel
from ditto_live.judges.measure import measure_controls

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Setting:
    """One row family of a table: a method and its (M, T)."""

    label: str  # row name, e.g. "DITTO-2 (CTM)"
    method: str  # "ditto" (teacher, full DDIM chain) or "ditto2" (distilled student surrogate)
    student: str = "ctm"  # distilled student for ditto2: "ctm" or "cm"
    surrogate: str = "1"  # M during optimisation: "1", "2", "4" or "adaptive"
    decode_steps: tuple[int, ...] = (0,)  # T values decoded from the same x_T* (0: the job's default, as
    # pipeline.decode_steps_of gives it; DITTO always uses its chain)
    optimise: bool = True  # False: no optimisation; decode the initial noise (the "unoptimised" row)
    null_tags: bool = False  # condition on the null tags (the paper's "N/A" condition)

    @property
    def m_label(self) -> str:
        chain = pipeline.METHODS[self.method].chain
        return self.surrogate if chain is None else str(chain)

    def decodes(self) -> tuple[int, ...]:
        chain = pipeline.METHODS[self.method].chain
        return self.decode_steps if chain is None else (chain,)


@dataclass
class Generation:
    """One generated clip and its measurements."""

    task: str  # the case's task
    case: int  # the case's index
    setting: str  # the Setting's label
    T: int  # decoding steps
    optimise_s: float  # wall time of the optimisation (shared by every T of this case and setting)
    decode_s: float  # wall time of decoding with T steps
    vocode_s: float  # wall time of the vocoder
    steps: int  # K optimisation steps run
    metrics: dict[str, float]  # control adherence measured on the vocoded audio
    clap: float  # cosine between the audio's and the caption's embeddings
    embedding: np.ndarray = field(repr=False)  # [D] audio embedding (for FAD)
    loss_before: dict[str, float] = field(default_factory=dict)  # surrogate losses at x_T
    loss_after: dict[str, float] = field(default_factory=dict)  # surrogate losses at x_T*
    audio: np.ndarray | None = field(default=None, repr=False)  # the waveform, kept only when asked
    lr: float = 0.0  # Adam's learning rate on x_T the optimisation ran at (0: not optimised)

    @property
    def seconds(self) -> float:
        """The method's time for this clip: optimisation plus decoding."""
        return self.optimise_s + self.decode_s

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "case": self.case, "setting": self.setting, "T": self.T,
                "optimise_s": round(self.optimise_s, 4), "decode_s": round(self.decode_s, 4),
                "vocode_s": round(self.vocode_s, 4), "seconds": round(self.seconds, 4), "steps": self.steps, "lr": self.lr,
                "metrics": self.metrics, "clap": self.clap, "loss_before": self.loss_before,
                "loss_after": self.loss_after, "embedding": [round(float(v), 5) for v in self.embedding]}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Generation:
        """A clip back from its ``to_dict`` record (an evaluation journal's line)."""
        return Generation(d["task"], int(d["case"]), d["setting"], int(d["T"]), float(d["optimise_s"]),
                          float(d["decode_s"]), float(d["vocode_s"]), int(d["steps"]), dict(d["metrics"]),
                          float(d["clap"]), np.asarray(d["embedding"], dtype=np.float64),
                          dict(d.get("loss_before", {})), dict(d.get("loss_after", {})), lr=float(d.get("lr", 0.0)))


class Embedder:
    """Audio and captions into the joint space of the project's text-audio model (FAD and CLAP score)."""

    def __init__(self, clap: Any, sentence_encoder: Any, front_end: MelFrontEnd, trained: bool = True):
        self.clap = clap  # engine ClapModel
        self.text_model = TextModel(clap, sentence_encoder)  # also what the text control uses
        self.front = front_end  # waveform -> the model's mel
        self.trained = trained  # False: a random-weight stand-in (numbers only show the pipeline runs)

    @property
    def device(self) -> torch.device:
        return next(self.clap.parameters()).device

    @torch.no_grad()
    def mels(self, mel: Tensor, batch: int = 32) -> np.ndarray:
        """mel [B, 1, F, N] -> unit-norm embeddings [B, D]."""
        out = [self.clap.encode_audio(mel[i:i + batch].to(self.device).float()).cpu() for i in range(0, len(mel), batch)]
        return torch.cat(out).numpy().astype(np.float64)

    @torch.no_grad()
    def audio(self, wav: Tensor | np.ndarray, batch: int = 32) -> np.ndarray:
        """Waveforms [B, samples] at the model rate -> [B, D], through the model's mel front end."""
        wav = torch.as_tensor(np.asarray(wav), dtype=torch.float32)
        wav = wav[None] if wav.dim() == 1 else wav
        mel = torch.cat([self.front(wav[i:i + batch].to(self.front.window.device)).cpu()
                         for i in range(0, len(wav), batch)])
        return self.mels(mel, batch)

    @torch.no_grad()
    def text(self, captions: list[str]) -> np.ndarray:
        """Captions -> unit-norm embeddings [B, D]."""
        return self.text_model.encode_text(list(captions)).cpu().numpy().astype(np.float64)


def control_metrics(targets: list[ClipTarget[Any]], audio: np.ndarray, front: MelFrontEnd) -> dict[str, float]:
    """Each control's adherence on vocoded audio, as the job runner measures it (``measure.measure_controls``:
    the loss-shaped metric and the independent judge), under the report's names (each kind's
    ``EvalTask.renamed``: the inpaint / outpaint dB^2 error on the enforced frames is ``<kind>_mse_db2``)."""
    measured = measure_controls(targets, audio, front)
    renamed = dict(pair for t in targets if (ev := KINDS[t.kind].evaluation) is not None for pair in ev.renamed)
    return {renamed.get(k, k): v for k, v in measured.items()}


def run_case(bundle: Bundle, case: Case, setting: Setting, embedder: Embedder, device: str, allowed_roots: tuple[str, ...],
             steps: int = 0, lr: float = 0.0, keep_audio: bool = False, autocast: bool = False) -> list[Generation]:
    """Optimise (unless the setting says not to) and decode ``case`` under ``setting``, once per T, through
    the pipeline's own steps (``ditto_live.generation.pipeline``): the same targets, x_T, noise seed, optimisation and
    decoding as a job, so the unoptimised row differs from the optimised ones only in the optimisation.
    ``autocast``: the optimisation's model calls under bf16 autocast, as a job's on a CPU with native bf16
    (decoding stays float32, as a job's with float32 weights)."""
    dev = torch.device(device)
    job = {**case.job, "model": bundle.name, "method": setting.method, "student": setting.student,
           "surrogate": setting.surrogate, "lr": lr, "steps": steps}
    if setting.null_tags:
        job["tags"] = {}
    spec = parse_job(job)
    plan = plan_job(spec, bundle, device, allowed_roots, embedder.front, lambda: embedder.text_model)
    if setting.null_tags:
        plan.tags = torch.zeros(4, dtype=torch.long, device=dev)
    if not setting.optimise:
        plan.steps = 0  # the window's x_T decoded as drawn
    cond = job_cond(plan)
    engine = Engine(device, autocast=autocast, backends=Backends("eager", device))
    clip = torch.zeros(1, plan.mel.n_mels, plan.total, device=dev)  # [1, F, N] nothing generated before it
    lap = Laps(dev)
    run = optimise_window(plan, engine, 0, cond, clip, lap=lap)  # x_T* [1, 1, F, N] and its noise seed
    optimise_s = lap.ms["optimise"] / 1000
    res = run.ito
    before, after = (res.initial_losses, res.losses) if res is not None else ({}, {})
    k_run = res.steps_run if res is not None else 0

    out = []
    for T in setting.decodes():
        T = T or plan.decode_steps
        start = time.perf_counter()
        x0 = decode(plan, run.x_best, cond, run.best_noise, T)
        sync(dev)
        decode_s = time.perf_counter() - start
        start = time.perf_counter()
        audio = vocode(bundle, x0[0])
        vocode_s = time.perf_counter() - start
        measured = control_metrics(plan.targets, audio, embedder.front)
        emb = embedder.audio(audio)[0]
        clap = float(emb @ embedder.text([case.caption])[0])
        out.append(Generation(case.task, case.index, setting.label, T, optimise_s, decode_s, vocode_s, k_run,
                              measured, clap, emb, before, after, audio if keep_audio else None,
                              lr=plan.lr if k_run else 0.0))
    return out
