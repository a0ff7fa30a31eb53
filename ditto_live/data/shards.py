"""Writing the corpus in the on-disk format of docs/architecture.md.

DIR/windows.jsonl, DIR/truth/<split>.safetensors ("melody" [N, 512] int8), DIR/mels/<preset>/<split>-<k>
("mel" [n, n_mels, 512] float16, "row" [n] int64) and DIR/audio/<split>-<k> ("audio" [n, 131072] float16,
"row"). Rows count windows within a split; shard k holds rows [k * shard_size, (k + 1) * shard_size).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from ditto_live.data.split import SPLITS


class CorpusWriter:
    """Buffers windows per split and writes full shards as they fill; ``close`` writes the rest."""

    def __init__(self, out: str | Path, presets: tuple[str, ...] | list[str], shard_size: int = 256):
        self.out = Path(out)
        self.presets = tuple(presets)
        self.shard_size = shard_size
        for sub in ["truth", "audio", *[f"mels/{p}" for p in self.presets]]:
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.out / "windows.jsonl", "w", encoding="utf-8")
        self.rows = {s: 0 for s in SPLITS}
        self._buf: dict[str, list] = {s: [] for s in SPLITS}
        self._truth: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}

    def add(self, meta: dict, audio: np.ndarray, mels: dict[str, np.ndarray], melody: np.ndarray) -> dict:
        """One window: meta (without split bookkeeping), audio [131072], mels {preset: [n_mels, 512]},
        melody [512] int8. Returns the meta as written (with id, shard, row)."""
        split = meta["split"]
        row = self.rows[split]
        self.rows[split] += 1
        meta = {**meta, "id": f"{split}-{row:06d}", "shard": row // self.shard_size, "row": row}
        self._jsonl.write(json.dumps(meta, sort_keys=True) + "\n")
        self._buf[split].append((row, audio.astype(np.float16), {p: mels[p] for p in self.presets}))
        self._truth[split].append(melody.astype(np.int8))
        if len(self._buf[split]) == self.shard_size:
            self._flush(split)
        return meta

    def _flush(self, split: str) -> None:
        buf = self._buf[split]
        if not buf:
            return
        rows = torch.tensor([b[0] for b in buf], dtype=torch.int64)
        k = int(rows[0]) // self.shard_size
        audio = torch.from_numpy(np.stack([b[1] for b in buf]))
        save_file({"audio": audio, "row": rows}, str(self.out / "audio" / f"{split}-{k}.safetensors"))
        for p in self.presets:
            mel = torch.from_numpy(np.stack([b[2][p] for b in buf]).astype(np.float16))
            save_file({"mel": mel, "row": rows}, str(self.out / "mels" / p / f"{split}-{k}.safetensors"))
        self._buf[split] = []

    def close(self) -> None:
        """Flush partial shards and write the melody ground truth of every split."""
        for split in SPLITS:
            self._flush(split)
            truth = self._truth[split]
            melody = torch.from_numpy(np.stack(truth)) if truth else torch.zeros((0, 512), dtype=torch.int8)
            save_file({"melody": melody}, str(self.out / "truth" / f"{split}.safetensors"))
        self._jsonl.close()

    def abort(self) -> None:
        """A build that did not finish: no index (windows.jsonl) and no truth, so nothing reads as a corpus
        (full shards already written stay, unindexed)."""
        self._jsonl.close()
        (self.out / "windows.jsonl").unlink(missing_ok=True)
