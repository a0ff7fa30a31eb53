"""`train_clap` reads corpus shards with their captions and writes a loadable checkpoint."""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file

from ditto_live.engine.checkpoint import load_checkpoint
from ditto_live.engine.train.clap import ClapRecipe, load_captioned_mels, train_clap
from tests.fakes import FakeSentenceEncoder


def write_corpus(root, n=24):
    (root / "mels" / "tiny").mkdir(parents=True)
    captions = ["A happy folk song", "A sad chorale song"]
    with open(root / "windows.jsonl", "w") as fh:
        for split in ("train", "val"):
            for row in range(n):
                fh.write(json.dumps({"split": split, "row": row, "caption": captions[row % 2]}) + "\n")
    g = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        mel = torch.rand(n, 80, 512, generator=g) * 0.2 - 1
        mel[1::2, :20] += 1.0  # the "sad chorale" rows are loud in the low bands
        save_file({"mel": mel.half(), "row": torch.arange(n)}, str(root / "mels" / "tiny" / f"{split}-0.safetensors"))


def test_captions_align_with_shard_rows(tmp_path):
    write_corpus(tmp_path)
    mels, captions = load_captioned_mels(tmp_path, "tiny", "train")
    assert mels.shape == (24, 1, 80, 512)
    assert captions[:2] == ["A happy folk song", "A sad chorale song"]


def test_training_writes_a_checkpoint_that_retrieves_captions(tmp_path):
    write_corpus(tmp_path)
    recipe = ClapRecipe(steps=60, batch=8, crop_frames=64, lr=1e-3)
    metrics = train_clap(tmp_path, tmp_path / "clap", FakeSentenceEncoder().encode, recipe)
    assert metrics["val_caption_retrieval"] == 1.0
    model, meta = load_checkpoint(tmp_path / "clap" / "final")
    assert meta["kind"] == "clap" and meta["recipe"]["steps"] == 60
