"""Tiny end-to-end builds: determinism, failure counting, splits and the on-disk format."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from ditto_live.data.build import BuildConfig, build_corpus
from ditto_live.data.sources import WorkRef
from ditto_live.data.split import split_of
from ditto_live.data.windows import melody_truth


def _refs(abc_dir, broken=False):
    refs = [WorkRef("essen", str(abc_dir / f), 1) for f in ("scale.abc", "tune_b.abc", "tune_c.abc")]
    if broken:
        refs.insert(1, WorkRef("palestrina", str(abc_dir / "broken.krn")))
    return tuple(refs)


def _build(out, refs, seed):
    cfg = BuildConfig(out=str(out), hours=1.0, seed=seed, works=refs, presets=("tiny",), shard_size=4)
    return build_corpus(cfg, progress=False)


def _read(folder):
    rows = [json.loads(line) for line in (folder / "windows.jsonl").read_text().splitlines()]
    arrays = {p.relative_to(folder).as_posix(): load_file(str(p)) for p in sorted(folder.rglob("*.safetensors"))}
    return rows, arrays


@pytest.fixture(scope="module")
def two_builds(abc_dir, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("builds")
    refs = _refs(abc_dir, broken=True)
    stats = [_build(tmp_path / name, refs, seed) for name, seed in (("a", 5), ("b", 5), ("c", 6))]
    return stats, [tmp_path / n for n in "abc"]


def test_same_seed_same_corpus_and_corrupt_score_is_counted(two_builds):
    stats, (a, b, c) = two_builds
    rows_a, arr_a = _read(a)
    rows_b, arr_b = _read(b)
    assert rows_a == rows_b and arr_a.keys() == arr_b.keys()
    for k in arr_a:
        for name in arr_a[k]:
            np.testing.assert_array_equal(arr_a[k][name], arr_b[k][name])
    rows_c, _ = _read(c)
    assert [r["caption"] for r in rows_c] != [r["caption"] for r in rows_a] or \
        [r["programs"] for r in rows_c] != [r["programs"] for r in rows_a]
    s = stats[0]
    assert s.attempted == 4 and s.works == 3 and sum(s.failures.values()) == 1
    assert s.failed_works[0][0] == "palestrina/broken.krn"
    assert "failed works (skipped) | 1" in (a / "card.md").read_text()


def test_built_corpus_format(two_builds):
    stats, (a, _, _) = two_builds
    rows, arrays = _read(a)
    assert len(rows) == stats[0].windows >= 6
    by_split = {}
    for r in rows:
        assert r["split"] == split_of(r["work"])
        assert set(r["tags"]) == {"genre", "mood", "tempo", "instrument"}
        assert r["caption"].startswith(f"A {r['tags']['mood']} {r['tags']['genre']} song at ")
        by_split.setdefault(r["split"], []).append(r)
    works = {s: {r["work"] for r in rs} for s, rs in by_split.items()}
    splits = list(works)
    for i, s in enumerate(splits):
        for t in splits[i + 1:]:
            assert not works[s] & works[t], "a work in two splits"
    for split, rs in by_split.items():
        assert [r["row"] for r in rs] == list(range(len(rs)))
        truth = arrays[f"truth/{split}.safetensors"]["melody"]
        assert truth.shape == (len(rs), 512) and truth.dtype == np.int8
        mel_rows = np.concatenate([v["row"] for k, v in arrays.items() if k.startswith(f"mels/tiny/{split}-")])
        audio = [v for k, v in arrays.items() if k.startswith(f"audio/{split}-")]
        assert sorted(mel_rows.tolist()) == list(range(len(rs)))
        assert all(v["audio"].shape[1] == 131072 and v["audio"].dtype == np.float16 for v in audio)
        mel = arrays[f"mels/tiny/{split}-0.safetensors"]["mel"]
        assert mel.shape[1:] == (80, 512) and mel.dtype == np.float16 and -1 <= mel.min() and mel.max() <= 1
        # the melody truth of each window agrees with the top-voice notes stored beside it
        for i, r in enumerate(rs):
            again = melody_truth(r["notes"], 0.0, 22050)
            assert np.mean(again != truth[i]) < 0.02
            assert (truth[i] >= 0).mean() > 0.3


def test_melody_truth_matches_the_rendered_audio(two_builds):
    """The truth's pitch class is among the 3 strongest chroma bins (librosa, on the stored audio)."""
    import librosa

    _, (a, _, _) = two_builds
    rows, arrays = _read(a)
    hits = []
    for split in {r["split"] for r in rows}:
        truth = arrays[f"truth/{split}.safetensors"]["melody"]
        audio = np.concatenate([v["audio"] for k, v in sorted(arrays.items()) if k.startswith(f"audio/{split}-")])
        for i in range(len(truth)):
            chroma = librosa.feature.chroma_stft(y=audio[i].astype(np.float32), sr=22050, n_fft=2048,
                                                 hop_length=256)[:, :512]
            on = truth[i] >= 0
            top3 = np.argsort(-chroma[:, on], axis=0)[:3]
            hits.append((top3 == truth[i][on]).any(axis=0).mean())
    assert len(hits) >= 6 and np.mean(hits) > 0.8


@pytest.mark.slow
def test_worker_processes_build_the_same_corpus(abc_dir, tmp_path):
    refs = _refs(abc_dir)
    _build(tmp_path / "one", refs, seed=5)
    cfg = BuildConfig(out=str(tmp_path / "two"), hours=1.0, seed=5, works=refs, presets=("tiny",), shard_size=4,
                      workers=2)
    build_corpus(cfg, progress=False)
    rows_1, arr_1 = _read(tmp_path / "one")
    rows_2, arr_2 = _read(tmp_path / "two")
    assert rows_1 == rows_2
    for k in arr_1:
        for name in arr_1[k]:
            np.testing.assert_array_equal(arr_1[k][name], arr_2[k][name])


def test_data_build_renders_with_one_process_per_core_by_default():
    import os

    from ditto_live.cli import build_parser
    from ditto_live.data.build import render_processes

    args = build_parser().parse_args(["data", "build", "--out", "x"])
    assert args.workers == 0
    assert render_processes(0) == len(os.sched_getaffinity(0)) and render_processes(3) == 3


def test_a_build_cut_short_by_its_time_limit_is_a_complete_corpus(abc_dir, tmp_path):
    refs = _refs(abc_dir)
    cfg = BuildConfig(out=str(tmp_path), hours=1.0, seed=5, works=refs, presets=("tiny",), shard_size=4,
                      max_seconds=1e-9)  # stops after the first work
    stats = build_corpus(cfg, progress=False)
    rows, arrays = _read(tmp_path)
    assert stats.cut_short and stats.attempted == 1 and len(rows) == stats.windows > 0
    assert "cut short" in (tmp_path / "card.md").read_text()
    assert all(f"truth/{s}.safetensors" in arrays for s in ("train", "val", "test"))
