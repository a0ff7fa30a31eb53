"""Building the embedded corpus: music21 works -> arrangement -> FluidSynth audio -> windows, mels, truth.

Works are taken round-robin across the sources (each source shuffled by the seed) until the target
hours of kept windows are reached. Each work's random choices come from a generator seeded by
(seed, work id), so the corpus depends only on the seed and the sources, not on worker scheduling.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ditto_live.data.arrange import ArrangeConfig, arrange
from ditto_live.data.sources import DEFAULT_SOURCES, WorkRef, list_works, parse_work
from ditto_live.data.split import split_of
from ditto_live.data.tags import caption, tempo_bucket
from ditto_live.data.windows import WINDOW, MelBank, is_silent, melody_truth, window_notes, window_starts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    out: str  # output folder
    hours: float = 10.0  # stop once this much audio is kept (windows x 5.94 s)
    sources: tuple[str, ...] = DEFAULT_SOURCES  # music21 collections to draw from
    soundfont: str | None = None  # .sf2 file; None: pretty_midi's TimGM6mb.sf2
    seed: int = 0  # selects works order and every arrangement choice
    workers: int = 1  # render processes (1: in this process; 0: one per core, ``render_processes``)
    presets: tuple[str, ...] = ("tiny", "paper")  # mel presets stored for every window
    max_windows_per_work: int = 8  # cap so long Mass movements do not crowd out the rest
    max_seconds: float = 0.0  # stop taking works after this long (0 = none; the corpus then depends on the machine)
    sample_rate: int = 22050  # model rate
    shard_size: int = 256  # windows per shard file
    peak_dbfs: tuple[float, float] = (-12.0, -1.0)  # each rendering is peak-normalised to a level in this range
    works: tuple[WorkRef, ...] | None = None  # explicit work list (tests); None: all works of `sources`
    arrange: ArrangeConfig = field(default_factory=ArrangeConfig)  # variety knobs


@dataclass
class WorkResult:
    work_id: str
    windows: list = field(default_factory=list)  # (meta, audio [WINDOW] f16, {preset: mel}, melody [512] i8)
    failure: str | None = None  # exception type and message when the work was skipped
    silent: int = 0  # windows dropped as near-silent
    rendered_s: float = 0.0  # seconds of audio rendered


def work_rng(seed: int, work_id: str) -> np.random.Generator:
    """Generator for one work's choices, from the seed and the work id only."""
    h = int.from_bytes(hashlib.sha1(work_id.encode("utf-8")).digest()[:8], "big")
    return np.random.default_rng([seed, h])


def order_works(refs: list[WorkRef], seed: int) -> list[WorkRef]:
    """Shuffle each source with the seed, then interleave the sources round-robin."""
    rng = np.random.default_rng(seed)
    by_source: dict[str, list[WorkRef]] = {}
    for r in refs:
        by_source.setdefault(r.source, []).append(r)
    queues = []
    for name in sorted(by_source):
        items = by_source[name]
        queues.append([items[i] for i in rng.permutation(len(items))])
    out: list[WorkRef] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def render_processes(workers: int) -> int:
    """The number of render processes: ``workers``, or with 0 one per core this process may use."""
    if workers > 0:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class RenderWorkerError(RuntimeError):
    """A render process could not start or died: the build stops with this one error, naming the cause."""


_STATE: dict = {}  # this process's renderer and mel bank, built on first use, keyed by their settings


def _start_renderer(soundfont: str | None, sample_rate: int):
    """A Renderer that has rendered once (pretty_midi, pyfluidsynth, libfluidsynth and the SoundFont all
    load), or a RenderWorkerError naming why not."""
    try:
        from ditto_live.data.render import Renderer

        renderer = Renderer(soundfont, sample_rate)
        renderer.render([], tail_s=0.01)
    except Exception as exc:
        raise RenderWorkerError(f"render worker failed to start: {type(exc).__name__}: {exc}") from exc
    return renderer


