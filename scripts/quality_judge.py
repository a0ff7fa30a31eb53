"""The quality judge's sanity table (issue 31): FD and KID in musicnn's embedding of sets whose rank is
known, against the corpus's held-out test audio; writes docs/results/quality_judge/sanity.json and
docs/results/quality.json.

Sets (the same clips count in each; every set but the noise is built from the same val windows, so the
intervals resample the val works):

- real: the val split's audio (other works than the test split's);
- vocoded: the same windows' stored mels through the bundle's vocoder;
- shuffled: the same mels with their frames shuffled in time, vocoded (the right spectrum, no music);
- white_noise, pink_noise: at the real clips' median RMS (loudness is not the tell);
- default_model: the bundle's unoptimised output for each window's tags and tempo (the evaluation's
  intensity case of the window, decoded from x_T without optimisation);
- controlled: the same x_T optimised to follow that case's intensity curve (DITTO-2, CTM, defaults).

    nice -n 15 python scripts/quality_judge.py [--corpus DIR] [--model default] [--clips 48] [--threads 1]

Generated audio is cached (``--cache``), so the embedding step can be rerun without generating. The
judges' interpreter comes from ``scripts/setup_judges.sh`` (or $DITTO_LIVE_JUDGES_PYTHON).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ditto_live.judges.quality import (
    SANITY_ORDER,
    Bootstrap,
    MusicnnEmbedding,
    Reference,
    fit_length,
    judge_sets,
    judges_python,
    musicnn_missing,
    paired_difference,
    pink_noise,
    rms,
    sanity_ordering,
    score_set,
    shuffle_frames,
    white_noise,
)

log = logging.getLogger("quality_judge")
ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "results" / "quality_judge"  # the raw sanity results
SUMMARY = ROOT / "docs" / "results" / "quality.json"  # the issue's {"judge", "rows"} file
MODELS = ("MSD_musicnn", "MTT_musicnn")  # musicnn checkpoints judged (the first is the judge of record)
SEED = 0  # seeds the clip choice, the shuffles, the noise and the generations


def vocode_all(bundle: Any, mels: torch.Tensor, batch: int = 8) -> np.ndarray:
    """[n, 1, F, N] normalised mels -> [n, N * hop] by the bundle's vocoder."""
    with torch.no_grad():
        parts = [bundle.mel_to_wav(mels[i:i + batch]).cpu() for i in range(0, len(mels), batch)]
        return torch.cat(parts).numpy()


def generate_sets(bundle: Any, split: Any, rows: list[int], front: Any,
                  threads: int) -> dict[str, np.ndarray]:
    """The bundle's unoptimised and intensity-controlled output for the evaluation's intensity case of each
    val window in ``rows``. -> {"default_model": [n, s], "controlled": [n, s]}"""
    from ditto_live.evaluation.cases import make_cases
    from ditto_live.generation.jobspec import parse_job
    from ditto_live.generation.pipeline import Backends, Engine, generate, plan_job, vocode

    mel = bundle.mel_config
    torch.set_num_threads(threads)
    window = dataclasses.replace(split, case_rows=rows)
    cases = make_cases("intensity", window, len(rows), bundle.tags, mel.frame_rate, mel.sample_rate,
                       mel.window_seconds, Path("/tmp/quality_judge_refs"), seed=SEED)
    by_row = {c.row: c for c in cases}
    plain, controlled = [], []
    for i, row in enumerate(rows):
        case = by_row[row]
        start = time.perf_counter()
        spec = parse_job({**case.job, "model": bundle.name})
        plan = plan_job(spec, bundle, "cpu", [], front)
        gen = generate(plan, Engine("cpu", backends=Backends("eager", "cpu")), unoptimised=True)
        assert gen.unoptimised is not None
        plain.append(vocode(bundle, gen.unoptimised))
        controlled.append(vocode(bundle, gen.mel))
        log.info("generated %d/%d (row %d, %s) in %.1f s", i + 1, len(rows), row,
                 case.target.get("shape", ""), time.perf_counter() - start)
    samples = split.audio.shape[1]
    return {"default_model": fit_length(np.stack([a[:samples] for a in plain]), samples),
            "controlled": fit_length(np.stack([a[:samples] for a in controlled]), samples)}


