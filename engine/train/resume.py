"""Periodic checkpoints with the training state beside them, and resumption (``train_loop``'s).

A run folder holds OUT/step-N (the last ``keep``), OUT/latest and, once finished, OUT/final: each an
engine checkpoint (``engine.checkpoint.save_checkpoint``) plus ``train_state.pt`` with the raw weights,
the optimizer, the EMA, the step, more trained state (``others``) and the generator states of every
rank (``distributed.py``), enough to continue bit-identically on as many processes, and to continue
on a different number of them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from ditto_live.engine.train.common import EMA

log = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"  # training state saved beside a checkpoint's weights


def gen_states(gens: dict[str, torch.Generator]) -> dict[str, Tensor]:
    """The state of each named generator (what a rank hands in at a checkpoint)."""
    return {k: g.get_state() for k, g in gens.items()}


class CheckpointManager:
    """Periodic checkpoints under OUT/step-<N>/ and OUT/latest/, plus the final one under OUT/final/.

    Each folder is an engine checkpoint (``save_checkpoint``: the exported weights, usually the EMA,
    and their JSON) with ``train_state.pt`` beside it: raw weights, optimizer, EMA, step and generator
    states, enough to continue bit-identically. ``keep`` bounds the step-N folders kept on disk.
    """

    def __init__(self, out_dir: str | Path, every: int, keep: int = 3):
        self.out = Path(out_dir)
        self.every = every
        self.keep = keep

    def due(self, step: int, total: int) -> bool:
        """True after step ``step`` (0-based) when a periodic checkpoint is due."""
        return self.every > 0 and (step + 1) % self.every == 0 and step + 1 < total

    def save(self, step: int, export_model: nn.Module, meta: dict, model: nn.Module,
             optimizer: torch.optim.Optimizer, ema: EMA | None, gens: dict[str, torch.Generator],
             extra: dict | None = None, name: str | None = None, others: dict[str, Any] | None = None,
             rank_gens: list[dict[str, Tensor]] | None = None) -> Path:
        """Write the checkpoint after ``step`` steps (1-based count) to OUT/<name or step-N>/ and OUT/latest/.
        ``extra`` (plain data: wall time so far, loss history) is stored in the training state, and so is
        the ``state_dict()`` of each of ``others`` (more trained state, e.g. a distillation's target) and
        every rank's generator states (``rank_gens``, in rank order; default: this process's)."""
        from ditto_live.engine.checkpoint import save_checkpoint

        state = {
            "step": step,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "others": {k: v.state_dict() for k, v in (others or {}).items()},
            "generators": gen_states(gens),
            "rank_generators": rank_gens if rank_gens is not None else [gen_states(gens)],
            "torch_rng": torch.get_rng_state(),
            "extra": extra or {},
        }
        folders = [self.out / (name or f"step-{step}"), self.out / "latest"]
        for folder in folders:
            tmp = folder.with_name(folder.name + ".tmp")
            if tmp.exists():
                _rmtree(tmp)
            save_checkpoint(tmp, export_model, meta)
            torch.save(state, tmp / STATE_FILE)
            if folder.exists():
                _rmtree(folder)
            tmp.rename(folder)
        self._prune()
        log.info("checkpoint at step %d -> %s", step, folders[0])
        return folders[0]

    def _prune(self) -> None:
        steps = sorted(self.out.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
        for old in steps[:-self.keep] if self.keep > 0 else []:
            _rmtree(old)

    @staticmethod
    def restore(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, ema: EMA | None,
                gens: dict[str, torch.Generator], others: dict[str, Any] | None = None, rank: int = 0) -> dict:
        """Load a training state into the live objects; return it (``step``: steps done, ``extra``).
        ``gens`` take the states rank ``rank`` saved; a rank the saving run did not have keeps its own
        fresh generators (a resume on more processes)."""
        path = Path(path)
        if path.is_dir():
            path = path / STATE_FILE
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        for k, obj in (others or {}).items():
            if k not in state.get("others", {}):
                raise KeyError(f"the training state at {path} holds no {k!r}")
            obj.load_state_dict(state["others"][k])
        saved = state.get("rank_generators") or [state["generators"]]
        for k, g in gens.items():
            if rank < len(saved) and k in saved[rank]:
                g.set_state(saved[rank][k])
        torch.set_rng_state(state["torch_rng"])
        return state


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def find_resume(out_dir: str | Path, resume: bool | str | None) -> Path | None:
    """Resolve a --resume value: False/None -> no resume; True -> OUT/latest if it exists; a path ->
    that checkpoint folder or state file (an error if missing)."""
    if not resume:
        return None
    if resume is True or resume == "latest":
        path = Path(out_dir) / "latest" / STATE_FILE
        if not path.exists():
            log.info("nothing to resume in %s; starting from scratch", out_dir)
            return None
        return path
    path = Path(resume)
    if path.is_dir():
        path = path / STATE_FILE
    if not path.exists():
        raise FileNotFoundError(f"no training state at {path}")
    return path
