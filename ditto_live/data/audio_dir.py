"""Your own audio as a corpus: a folder of audio files plus a tag CSV, windowed like the rendered corpus.

The CSV has a header with ``file`` (relative to the folder) and any of ``genre, mood, tempo, instrument,
caption``. ``tempo`` is a bpm (bucketed like the rendered corpus) or a bucket name; an empty cell is the
null tag. Splits are by file, hashed, as for scores. There is no melody ground truth (all -1).
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ditto_live.data.build import BuildStats
from ditto_live.data.split import split_of
from ditto_live.data.tags import caption, tempo_bucket
from ditto_live.data.windows import FRAMES, WINDOW, MelBank, is_silent, window_starts

log = logging.getLogger(__name__)

TAG_COLUMNS = ("genre", "mood", "tempo", "instrument")


@dataclass(frozen=True)
class AudioDirConfig:
    audio_dir: str  # folder of audio files (anything soundfile reads: wav, flac, ogg, ...)
    tags_csv: str  # tag table, one row per file
    out: str  # output folder
    presets: tuple[str, ...] = ("tiny", "paper")  # mel presets stored for every window
    sample_rate: int = 22050  # model rate; files are resampled to it
    max_windows_per_file: int | None = None  # cap per file (None: every whole window)
    shard_size: int = 256  # windows per shard file


def read_tag_csv(path: str | Path) -> list[dict]:
    """Rows of the tag CSV with keys file, genre, mood, tempo, instrument, caption, bpm (None when absent)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            if not row.get("file"):
                raise ValueError(f"{path}: every row needs a 'file' column")
            bpm = None
            tempo = row.get("tempo") or None
            if tempo:
                try:
                    bpm = float(tempo)
                    tempo = tempo_bucket(bpm)
                except ValueError:
                    pass  # already a bucket name
            rows.append({"file": row["file"], "genre": row.get("genre") or None, "mood": row.get("mood") or None,
                         "tempo": tempo, "instrument": row.get("instrument") or None,
                         "caption": row.get("caption") or None, "bpm": bpm})
    return rows


def user_caption(row: dict) -> str:
    """The corpus caption template with the fields a row lacks left out."""
    if all(row[k] for k in ("mood", "genre", "bpm", "instrument")):
        return caption(row["mood"], row["genre"], row["bpm"], row["instrument"])
    words = ["A", row["mood"], row["genre"], "song"]
    if row["bpm"]:
        words.append(f"at {round(row['bpm'])} beats per minute")
    elif row["tempo"]:
        words.append(f"at a {row['tempo']} tempo")
    if row["instrument"]:
        words.append(f"played on {row['instrument']}")
    return " ".join(w for w in words if w)


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """A file as mono float32 at ``sample_rate``."""
    import librosa
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sr != sample_rate:
        audio = librosa.resample(audio, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
    return audio.astype(np.float32)


def build_from_audio(cfg: AudioDirConfig, progress: bool = True) -> BuildStats:
    """Window, tag and shard a folder of audio; write the card. Unreadable files are skipped and counted."""
    from tqdm import tqdm

    from ditto_live.data.card import write_card
    from ditto_live.data.shards import CorpusWriter

    t0 = time.time()
    rows = read_tag_csv(cfg.tags_csv)
    stats = BuildStats()
    writer = CorpusWriter(cfg.out, cfg.presets, cfg.shard_size)
    mels = MelBank(cfg.presets)
    no_melody = np.full(FRAMES, -1, dtype=np.int8)
    try:
        for row in tqdm(rows, unit="file", disable=not progress, desc="data build"):
            work_id = f"user/{row['file']}"
            stats.attempted += 1
            try:
                audio = load_audio(Path(cfg.audio_dir) / row["file"], cfg.sample_rate)
            except Exception as exc:  # unreadable file: skip, count, go on
                stats.failures[type(exc).__name__] += 1
                stats.failed_works.append((work_id, f"{type(exc).__name__}: {str(exc)[:160]}"))
                continue
            stats.rendered_s += len(audio) / cfg.sample_rate
            split = split_of(work_id)
            tags = {k: row[k] for k in TAG_COLUMNS if row[k]}
            text = row["caption"] or user_caption(row)
            kept = []
            for start in window_starts(len(audio), cfg.max_windows_per_file):
                chunk = audio[start:start + WINDOW]
                if is_silent(chunk):
                    stats.silent += 1
                else:
                    kept.append((start, chunk))
            if not kept:
                continue
            stats.works += 1
            stats.works_per_split[split] += 1
            mel = mels(np.stack([c for _, c in kept]))
            for i, (start, chunk) in enumerate(kept):
                meta = {"work": work_id, "source": "user", "split": split, "title": row["file"], "tags": tags,
                        "bpm": row["bpm"], "key": None, "caption": text, "programs": [], "drums": None,
                        "transpose": 0, "start_s": round(start / cfg.sample_rate, 4), "notes": []}
                writer.add(meta, chunk.astype(np.float16), {p: m[i] for p, m in mel.items()}, no_melody)
                stats.windows += 1
                stats.per_split[split] += 1
                stats.per_source["user"] += 1
                for k, v in tags.items():
                    stats.tags[k][v] += 1
    finally:
        writer.close()
    stats.seconds = time.time() - t0
    write_card(Path(cfg.out), stats, cfg)
    return stats