def choose_rows(meta: list[dict], clips: int, rng: np.random.Generator) -> list[int]:
    """``clips`` rows of the split spread over its works (round-robin over works in a seeded order)."""
    works: dict[str, list[int]] = {}
    for i, m in enumerate(meta):
        works.setdefault(m["work"], []).append(i)
    queues = [list(rng.permutation(v)) for _, v in sorted(works.items())]
    rows: list[int] = []
    while len(rows) < min(clips, len(meta)):
        for q in queues:
            if q and len(rows) < clips:
                rows.append(int(q.pop()))
    return sorted(rows)


def build_sets(corpus: str, model: str, clips: int, threads: int, cache: Path) -> dict[str, Any]:
    """Every audio set of the table, the test reference and the groups (works) of the val clips."""
    from ditto_live.engine.audio import MelFrontEnd
    from ditto_live.evaluation import preset_of
    from ditto_live.evaluation.cases import load_test_split
    from ditto_live.generation.models import load_bundle

    bundle = load_bundle(model, "cpu")
    mel = bundle.mel_config
    front = MelFrontEnd(mel)
    val = load_test_split(corpus, preset_of(mel), front, "val")
    test = load_test_split(corpus, preset_of(mel), front, "test")
    if val.audio is None or test.audio is None:
        raise SystemExit(f"{corpus}: the val and test splits need their audio shards")
    rng = np.random.default_rng(SEED)
    rows = choose_rows(val.meta, clips, rng)
    real = val.audio[rows].numpy()
    level = float(np.median(rms(real)))
    mels = val.mels[rows]
    sets = {"real": real, "vocoded": vocode_all(bundle, mels),
            "shuffled": vocode_all(bundle, torch.from_numpy(shuffle_frames(mels.numpy(), rng))),
            "white_noise": white_noise(len(rows), real.shape[1], level, rng),
            "pink_noise": pink_noise(len(rows), real.shape[1], level, rng)}
    if cache.is_file():
        with np.load(cache) as data:
            generated = {k: data[k] for k in ("default_model", "controlled")}
            if not np.array_equal(data["rows"], rows):
                raise SystemExit(f"{cache} holds other rows; delete it to regenerate")
            provenance = str(data["provenance"]) if "provenance" in data.files else "not recorded"
    else:
        provenance = f"commit {commit()}, {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}"
        generated = generate_sets(bundle, val, rows, front, threads)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, rows=np.array(rows), provenance=np.array(provenance), **generated)
    sets.update(generated)
    sets = {k: fit_length(np.asarray(v, dtype=np.float32), real.shape[1]) for k, v in sets.items()}
    works = [val.meta[r]["work"] for r in rows]
    groups = {k: (works if "noise" not in k else [f"noise{i}" for i in range(len(rows))]) for k in sets}
    return {"sets": sets, "groups": groups, "reference": test.audio.numpy(), "sample_rate": mel.sample_rate,
            "rows": rows, "level_rms": level, "val_works": len(set(works)), "generated": provenance,
            "test_windows": len(test.meta), "test_works": len({m["work"] for m in test.meta})}


def machine() -> dict[str, Any]:
    """The CPU (model and flags, as lscpu gives them), cores, load, torch and Python."""
    from ditto_live.bench.report import machine_info

    info = machine_info("cpu")
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for key, field in (("Model name", "cpu"), ("Flags", "cpu_flags")):
        found = re.search(rf"^{key}:\s*(.+)$", lscpu, re.MULTILINE)
        if found:
            info[field] = found.group(1).strip()
    return info


