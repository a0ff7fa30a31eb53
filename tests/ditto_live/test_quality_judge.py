"""The quality judge (issue 31): its distances, intervals, sanity ordering, reference sets and the
worker contract, with a fake embedding; the real musicnn only where the judges' interpreter exists."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from ditto_live.evaluation.scoring import fad
from ditto_live.judges import musicnn_worker as worker
from ditto_live.judges.quality import (
    Bootstrap,
    MusicnnEmbedding,
    Reference,
    SetScore,
    frechet_to,
    judges_python,
    musicnn_missing,
    paired_difference,
    pink_noise,
    pooled,
    resampled_groups,
    rms,
    sanity_ordering,
    score_set,
    shuffle_frames,
    white_noise,
)

SR = 22050


def band_embedding(audio: np.ndarray, patches: int = 3, bands: int = 16) -> np.ndarray:
    """A fake embedding: log power in ``bands`` equal FFT bands of each of ``patches`` chunks. [n, s] ->
    [n, patches, bands]"""
    chunks = np.array_split(audio, patches, axis=-1)
    out = []
    for c in chunks:
        power = np.abs(np.fft.rfft(c, axis=-1)) ** 2
        energy = np.stack([b.mean(axis=-1) for b in np.array_split(power, bands, axis=-1)], -1)
        out.append(np.log(energy + 1e-9))
    return np.stack(out, axis=1)


def tones(n: int, rng: np.random.Generator, samples: int = SR * 2) -> np.ndarray:
    """Clips of a few random harmonic tones: pitched, music-like test audio. [n, samples]"""
    t = np.arange(samples) / SR
    out = np.zeros((n, samples))
    for i in range(n):
        for f0 in 110 * 2 ** (rng.integers(0, 36, 3) / 12):
            out[i] += sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (0.1 * out / rms(out)[:, None]).astype(np.float32)


def test_frechet_to_a_fixed_reference_equals_the_evaluations_fad():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 3, 8)) + 0.5
    b = rng.standard_normal((20, 3, 8)) @ rng.standard_normal((8, 8))
    expected = fad(pooled(a), pooled(b))
    assert frechet_to(pooled(a), Reference.of(b)) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_a_set_scored_against_itself_is_near_zero_and_a_shifted_set_is_far():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((40, 3, 6))
    groups = [f"w{i % 5}" for i in range(40)]
    itself = score_set(ref, groups, ref, Bootstrap(resamples=50))
    twin = score_set(rng.standard_normal((40, 3, 6)), groups, ref, Bootstrap(resamples=50))  # same law
    shifted = score_set(ref + 2.0, groups, ref, Bootstrap(resamples=50))
    assert itself.fd < 1e-9
    assert shifted.fd == pytest.approx(6 * 4.0, rel=1e-6)  # the mean moved by 2 in each of 6 dimensions
    assert shifted.fd > 10 * twin.fd and shifted.kid > 10 * abs(twin.kid)
    lo, hi = shifted.fd_interval
    assert lo <= hi and np.isfinite([lo, hi]).all()
    assert (shifted.clips, shifted.groups) == (40, 5)


def test_intervals_resample_groups_so_one_group_has_none():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((20, 3, 4))
    one = score_set(ref + 1, ["w"] * 20, ref, Bootstrap(resamples=20))
    assert np.isnan(one.fd_interval).all() and np.isfinite(one.fd)
    with pytest.raises(ValueError, match="groups"):
        score_set(ref, ["w"] * 3, ref)


def test_the_bootstrap_is_deterministic_in_its_seed():
    rng = np.random.default_rng(3)
    ref, cand = rng.standard_normal((30, 3, 5)), rng.standard_normal((24, 3, 5)) + 0.3
    groups = [f"w{i % 6}" for i in range(24)]
    boot = Bootstrap(30, seed=4)
    assert score_set(cand, groups, ref, boot) == score_set(cand, groups, ref, boot)


def test_a_paired_difference_resolves_a_moved_copy_and_not_the_same_set():
    """FD(b) - FD(a) on the same resampled works: a copy moved away from the reference is worse beyond
    the interval; a set against itself differs by exactly 0."""
    rng = np.random.default_rng(9)

    def works(n_works: int, n: int) -> np.ndarray:  # clips = their work's offset + noise
        offsets = rng.standard_normal((n_works, 1, 6))
        return rng.standard_normal((n, 3, 6)) + offsets[np.arange(n) % n_works]

    groups = [f"w{i % 8}" for i in range(48)]
    real, ref = works(8, 48), Reference.of(works(10, 60))
    worse = paired_difference(real, real + 2.0, groups, ref, Bootstrap(resamples=100))
    same = paired_difference(real, real, groups, ref, Bootstrap(resamples=100))
    assert worse.fd > 0 and worse.resolved
    assert same.fd == 0 and not same.resolved
    with pytest.raises(ValueError, match="one group per clip"):
        paired_difference(real, real[:10], groups, ref)


def test_group_resamples_draw_whole_groups():
    groups = ["a", "a", "b", "c", "c", "c"]
    for picked in resampled_groups(groups, Bootstrap(resamples=20, seed=1)):
        counts = {g: sum(groups[i] == g for i in picked) for g in "abc"}
        assert counts["a"] % 2 == 0 and counts["c"] % 3 == 0  # a group comes whole or not at all
    assert resampled_groups(["a"] * 4, Bootstrap()) == []


def _score(fd: float) -> SetScore:
    return SetScore(fd, fd * 10, (fd, fd), (fd, fd), 8, 4)


def test_the_sanity_ordering_passes_only_when_every_fd_check_holds():
    good = {"real": _score(1), "vocoded": _score(2), "shuffled": _score(3), "white_noise": _score(9),
            "pink_noise": _score(8), "default_model": _score(5)}
    assert sanity_ordering(good)["passes"]
    swapped = {**good, "vocoded": _score(4)}  # vocoded ranked worse than shuffled
    checks = sanity_ordering(swapped)
    assert not checks["fd: vocoded < shuffled"] and not checks["passes"]
    incomplete = {k: v for k, v in good.items() if k != "pink_noise"}
    assert not sanity_ordering(incomplete)["passes"]  # a check that cannot run is not met


def test_noise_references_have_the_asked_level_and_spectral_slope():
    rng = np.random.default_rng(5)
    white, pink = white_noise(4, SR, 0.1, rng), pink_noise(4, SR, 0.1, rng)
    np.testing.assert_allclose(rms(pink), 0.1, rtol=1e-5)
    np.testing.assert_allclose(rms(white), 0.1, rtol=0.05)
    f = np.fft.rfftfreq(SR, 1 / SR)
    band = (f > 50) & (f < 5000)

    def slope(x: np.ndarray) -> float:
        power = (np.abs(np.fft.rfft(x, axis=-1)) ** 2).mean(axis=0)
        return float(np.polyfit(np.log(f[band]), np.log(power[band]), 1)[0])

    assert slope(pink) == pytest.approx(-1.0, abs=0.1)  # power ~ 1/f
    assert slope(white) == pytest.approx(0.0, abs=0.1)


def test_shuffled_frames_keep_each_clips_frames_in_another_order():
    rng = np.random.default_rng(6)
    mels = rng.standard_normal((3, 1, 4, 50)).astype(np.float32)
    out = shuffle_frames(mels, rng)
    for i in range(3):
        assert sorted(map(tuple, out[i, 0].T)) == sorted(map(tuple, mels[i, 0].T))
        assert not np.array_equal(out[i], mels[i])


def test_a_fake_embedding_ranks_tones_before_noise_through_the_same_scoring():
    """The plumbing end to end: sets -> embedding -> scores -> ordering, with a band-energy embedding."""
    rng = np.random.default_rng(7)
    reference = band_embedding(tones(24, rng))
    real = band_embedding(tones(24, rng))
    noise = band_embedding(white_noise(24, SR * 2, 0.1, rng))
    groups = [f"w{i % 6}" for i in range(24)]
    assert score_set(real, groups, reference).fd < score_set(noise, groups, reference).fd


def test_musicnn_patches_cover_a_window_and_pad_a_short_clip():
    rep = np.zeros((372, 96), dtype=np.float32)  # a 5.94 s window at 16 kHz, hop 256
    assert worker.patches(rep).shape == (3, worker.PATCH_FRAMES, 96)
    assert worker.patches(rep[:50]).shape == (1, worker.PATCH_FRAMES, 96)


def test_the_embedding_runs_its_worker_through_files(tmp_path, monkeypatch):
    """MusicnnEmbedding's contract with the worker: one npz of sets in, one npz of [n, P, D] out, the
    model and layer passed on; here a fake worker run by this interpreter."""
    fake = tmp_path / "fake_worker.py"
    fake.write_text(textwrap.dedent("""
        import argparse, numpy as np
        p = argparse.ArgumentParser(); [p.add_argument(a) for a in ("--audio", "--out", "--model", "--layer")]
        a = p.parse_args(); d = np.load(a.audio)
        assert int(d["sample_rate"]) == 22050 and a.model == "MTT_musicnn" and a.layer == "max_pool"
        np.savez(a.out, **{k: np.repeat(d[k][:, None, :4], 2, axis=1) for k in d.files if k != "sample_rate"})
    """))
    monkeypatch.setattr("ditto_live.judges.quality.WORKER", fake)
    emb = MusicnnEmbedding(sys.executable, model="MTT_musicnn", layer="max_pool")
    sets = {"real": np.ones((3, 100), np.float32), "noise": np.zeros((2, 100), np.float32)}
    out = emb.embed(sets, SR)
    assert out["real"].shape == (3, 2, 4) and out["noise"].shape == (2, 2, 4)
    assert "MTT_musicnn" in emb.name


def test_a_failing_worker_raises_with_its_error(tmp_path, monkeypatch):
    fake = tmp_path / "broken.py"
    fake.write_text("raise SystemExit('no model here')\n")
    monkeypatch.setattr("ditto_live.judges.quality.WORKER", fake)
    with pytest.raises(RuntimeError, match="no model here"):
        MusicnnEmbedding(sys.executable).embed({"a": np.zeros((1, 10), np.float32)}, SR)


def test_a_missing_interpreter_is_named():
    assert "no judges interpreter" in (musicnn_missing("/nonexistent/python") or "")


@pytest.mark.slow
def test_musicnn_embeds_real_clips_and_puts_tones_nearer_tones_than_noise():
    missing = musicnn_missing(judges_python())  # here, not at import: the probe imports TensorFlow
    if missing:
        pytest.skip(f"musicnn is not installed: {missing}")
    rng = np.random.default_rng(8)
    sets = {"reference": tones(6, rng, SR * 6), "tones": tones(6, rng, SR * 6),
            "noise": white_noise(6, SR * 6, 0.1, rng)}
    out = MusicnnEmbedding(judges_python()).embed(sets, SR)
    assert out["tones"].shape == (6, 3, 200) and np.isfinite(out["tones"]).all()
    ref = Reference.of(out["reference"])
    assert frechet_to(pooled(out["tones"]), ref) < frechet_to(pooled(out["noise"]), ref)