def _worker_state(soundfont: str | None, sample_rate: int, presets: tuple[str, ...]) -> dict:
    """This process's renderer and mel bank, built on first use (RenderWorkerError when they cannot be).

    Built inside the task rather than in a pool initializer: multiprocessing respawns a worker whose
    initializer fails, forever, while an exception raised here reaches the parent as the work's result.
    """
    key = (soundfont, sample_rate, presets)
    if _STATE.get("key") != key:
        import torch

        torch.set_num_threads(1)
        _STATE.clear()
        _STATE.update(renderer=_start_renderer(soundfont, sample_rate), mels=MelBank(presets), key=key)
    return _STATE


def process_work(ref: WorkRef, cfg: BuildConfig) -> WorkResult:
    """Parse, arrange, render and cut one work; a failure of the work is returned, not raised (a renderer
    that cannot be built is raised: RenderWorkerError)."""
    state = _worker_state(cfg.soundfont, cfg.sample_rate, cfg.presets)  # raised: it stops the build
    result = WorkResult(ref.work_id)
    try:
        work = parse_work(ref)
        rng = work_rng(cfg.seed, ref.work_id)
        arr = arrange(work, rng, cfg.arrange)
        max_s = cfg.max_windows_per_work * WINDOW / cfg.sample_rate if cfg.max_windows_per_work else None
        audio = state["renderer"].render(arr.tracks, max_s=max_s)
    except Exception as exc:  # a corrupt or odd score must not stop the build
        result.failure = f"{type(exc).__name__}: {str(exc)[:160]}"
        return result
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0:
        audio = audio * (10.0 ** (rng.uniform(*cfg.peak_dbfs) / 20.0) / peak)
    result.rendered_s = len(audio) / cfg.sample_rate
    split = split_of(ref.work_id)
    mood = "minor" if arr.key_name.endswith("minor") else "major"
    tags = {"genre": arr.genre, "mood": mood, "tempo": tempo_bucket(arr.bpm), "instrument": arr.instrument}
    melody_notes = arr.tracks[0].notes
    kept = []
    for start in window_starts(len(audio), cfg.max_windows_per_work):
        chunk = audio[start:start + WINDOW]
        if is_silent(chunk):
            result.silent += 1
            continue
        start_s = start / cfg.sample_rate
        meta = {
            "work": ref.work_id, "source": ref.source, "split": split, "title": work.title,
            "tags": tags, "bpm": arr.bpm, "key": arr.key_name,
            "caption": caption(mood, arr.genre, arr.bpm, arr.instrument),
            "programs": list(arr.programs), "drums": any(t.is_drum for t in arr.tracks),
            "transpose": arr.transpose, "start_s": round(start_s, 4),
            "notes": window_notes(melody_notes, start_s, WINDOW / cfg.sample_rate),
        }
        kept.append((meta, chunk, melody_truth(melody_notes, start_s, cfg.sample_rate)))
    if kept:
        mels = state["mels"](np.stack([k[1] for k in kept]))
        for i, (meta, chunk, melody) in enumerate(kept):
            result.windows.append((meta, chunk.astype(np.float16), {p: m[i] for p, m in mels.items()}, melody))
    return result


def _run(args: tuple[WorkRef, BuildConfig]) -> WorkResult:
    return process_work(*args)


def _in_order(pool, jobs, ahead: int):
    """_run over jobs in the pool, results in the jobs' order, at most ``ahead`` submitted and not yet taken.

    A worker that dies (killed, crashed) breaks the pool: that is raised as a RenderWorkerError, as is a
    worker's own RenderWorkerError, instead of waiting for a result that never comes.
    """
    from concurrent.futures.process import BrokenProcessPool

    pending: deque[Any] = deque()  # futures, in the jobs' order

    def take():
        try:
            return pending.popleft().result()
        except BrokenProcessPool as exc:
            raise RenderWorkerError(f"a render worker died: {exc}") from exc

    for job in jobs:
        pending.append(pool.submit(_run, job))
        if len(pending) >= ahead:
            yield take()
    while pending:
        yield take()


def _stop(pool) -> None:
    """End the render processes now: what they are working on is not needed."""
    if hasattr(pool, "terminate_workers"):  # Python 3.14
        pool.terminate_workers()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    pool.shutdown(wait=True)


def _discard(writer) -> None:
    """A build that did not finish leaves no corpus that looks whole: no windows.jsonl, truth or card
    (the full shards already written stay, unindexed)."""
    writer.abort()  # not close(): that would write the partial shards and the truth
    log.error("build stopped before the end; %s holds no corpus", writer.out)