def commit() -> str:
    """HEAD of the working tree, with "+dirty" when the judge's own files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    head = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "ditto_live/judges", "scripts/quality_judge.py")
    return head + ("+dirty" if dirty else "")


PAIRED = (("real", "vocoded"), ("vocoded", "shuffled"), ("vocoded", "default_model"),
          ("controlled", "default_model"))  # (a, b): FD(b) - FD(a) with a paired interval (same windows)


def embeddings(emb: MusicnnEmbedding, audio: dict[str, np.ndarray], sample_rate: int, cache: Path,
               rows: list[int]) -> tuple[dict[str, np.ndarray], float]:
    """Every set's embeddings, from ``cache`` when it holds them for these rows. -> (vectors, seconds)"""
    if cache.is_file():
        with np.load(cache) as data:
            if np.array_equal(data["rows"], rows) and set(audio) <= set(data.files):
                return {k: data[k] for k in audio}, float(data["seconds"])
    start = time.perf_counter()
    vectors = emb.embed(audio, sample_rate)
    seconds = time.perf_counter() - start
    np.savez(cache, rows=np.array(rows), seconds=np.array(seconds), **vectors)
    return vectors, seconds


def judge(data: dict[str, Any], threads: int, python: str, cache: Path) -> dict[str, Any]:
    """Embed every set with each musicnn checkpoint and score it against the test reference; the sets made
    from the same val windows are also compared pairwise (``PAIRED``)."""
    audio = {**data["sets"], "reference": data["reference"]}
    out: dict[str, Any] = {}
    for model in MODELS:
        emb = MusicnnEmbedding(python, model=model, threads=threads)
        vectors, seconds = embeddings(emb, audio, data["sample_rate"], cache.with_suffix(f".{model}.npz"),
                                      data["rows"])
        reference = vectors.pop("reference")
        ref = Reference.of(reference)
        boot = Bootstrap(seed=SEED)
        scores = {k: score_set(v, data["groups"][k], ref, boot) for k, v in vectors.items()}
        pairs = {f"{b} - {a}": paired_difference(vectors[a], vectors[b], data["groups"][a], ref, boot)
                 for a, b in PAIRED}
        out[emb.name] = {"rows": {k: s.to_dict() for k, s in scores.items()},
                         "paired_differences": {k: d.to_dict() for k, d in pairs.items()},
                         "ordering": sanity_ordering(scores), "embed_seconds": round(seconds, 1),
                         "dims": int(reference.shape[-1]), "patches_per_clip": int(reference.shape[1])}
        log.info("%s: %s", emb.name, {k: round(s.fd, 3) for k, s in scores.items()})
    return out


CLIP_NAME = re.compile(r"^(?P<task>[a-z]+)-(?P<case>\d{3})-(?P<row>.+)$")  # how eval names a saved clip


def eval_clips(eval_dir: Path, samples: int) -> tuple[dict[str, np.ndarray], dict[str, list[str]], int]:
    """The clips an eval run wrote: every clip (DIR/clips, written when the eval ran its own judges), else
    those it saved (``--save-audio N``: DIR/audio), named <task>-<case>-<setting>-T<T>.wav; one set per row
    (task, setting, T). -> ({row: [n, samples]}, {row: case ids, the intervals' groups}, rate)"""
    import soundfile as sf

    from ditto_live.evaluation.external import CLIPS

    clips: dict[str, list[np.ndarray]] = {}
    cases: dict[str, list[str]] = {}
    rate = 0
    folder = eval_dir / CLIPS if (eval_dir / CLIPS).is_dir() else eval_dir / "audio"
    for path in sorted(folder.glob("*.wav")):
        found = CLIP_NAME.match(path.stem)
        if not found:
            continue
        audio, rate = sf.read(path, dtype="float32")
        row = f"{found['task']}: {found['row']}"
        clips.setdefault(row, []).append(audio if audio.ndim == 1 else audio.mean(axis=1))
        cases.setdefault(row, []).append(found["case"])
    if not clips:
        raise SystemExit(f"{folder} holds no clips (run eval with --save-audio N)")
    sets = {k: np.concatenate([fit_length(c[None], samples) for c in v]) for k, v in clips.items()}
    return sets, cases, rate


