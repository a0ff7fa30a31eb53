"""The evaluation suite: the paper's tables re-measured on this project's models.

``evaluate(cfg)`` loads the model bundle, its text-audio model and the corpus's test split, runs the
suite (``suites.run_suite``) and writes results.md, results.json and the plots (``report``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ditto_live.engine.audio import MelConfig
    from ditto_live.engine.clap import ClapModel
    from ditto_live.evaluation.external import ExternalJudges
    from ditto_live.evaluation.suites import EvalConfig, SuiteResult
    from ditto_live.generation.models import Bundle
    from ditto_live.generation.text_encoder import SentenceEmbedder

log = logging.getLogger(__name__)


def stand_in_clap(n_mels: int, device: str, seed: int = 0) -> ClapModel:
    """A random-weight text-audio model for bundles without one (numbers are labelled meaningless)."""
    import torch

    from ditto_live.engine.clap import ClapConfig, ClapModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ClapModel(ClapConfig(n_mels=n_mels)).to(device).eval()


def fill_missing_students(bundle: Bundle) -> list[str]:
    """A bundle with a base model but no CTM / CM student gets the teacher itself as that student (its
    x0 prediction as the one-step jump): DITTO runs as it is, DITTO-2 rows are labelled undistilled."""
    missing = [k for k in ("ctm", "cm") if getattr(bundle, k, None) is None]
    if missing and bundle.base is not None:
        from ditto_live.engine.distill import init_student_from_teacher

        log.warning("model %r has no %s student: using the undistilled teacher in its place", bundle.name,
                    " / ".join(missing))
        student = init_student_from_teacher(bundle.base).eval()
        for k in missing:
            setattr(bundle, k, student)
        return missing
    return []


def preset_of(mel_config: MelConfig) -> str:
    """The name of the mel preset a bundle's MelConfig equals (the corpus's mels folder)."""
    from ditto_live.engine.audio import PRESETS

    return next((name for name, cfg in PRESETS.items() if cfg == mel_config), "tiny")


def evaluate(cfg: EvalConfig, bundle: Bundle | None = None, sentence_encoder: SentenceEmbedder | None = None,
             judges: ExternalJudges | None = None) -> tuple[SuiteResult, dict[str, Path]]:
    """Run one suite end to end. -> (SuiteResult, {"json"|"md"|"fig4"|"fig5": path}). ``judges``: the
    external judges (default: those ``cfg`` asks for, from the judges' interpreter)."""
    from ditto_live.engine.audio import MelFrontEnd
    from ditto_live.evaluation.cases import corpus_works, load_test_split
    from ditto_live.evaluation.report import write_report
    from ditto_live.evaluation.runner import Embedder
    from ditto_live.evaluation.suites import run_suite
    from ditto_live.generation.models import default_loader

    bundle = bundle or default_loader(cfg.model, cfg.device)
    undistilled = fill_missing_students(bundle)
    mel = bundle.mel_config
    front = MelFrontEnd(mel).to(cfg.device)
    trained = bundle.clap is not None
    if not trained:
        log.warning("model %r has no text-audio model: FAD and CLAP use a random-weight stand-in", bundle.name)
        bundle.clap = stand_in_clap(mel.n_mels, cfg.device)  # the text control needs one too
    if sentence_encoder is None:
        from ditto_live.generation.text_encoder import default_encoder

        sentence_encoder = default_encoder()
    embedder = Embedder(bundle.clap, sentence_encoder, front, trained)
    excluded = corpus_works(cfg.exclude_works) if cfg.exclude_works else frozenset()
    split = load_test_split(cfg.data, preset_of(mel), front, cfg.split, excluded)
    log.info("%s split of %s: %d windows of %d works (%d reference, %d for cases; %d works left out as in %s)",
             cfg.split, cfg.data, len(split.meta), len(split.works()), len(split.reference_rows),
             len(split.case_rows), len(split.left_out), cfg.exclude_works or "no excluded corpus")
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    result = run_suite(cfg, bundle, embedder, split, judges)
    result.info["undistilled_students"] = undistilled
    return result, write_report(result, mel.window_seconds)
