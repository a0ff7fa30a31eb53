"""Checkpoints: a folder with ``model.safetensors`` (weights) and ``model.json`` (everything else).

model.json = {"kind": "base" | "ctm" | "cm" | "vocoder" | "clap" | ..., "model_config": {...},
"mel_config", "tags" (vocabulary), "vocab_sizes", "recipe", "metrics", "wall_time_s", "machine"}.
``load_checkpoint`` rebuilds the module from "kind" and "model_config" through a small registry;
the UNet kinds are built in, other modules register theirs with ``register_model_kind``.
Files are written to temporary names and renamed, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ditto_live.engine.unet import UNet, UNetConfig

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
UNET_KINDS = ("base", "ctm", "cm")  # kinds whose module is an engine.unet.UNet

Builder = Callable[..., nn.Module]
_BUILDERS: dict[str, tuple[Builder, bool]] = {}  # kind -> (builder, whether it also takes the meta)


def register_model_kind(kind: str, builder: Builder, with_meta: bool = False) -> None:
    """Teach ``load_checkpoint`` to rebuild ``kind``: ``builder(model_config)`` -> module
    (``builder(model_config, meta)`` when ``with_meta``). Registering a kind again replaces it."""
    _BUILDERS[kind] = (builder, with_meta)


def vocab_sizes_of(meta: dict[str, Any]) -> tuple[int, ...]:
    """Tag vocabulary sizes from a checkpoint's JSON: "vocab_sizes", else the lengths in "tags"."""
    if "vocab_sizes" in meta:
        return tuple(int(v) for v in meta["vocab_sizes"])
    if "tags" in meta:
        return tuple(len(names) for names in meta["tags"].values())
    raise ValueError("checkpoint JSON has neither 'vocab_sizes' nor 'tags'; cannot size the tag embeddings")


def build_unet(model_config: dict[str, Any], meta: dict[str, Any]) -> UNet:
    return UNet(UNetConfig.from_dict(model_config), vocab_sizes_of(meta))


for _kind in UNET_KINDS:
    register_model_kind(_kind, build_unet, with_meta=True)


def _json_default(obj: object) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    raise TypeError(f"checkpoint metadata: cannot store {type(obj).__name__} as JSON")


def complete_meta(model: nn.Module, meta: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``meta`` with "model_config" and "vocab_sizes" filled from the model when missing."""
    meta = dict(meta)
    if "kind" not in meta:
        raise ValueError("checkpoint metadata needs a 'kind' (base, ctm, cm, vocoder, clap, ...)")
    cfg = getattr(model, "cfg", None)
    if "model_config" not in meta and cfg is not None and hasattr(cfg, "to_dict"):
        meta["model_config"] = cfg.to_dict()
    if "vocab_sizes" not in meta and hasattr(model, "vocab_sizes"):
        sizes: Any = model.vocab_sizes  # a tuple attribute of the UNet, not a parameter or buffer
        meta["vocab_sizes"] = list(sizes)
    if "model_config" not in meta:
        raise ValueError("checkpoint metadata needs a 'model_config' (the model has no cfg.to_dict())")
    return meta


def save_checkpoint(folder: str | Path, model: nn.Module, meta: dict[str, Any], half: bool = False) -> Path:
    """Write ``model``'s state dict and ``meta`` to ``folder`` (created if needed).

    ``half`` stores floating-point tensors as float16 (shipping size); otherwise they are stored
    as they are, so loading gives back the same bits.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = complete_meta(model, meta)
    tensors = {}
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        tensors[name] = t.half() if half and t.is_floating_point() else t.clone()
    meta["weights_dtype"] = "float16" if half else "as trained"
    tmp_weights, tmp_meta = folder / (WEIGHTS_FILE + ".tmp"), folder / (META_FILE + ".tmp")
    save_file(tensors, str(tmp_weights), metadata={"kind": str(meta["kind"])})
    tmp_meta.write_text(json.dumps(meta, indent=2, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp_weights, folder / WEIGHTS_FILE)
    os.replace(tmp_meta, folder / META_FILE)
    log.info("saved %s checkpoint to %s (%d tensors)", meta["kind"], folder, len(tensors))
    return folder


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The JSON of a checkpoint folder."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {folder}: {META_FILE} is missing")
    return json.loads(path.read_text(encoding="utf-8"))


def build_model(meta: dict[str, Any]) -> nn.Module:
    """An untrained module of the checkpoint's kind and config."""
    kind = meta.get("kind")
    if kind not in _BUILDERS:
        raise ValueError(f"no builder for checkpoint kind {kind!r}; known: {sorted(_BUILDERS)} "
                         "(import the module that registers it, e.g. ditto_live.engine.vocoder)")
    builder, with_meta = _BUILDERS[kind]
    return builder(meta["model_config"], meta) if with_meta else builder(meta["model_config"])


def load_checkpoint(folder: str | Path, device: torch.device | str = "cpu",
                    dtype: torch.dtype | None = torch.float32) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the module saved in ``folder`` -> (model in eval mode on ``device``, meta).

    Floating-point weights are cast to ``dtype`` (None keeps the stored dtype).
    """
    folder = Path(folder)
    meta = read_meta(folder)
    model = build_model(meta)
    state = load_file(str(folder / WEIGHTS_FILE), device="cpu")
    if dtype is not None:
        model = model.to(dtype)
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    elif any(v.is_floating_point() and v.dtype != torch.float32 for v in state.values()):
        model = model.to(next(v.dtype for v in state.values() if v.is_floating_point()))
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), meta
