"""Every training command under torchrun (slow): `train base | vocoder | clap` and `distill ctm` on two gloo
processes over a synthetic corpus, each writing one final checkpoint that records its two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _corpus(root: Path) -> None:
    """8 train and 2 val windows of the tiny preset (80 mels x 512 frames, 131,072 samples)."""
    from ditto_live.data.shards import CorpusWriter

    rng = np.random.default_rng(0)
    writer = CorpusWriter(root, ("tiny",), shard_size=3)
    for i in range(10):
        tags = {"genre": ["chorale", "folk"][i % 2], "mood": "major", "tempo": "slow", "instrument": "organ"}
        meta = {"work": f"w{i}", "split": "train" if i < 8 else "val", "tags": tags,
                "caption": f"A major {tags['genre']} song"}
        mel = rng.uniform(-1, 0, (80, 512)).astype(np.float16)
        writer.add(meta, rng.uniform(-0.3, 0.3, 131072).astype(np.float32), {"tiny": mel}, np.zeros(512, np.int8))
    writer.close()


def _torchrun(*args: str, cwd: Path) -> None:
    env = os.environ | {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONSAFEPATH": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "ditto_live.cli", *args, "--device", "cpu", "--no-progress"]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def _meta(run: Path) -> dict:
    return json.loads((run / "final" / "model.json").read_text())


def test_every_trainer_runs_under_torchrun(tmp_path):
    pytest.importorskip("ditto_live.generation.text_encoder")
    data = tmp_path / "corpus"
    _corpus(data)
    _torchrun("train", "base", "--data", str(data), "--out", "base", "--steps", "2", "--batch", "2",
              "--crop-frames", "64", cwd=tmp_path)
    _torchrun("train", "vocoder", "--data", str(data), "--out", "vocoder", "--steps", "2", "--batch", "4", cwd=tmp_path)
    _torchrun("distill", "ctm", "--teacher", "base/final", "--data", str(data), "--out", "ctm", "--steps", "2",
              "--batch", "2", "--crop-frames", "64", cwd=tmp_path)
    _torchrun("train", "clap", "--data", str(data), "--out", "clap", "--steps", "2", "--batch", "4", cwd=tmp_path)
    for name in ("base", "vocoder", "ctm", "clap"):
        meta = _meta(tmp_path / name)
        assert meta["metrics"]["processes"] == 2 and meta["machine"].startswith("2 processes"), name
    assert _meta(tmp_path / "base")["recipe"]["windows"] == 8
    assert "mse_1step_student" in _meta(tmp_path / "ctm")["metrics"]