@dataclass
class BuildStats:
    windows: int = 0
    works: int = 0  # works that gave at least one window
    attempted: int = 0  # works tried
    failures: Counter = field(default_factory=Counter)  # exception type -> count
    failed_works: list = field(default_factory=list)  # (work id, reason), first 50
    silent: int = 0  # near-silent windows dropped
    rendered_s: float = 0.0
    per_split: Counter = field(default_factory=Counter)  # windows per split
    works_per_split: Counter = field(default_factory=Counter)
    tags: dict = field(default_factory=lambda: {k: Counter() for k in ("genre", "mood", "tempo", "instrument")})
    per_source: Counter = field(default_factory=Counter)  # windows per source
    seconds: float = 0.0  # wall time of the build
    cut_short: bool = False  # the build stopped at max_seconds before the target hours

    @property
    def hours(self) -> float:
        return self.windows * WINDOW / 22050 / 3600

    def add(self, res: WorkResult) -> None:
        self.attempted += 1
        self.silent += res.silent
        self.rendered_s += res.rendered_s
        if res.failure is not None:
            self.failures[res.failure.split(":", 1)[0]] += 1
            if len(self.failed_works) < 50:
                self.failed_works.append((res.work_id, res.failure))
            return
        if res.windows:
            self.works += 1
            self.works_per_split[res.windows[0][0]["split"]] += 1


def build_corpus(cfg: BuildConfig, progress: bool = True) -> BuildStats:
    """Build the corpus into cfg.out and write its card; returns the counts."""
    from tqdm import tqdm

    from ditto_live.data.card import write_card
    from ditto_live.data.shards import CorpusWriter

    t0 = time.time()
    cfg = dataclasses.replace(cfg, workers=render_processes(cfg.workers))
    refs = list(cfg.works) if cfg.works is not None else list_works(cfg.sources)
    ordered = order_works(refs, cfg.seed)
    target = int(np.ceil(cfg.hours * 3600 * cfg.sample_rate / WINDOW))
    log.info("%d works available; target %d windows (%.2f h); %d render process(es)", len(ordered), target,
             cfg.hours, cfg.workers)
    if cfg.workers > 1:  # here first, so that a renderer that cannot start fails fast with its cause
        _start_renderer(cfg.soundfont, cfg.sample_rate)
    else:  # this process renders, with a renderer of its own for this build
        _STATE.clear()
        _worker_state(cfg.soundfont, cfg.sample_rate, cfg.presets)
    stats = BuildStats()
    writer = CorpusWriter(cfg.out, cfg.presets, cfg.shard_size)
    bar = tqdm(total=target, unit="win", disable=not progress, desc="data build")
    complete = False
    pool = None
    try:
        jobs = ((r, cfg) for r in ordered)
        if cfg.workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(cfg.workers, mp_context=mp.get_context("spawn"))
            results = _in_order(pool, jobs, ahead=2 * cfg.workers)
        else:
            results = map(_run, jobs)
        for res in results:
            stats.add(res)
            for meta, audio, mels, melody in res.windows:
                if stats.windows >= target:
                    break
                meta = writer.add(meta, audio, mels, melody)
                stats.windows += 1
                stats.per_split[meta["split"]] += 1
                stats.per_source[meta["source"]] += 1
                for k, v in meta["tags"].items():
                    stats.tags[k][v] += 1
                bar.update(1)
            if stats.windows >= target:
                break
            if cfg.max_seconds and time.time() - t0 > cfg.max_seconds:
                stats.cut_short = True
                log.warning("stopping after %.0f s (--max-minutes) with %d of %d windows", cfg.max_seconds,
                            stats.windows, target)
                break
        complete = True
    finally:
        bar.close()
        if pool is not None:
            _stop(pool)
        if complete:
            writer.close()
        else:
            _discard(writer)
    stats.seconds = time.time() - t0
    write_card(Path(cfg.out), stats, cfg)
    log.info("built %d windows (%.2f h) from %d works in %.0f s; %d failed, %d silent windows dropped",
             stats.windows, stats.hours, stats.works, stats.seconds, sum(stats.failures.values()), stats.silent)
    return stats
