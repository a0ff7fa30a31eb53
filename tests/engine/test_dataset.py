"""MelWindows / AudioWindows read the corpus format written by ditto_live.data (shards, rows, tags)."""

import numpy as np
import pytest
import torch

from ditto_live.data.shards import CorpusWriter
from ditto_live.engine.train.dataset import (
    AudioWindows,
    MelWindows,
    load_mel_data,
    load_tag_vocab,
    load_truth,
)

GENRES = ("folk", "chorale", "dance")


@pytest.fixture()
def corpus(tmp_path):
    """Synthetic corpus: 7 train windows over shards of 3 (so 3 shards), 2 val windows; each window's
    audio, mels and melody carry its index so rows can be checked."""
    w = CorpusWriter(tmp_path, ("tiny",), shard_size=3)
    for i in range(9):
        split = "train" if i < 7 else "val"
        tags = {"genre": GENRES[i % 3], "mood": "minor" if i % 2 else "major", "tempo": "slow",
                "instrument": "organ"}
        if i == 8:
            del tags["instrument"]  # a missing field is the null tag
        audio = np.full(131072, i / 10, dtype=np.float32)
        mel = np.full((80, 512), i / 10 - 0.5, dtype=np.float16)
        melody = np.full(512, i % 12, dtype=np.int8)
        w.add({"work": f"w{i}", "split": split, "tags": tags}, audio, {"tiny": mel}, melody)
    w.close()
    return tmp_path


def test_tag_vocab_is_null_then_sorted(corpus):
    vocab = load_tag_vocab(corpus)
    d = vocab.to_dict()
    assert d["genre"] == ["<null>", "chorale", "dance", "folk"]
    assert d["mood"] == ["<null>", "major", "minor"]
    assert d["instrument"] == ["<null>", "organ"]


@pytest.mark.parametrize("in_memory", [True, False])
def test_mel_windows_rows_and_tags(corpus, in_memory):
    ds = MelWindows(corpus, "tiny", "train", in_memory=in_memory)
    assert len(ds) == 7
    vocab = ds.vocab
    for i in [0, 4, 6, 2]:  # out of order, across shards
        mel, tags = ds[i]
        assert mel.shape == (1, 80, 512) and mel.dtype == torch.float32
        assert torch.allclose(mel, torch.full_like(mel, i / 10 - 0.5), atol=1e-3)
        assert tags.dtype == torch.long and tags.shape == (4,)
        assert vocab.decode(tags)["genre"] == GENRES[i % 3]


def test_splits_combine_and_missing_tag_is_null(corpus):
    ds = MelWindows(corpus, "tiny", ("train", "val"))
    assert len(ds) == 9
    mel, tags = ds[8]
    assert torch.allclose(mel, torch.full_like(mel, 0.8 - 0.5), atol=1e-3)
    assert int(tags[3]) == 0
    with pytest.raises(ValueError):
        MelWindows(corpus, "tiny", "holdout")
    with pytest.raises(FileNotFoundError):
        MelWindows(corpus, "paper", "train")


def test_audio_windows_pair_audio_with_its_mel(corpus):
    ds = AudioWindows(corpus, "tiny", "train")
    audio, mel = ds[5]
    assert audio.shape == (131072,) and audio.dtype == torch.float32
    assert torch.allclose(audio, torch.full_like(audio, 0.5), atol=1e-3)
    assert torch.allclose(mel, torch.full_like(mel, 0.0), atol=1e-3)
    truth = load_truth(corpus, "train")
    assert truth.shape == (7, 512) and int(truth[5, 0]) == 5


def test_load_mel_data_holds_what_mel_windows_serves_and_stops_reading_at_the_limit(corpus):
    ds = MelWindows(corpus, "tiny", "train", in_memory=False)  # row by row, one shard at a time
    data = load_mel_data(corpus, "tiny", "train")
    assert data.mels.shape == (7, 1, 80, 512) and data.mels.dtype == torch.float16
    for i in range(len(ds)):
        mel, tags = ds[i]
        assert torch.equal(data.mels[i].float(), mel) and torch.equal(data.tags[i], tags)
    assert data.vocab == ds.vocab.to_dict()
    assert torch.equal(load_mel_data(corpus, "tiny", "train", limit=4).mels, data.mels[:4])  # 2 of 3 shards
    with pytest.raises(FileNotFoundError):
        load_mel_data(corpus, "tiny", "test")  # a split with no windows
    with pytest.raises(ValueError):
        AudioWindows(corpus, "tiny", "holdout")


def test_each_part_reads_its_block_of_rows_and_loads_only_the_shards_that_hold_it(corpus, monkeypatch):
    import contextlib

    import ditto_live.engine.train.dataset as dataset
    from ditto_live.engine.train.vocoder import load_train_audio

    whole = load_mel_data(corpus, "tiny", "train")
    loaded: list[str] = []  # shards whose mels were read (of the others only the row index is read)
    real = dataset.safe_open

    @contextlib.contextmanager
    def spy(path, *args, **kw):
        with real(path, *args, **kw) as fh:
            class Handle:
                def get_tensor(self, name):
                    if name != "row":
                        loaded.append(path.rsplit("/", 1)[1])
                    return fh.get_tensor(name)
            yield Handle()

    monkeypatch.setattr(dataset, "safe_open", spy)
    parts = [load_mel_data(corpus, "tiny", "train", part=(i, 3)) for i in range(3)]  # rows 0-1, 2-3, 4-6
    assert [len(p.mels) for p in parts] == [2, 2, 3]
    assert torch.equal(torch.cat([p.mels for p in parts]), whole.mels)
    assert torch.equal(torch.cat([p.tags for p in parts]), whole.tags)
    assert all(p.vocab == whole.vocab for p in parts)
    # shards hold rows 0-2, 3-5, 6: part 0 loads the first, part 1 the first two, part 2 the last two
    assert loaded == ["train-0.safetensors", "train-0.safetensors", "train-1.safetensors",
                      "train-1.safetensors", "train-2.safetensors"]
    audio = [load_train_audio(corpus, part=(i, 2)) for i in range(2)]  # rows 0-2 and 3-6
    assert [a[:, 0].float().mul(10).round().tolist() for a in audio] == [[0, 1, 2], [3, 4, 5, 6]]
    assert torch.equal(whole.part(1, 3).mels, parts[1].mels)
