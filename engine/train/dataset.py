"""Reading a corpus folder (the on-disk format of docs/architecture.md): the one reader of its shards.

``MelWindows`` gives (mel [1, n_mels, 512] float32, tags [4] long) for the base model and the students;
``AudioWindows`` gives (audio [131072] float32, mel [1, n_mels, 512] float32) for the vocoder. Shards are
read into memory at construction (``in_memory=True``) or on demand, one shard cached at a time.
``load_mel_data`` holds a split in memory as one tensor (``MelData``) for the trainers' batch indexing;
``read_shards`` reads one kind of shard (mel, audio) of a split in row order.
``load_tag_vocab`` builds the tag vocabulary from windows.jsonl: "<null>" then the names sorted, per field.

A ``part`` (index, count) reads block ``index`` of ``count`` equal, contiguous blocks of a split's rows
(``part_rows``) and loads only the shards that hold them (of the others, only the row index is read):
under torchrun each rank holds its own block.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import Tensor
from torch.utils.data import Dataset

from ditto_live.engine.conditioning import NULL_TAG, TAG_FIELDS
from ditto_live.engine.tags import TagVocab

SPLITS = ("train", "val", "test")


def read_windows(root: str | Path) -> list[dict]:
    """All rows of DIR/windows.jsonl, in file order."""
    with open(Path(root) / "windows.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_tag_vocab(root: str | Path) -> TagVocab:
    """Tag vocabulary over every split of a corpus: per field "<null>" then the names, sorted."""
    names: dict[str, set[str]] = {f: set() for f in TAG_FIELDS}
    for meta in read_windows(root):
        for f in TAG_FIELDS:
            value = meta.get("tags", {}).get(f)
            if value:
                names[f].add(str(value))
    return TagVocab.from_names(**{f: sorted(ns) for f, ns in names.items()})


def encode_tags(tags: dict, vocab: TagVocab) -> list[int]:
    """Tag names -> index per field; a missing name or one outside the vocabulary is the null tag."""
    return [ns.index(tags[f]) if tags.get(f) in ns else NULL_TAG for f, ns in zip(vocab.fields, vocab.names)]


def load_truth(root: str | Path, split: str) -> Tensor:
    """Melody ground truth of a split: pitch class per mel frame, -1 where no note. -> [N, 512] int8"""
    return load_file(str(Path(root) / "truth" / f"{split}.safetensors"))["melody"]


def shard_paths(folder: Path, split: str) -> list[Path]:
    """A split's shards ``<folder>/<split>-<k>.safetensors``, in the order of k."""
    return sorted(folder.glob(f"{split}-*.safetensors"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def part_rows(n: int, part: tuple[int, int] = (0, 1)) -> range:
    """The rows of block ``index`` of ``count`` equal contiguous blocks of ``n`` rows (sizes differ by at
    most one). part: (index, count)"""
    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"part {index} of {count} does not exist")
    return range(index * n // count, (index + 1) * n // count)


def read_shards(folder: Path, split: str, key: str, limit: int = 0,
                rows: range | None = None) -> tuple[Tensor, Tensor]:
    """``key`` and "row" of a split's shards concatenated in row order, stopping at the shard that
    reaches ``limit`` rows (0 = all; the result may hold more). With ``rows``, only the shards that hold
    some of them are loaded (the others' small "row" tensor is peeked) and exactly those rows are
    returned. -> ([n, ...] as stored, [n] long)"""
    data, got = [], []
    for path in shard_paths(folder, split):
        with safe_open(str(path), "pt") as fh:
            row = fh.get_tensor("row")
            if rows is not None and (int(row[-1]) < rows.start or int(row[0]) >= rows.stop):
                continue
            data.append(fh.get_tensor(key))
            got.append(row)
        if (limit and sum(len(r) for r in got) >= limit) or (rows is not None and int(row[-1]) >= rows.stop - 1):
            break
    if not data:
        raise FileNotFoundError(f"no {key} shards for split {split!r} under {folder}")
    out, row = torch.cat(data), torch.cat(got)
    if rows is not None:
        keep = (row >= rows.start) & (row < rows.stop)
        out, row = out[keep], row[keep]
    return out, row


class _ShardReader:
    """Rows of one split from shards ``<folder>/<split>-<k>.safetensors`` holding ``key`` and "row"."""

    def __init__(self, folder: Path, split: str, key: str, shard_size: int, in_memory: bool,
                 rows: range | None = None):
        self.folder, self.split, self.key, self.shard_size = folder, split, key, shard_size
        self._cache: tuple[int, Tensor, int] | None = None  # (shard, data, first row)
        self._all: Tensor | None = None  # rows[0], rows[0] + 1, ... held in memory
        self._first = rows.start if rows is not None else 0
        if in_memory and shard_paths(folder, split) and (rows is None or len(rows)):
            self._all = read_shards(folder, split, key, rows=rows)[0]

    def get(self, row: int) -> Tensor:
        if self._all is not None:
            return self._all[row - self._first]
        k = row // self.shard_size
        if self._cache is None or self._cache[0] != k:
            t = load_file(str(self.folder / f"{self.split}-{k}.safetensors"))
            first = int(t["row"][0])
            self._cache = (k, t[self.key], first)
        _, data, first = self._cache
        return data[row - first]


class MelWindows(Dataset):
    """Mel windows of a preset over one or more splits, with their tags: the first ``limit`` (0 = all),
    of those the block ``part`` (index, count; ``part_rows``).

    item -> (mel [1, n_mels, 512] float32 in [-1, 1], tags [4] long via the vocabulary)
    """

    def __init__(self, root: str | Path, preset: str = "tiny", splits: str | tuple[str, ...] = ("train",),
                 vocab: TagVocab | None = None, in_memory: bool = True, limit: int = 0,
                 part: tuple[int, int] = (0, 1)):
        self.root = Path(root)
        splits, rows = _select(self.root, splits)
        self.vocab = vocab or load_tag_vocab(self.root)
        rows = rows[:limit] if limit else rows  # the first ``limit`` windows
        block = part_rows(len(rows), part)
        rows = rows[block.start:block.stop]  # this rank's block of them
        self.meta = rows
        self.tags = torch.tensor([encode_tags(m.get("tags", {}), self.vocab) for m in rows],
                                 dtype=torch.long).reshape(-1, len(TAG_FIELDS))  # [N, 4]
        shard_size = _shard_size(rows)
        folder = self.root / "mels" / preset
        if not folder.is_dir():
            raise FileNotFoundError(f"no mels for preset {preset!r} under {self.root}")
        self._readers = {s: _ShardReader(folder, s, "mel", shard_size, in_memory, _row_span(rows, s))
                         for s in splits}

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        m = self.meta[i]
        mel = self._readers[m["split"]].get(int(m["row"])).float().unsqueeze(0)  # [1, n_mels, 512]
        return mel, self.tags[i]

    def stacked(self) -> Tensor:
        """Every window's mel in one tensor, as stored (float16). -> [N, 1, n_mels, 512]"""
        return torch.stack([self._readers[m["split"]].get(int(m["row"])) for m in self.meta]).unsqueeze(1)


@dataclass
class MelData:
    """A corpus split held in memory, for trainers that index batches (``batch_indices``) directly."""

    mels: Tensor  # [N, 1, n_mels, frames] float16 in [-1, 1]
    tags: Tensor  # [N, 4] long
    vocab: dict  # tag vocabulary as stored in checkpoints (TagVocab.to_dict())

    @property
    def vocab_sizes(self) -> tuple[int, ...]:
        return TagVocab.from_dict(self.vocab).sizes

    def part(self, index: int, count: int) -> MelData:
        """Block ``index`` of ``count`` (``part_rows``): one rank's share of data held in memory."""
        if count == 1:
            return self
        rows = part_rows(len(self.mels), (index, count))
        return MelData(self.mels[rows.start:rows.stop], self.tags[rows.start:rows.stop], self.vocab)


def load_mel_data(root: str | Path, preset: str, split: str = "train", limit: int = 0,
                  vocab: dict | None = None, part: tuple[int, int] = (0, 1)) -> MelData:
    """A split's first ``limit`` (0 = all) mel windows and their tags, indexed by ``vocab`` (default: the
    corpus's own vocabulary), in row order; of those, block ``part`` (index, count) alone."""
    ds = MelWindows(root, preset, split, TagVocab.from_dict(vocab) if vocab else None, limit=limit, part=part)
    if not len(ds):
        raise FileNotFoundError(f"no {preset} mel windows for split {split!r} (part {part[0]} of {part[1]}) "
                                f"under {root}")
    return MelData(ds.stacked().half(), ds.tags, ds.vocab.to_dict())


class AudioWindows(Dataset):
    """Audio windows with their mel (for vocoder training). item -> (audio [131072] float32,
    mel [1, n_mels, 512] float32)."""

    def __init__(self, root: str | Path, preset: str = "tiny", splits: str | tuple[str, ...] = ("train",),
                 in_memory: bool = False):
        self.root = Path(root)
        splits, self.meta = _select(self.root, splits)
        shard_size = _shard_size(self.meta)
        self._audio = {s: _ShardReader(self.root / "audio", s, "audio", shard_size, in_memory) for s in splits}
        self._mel = {s: _ShardReader(self.root / "mels" / preset, s, "mel", shard_size, in_memory) for s in splits}

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        m = self.meta[i]
        row = int(m["row"])
        return self._audio[m["split"]].get(row).float(), self._mel[m["split"]].get(row).float().unsqueeze(0)


def _select(root: Path, splits: str | tuple[str, ...]) -> tuple[tuple[str, ...], list[dict]]:
    """The split names (checked) and the windows.jsonl rows in them, in file order."""
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}; splits are {SPLITS}")
    return splits, [m for m in read_windows(root) if m["split"] in splits]


def _row_span(rows: list[dict], split: str) -> range:
    """The row numbers from the first to the last of ``split``'s rows among ``rows``."""
    own = [int(m["row"]) for m in rows if m["split"] == split]
    return range(min(own), max(own) + 1) if own else range(0)


def _shard_size(rows: list[dict]) -> int:
    """Rows per shard, from the (row, shard) pairs in windows.jsonl (all shards but the last are full)."""
    sizes = [int(m["row"]) // int(m["shard"]) for m in rows if int(m.get("shard", 0)) > 0]
    return min(sizes) if sizes else 1 << 62
