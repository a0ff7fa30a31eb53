"""Training under torchrun: two gloo processes train the micro base model for two steps; after each
step both hold the same weights (DDP averaged their gradients although each read its own half of the
data), only rank 0 wrote checkpoints, and one process resumes what two saved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ditto_live.engine.train.dataset import part_rows
from ditto_live.engine.train.distributed import local_batch, rank_seed

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("ddp_worker.py")


def test_parts_split_rows_into_contiguous_blocks_and_rank_0_keeps_the_seed():
    blocks = [part_rows(10, (i, 3)) for i in range(3)]
    assert [list(b) for b in blocks] == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert part_rows(7) == range(7)
    assert rank_seed(5, 0) == 5 and len({rank_seed(5, r) for r in range(4)}) == 4
    assert local_batch(8, 2) == 4
    with pytest.raises(ValueError, match="multiple"):
        local_batch(6, 4)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    env = os.environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                        "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(WORKER), str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def test_torchrun_two_ranks_hold_identical_weights_and_rank_0_alone_writes(two_ranks):
    from tests.engine.train.ddp_worker import toy_data

    for step in (1, 2):
        a, b = _weights(two_ranks / "rank0" / f"step{step}.pt"), _weights(two_ranks / "rank1" / f"step{step}.pt")
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), f"ranks differ after step {step}"
    first, second = _weights(two_ranks / "rank0" / "step1.pt"), _weights(two_ranks / "rank0" / "step2.pt")
    assert any(not torch.equal(first[k], second[k]) for k in first)  # the step trained

    rank0 = json.loads((two_ranks / "rank0" / "saves.json").read_text())
    rank1 = json.loads((two_ranks / "rank1" / "saves.json").read_text())
    assert rank0["saves"] == [1, 2] and rank1["saves"] == []
    run = two_ranks / "run"
    assert sorted(p.name for p in run.iterdir()) == ["final", "latest", "step-1"]
    meta = json.loads((run / "final" / "model.json").read_text())
    assert meta["metrics"]["processes"] == 2 and meta["recipe"]["windows"] == len(toy_data().mels)
    assert meta["machine"].startswith("2 processes on 1 machine(s)")
    state = torch.load(run / "final" / "train_state.pt", weights_only=False)
    assert len(state["rank_generators"]) == 2
    assert not torch.equal(state["rank_generators"][0]["train"], state["rank_generators"][1]["train"])


def test_one_process_resumes_what_two_saved(two_ranks, tmp_path):
    import shutil

    from ditto_live.engine.train.base import train_base
    from tests.engine.train.ddp_worker import RUN, toy_data

    shutil.copytree(two_ranks / "run", tmp_path / "run")
    data = toy_data()
    metrics = train_base(None, tmp_path / "run", data=data, val=data, resume=True, **(RUN | {"steps": 3}))
    assert metrics["steps"] == 3
    meta = json.loads((tmp_path / "run" / "final" / "model.json").read_text())
    assert meta["metrics"]["steps"] == 3 and "processes" not in meta["metrics"]
