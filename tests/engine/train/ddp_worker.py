"""One rank of the torchrun test (``test_distributed.py``): two steps of the micro base model on tiny data
made here, under ``torchrun --nproc_per_node 2`` on gloo.

Each rank records, beside the run, what the test checks: its raw weights after every step
(``OUT/rank<r>/step<n>.pt``) and the checkpoints it wrote (``OUT/rank<r>/saves.json``).

    torchrun --standalone --nproc_per_node 2 tests/engine/train/ddp_worker.py OUT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from ditto_live.engine.tags import TagVocab
from ditto_live.engine.train import base, distributed, resume
from ditto_live.engine.train.dataset import MelData
from tests.engine.conftest import MICRO

VOCAB = TagVocab.from_names(genre=["a", "b"], mood=["major", "minor"], tempo=["slow", "fast"],
                            instrument=["piano", "organ"]).to_dict()
RUN = dict(preset="tiny", steps=2, batch=4, lr=1e-3, seed=5, device="cpu", progress=False, warmup=1,
           ema_decay=0.9, unet_config=MICRO, ckpt_every=1)  # a checkpoint after step 1 and the final one


def toy_data(n: int = 8) -> MelData:
    """n windows of 16 mels x 64 frames, the same on every rank (each trains on its own half)."""
    gen = torch.Generator().manual_seed(3)
    return MelData((torch.rand(n, 1, 16, 64, generator=gen) * 2 - 1).half(),
                   torch.randint(1, 3, (n, 4), generator=gen), VOCAB)


def main(out: Path) -> None:
    torch.set_num_threads(1)
    record = out / f"rank{os.environ['RANK']}"
    record.mkdir(parents=True, exist_ok=True)
    saves: list[int] = []
    real_save, real_loop = resume.CheckpointManager.save, base.train_loop

    def spy_save(self, step, *args, **kw):
        saves.append(step)
        return real_save(self, step, *args, **kw)

    def loop(model, *args, **kw):
        def after_step(step: int) -> None:
            torch.save({k: v.clone() for k, v in model.state_dict().items()}, record / f"step{step + 1}.pt")
        return real_loop(model, *args, after_step=after_step, **kw)

    resume.CheckpointManager.save, base.train_loop = spy_save, loop
    data = toy_data()
    metrics = base.train_base(None, out / "run", data=data, val=data, **RUN)
    (record / "saves.json").write_text(json.dumps({"saves": saves, "metrics": metrics}))
    distributed.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