def judge_eval_dir(eval_dir: Path, corpus: str, model: str, threads: int, python: str) -> dict[str, Any]:
    """Score every row of an eval run's saved clips against the FAD reference half of the test split (the
    evaluation's own reference); writes DIR/quality.json."""
    from ditto_live.engine.audio import MelFrontEnd
    from ditto_live.evaluation import preset_of
    from ditto_live.evaluation.cases import load_test_split
    from ditto_live.generation.models import load_bundle

    mel = load_bundle(model, "cpu", components=("vocoder",)).mel_config
    test = load_test_split(corpus, preset_of(mel), MelFrontEnd(mel), "test")
    if test.audio is None:
        raise SystemExit(f"{corpus}: the test split needs its audio shards")
    reference = test.audio[test.reference_rows].numpy()
    sets, cases, rate = eval_clips(eval_dir, reference.shape[1])
    if rate != mel.sample_rate:
        raise SystemExit(f"{eval_dir}: clips at {rate} Hz, the corpus at {mel.sample_rate} Hz")
    emb = MusicnnEmbedding(python, model=MODELS[0], threads=threads)
    scores = judge_sets(emb, sets, cases, reference, rate, Bootstrap(seed=SEED))
    out = {"judge": emb.name, "reference": f"test split FAD-reference half: {len(reference)} windows",
           "note": "FD depends on a row's clip count: compare rows of equal n only; KID does not",
           "rows": {k: s.fd for k, s in scores.items()},
           "details": {k: s.to_dict() for k, s in scores.items()}}
    (eval_dir / "quality.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    corpus = os.environ.get("DITTO_LIVE_DATA", str(Path.home() / "ditto_live_data" / "corpus"))
    parser.add_argument("--corpus", default=corpus, help="corpus folder (ditto-live data build)")
    parser.add_argument("--model", default="default", help="bundle name or folder")
    parser.add_argument("--clips", type=int, default=48, help="clips per set: val windows, spread over works")
    parser.add_argument("--threads", type=int, default=1, help="torch and TensorFlow threads")
    cache = Path.home() / ".cache" / "ditto_live" / "quality_judge.npz"
    parser.add_argument("--cache", type=Path, default=cache,
                        help="generated audio (and, beside it, embeddings) kept between runs")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder of the raw sanity.json")
    parser.add_argument("--summary", type=Path, default=SUMMARY, help="the {judge, rows} summary file")
    parser.add_argument("--eval-dir", type=Path,
                        help="instead: score an eval run's saved clips (--save-audio N): DIR/quality.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    python = judges_python()
    missing = musicnn_missing(python)
    if missing:
        raise SystemExit(missing)
    if args.eval_dir:
        scored = judge_eval_dir(args.eval_dir, args.corpus, args.model, args.threads, python)
        print(json.dumps(scored["details"], indent=1))
        return
    started, head = time.perf_counter(), commit()
    data = build_sets(args.corpus, args.model, args.clips, args.threads, args.cache)
    judges = judge(data, args.threads, python, args.cache)
    record = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "commit": head,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(), "precision": "float32 (generation, vocoder and musicnn)",
        "threads": args.threads,
        "weights": f"bundle {args.model!r} (trained); musicnn checkpoints from the musicnn 0.1.0 wheel",
        "corpus": args.corpus, "reference": f"test split audio: {data['test_windows']} windows of "
                                            f"{data['test_works']} works",
        "candidates": f"{len(data['rows'])} val windows of {data['val_works']} works (rows {data['rows']})",
        "generated_audio": data["generated"], "noise_rms": data["level_rms"],
        "sanity_order": [f"{a} < {b}" for a, b in SANITY_ORDER],
        "seconds": round(time.perf_counter() - started, 1), "judges": judges,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sanity.json").write_text(json.dumps(record, indent=1) + "\n")
    name, first = next(iter(judges.items()))
    summary = {"judge": name, "passes_sanity": first["ordering"]["passes"],
               "source": "quality_judge/sanity.json",
               "rows": {k: r["fd"] for k, r in first["rows"].items()},
               "kid_x1000": {k: r["kid_x1000"] for k, r in first["rows"].items()}}
    args.summary.write_text(json.dumps(summary, indent=1) + "\n")
    for name, j in judges.items():  # the published table is rendered by scripts/figures.py (quality-sanity)
        print(name, {k: round(r["fd"], 2) for k, r in j["rows"].items()}, "passes:", j["ordering"]["passes"])


if __name__ == "__main__":
    main()
