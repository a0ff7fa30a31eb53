"""Model bundles: find them by name or path, load what they hold, list them with their card metrics.

A bundle is a folder of engine checkpoints (``base/``, ``ctm/``, ``cm/``, ``vocoder/``, ``clap/``, each
``model.safetensors`` + ``model.json``) and a ``card.md``. Names resolve to folders under the package's
``assets/`` (``"default"`` = ``ditto_live/assets/default``, the embedded tiny model); anything else is
read as a path, either to a bundle or to a single checkpoint folder (which then fills its kind's slot).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ditto_live.errors import UsageError

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ditto_live.engine.audio import MelConfig
    from ditto_live.engine.clap import ClapModel
    from ditto_live.engine.vocoder import Vocoder

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[1] / "assets"  # bundled models live here, one folder each
COMPONENTS = ("base", "ctm", "cm", "vocoder", "clap")  # checkpoint folders a bundle may hold
META_FILE = "model.json"
CARD_FILE = "card.md"
RETRAIN_HINT = "run scripts/train_all.sh (or `ditto-live train all --data DIR --out DIR`) to build one"


def bundled_names() -> list[str]:
    """Names of the bundles shipped in the package (folders under assets/ that hold a checkpoint)."""
    if not ASSETS.is_dir():
        return []
    return sorted(p.name for p in ASSETS.iterdir() if p.is_dir() and _component_dirs(p))


def _component_dirs(folder: Path) -> dict[str, Path]:
    """{component: checkpoint folder} for a bundle folder, or for a single checkpoint folder."""
    if (folder / META_FILE).is_file():
        kind = _read_meta(folder).get("kind", folder.name)
        return {kind: folder}
    return {c: folder / c for c in COMPONENTS if (folder / c / META_FILE).is_file()}


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / META_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"unreadable checkpoint metadata {folder / META_FILE}: {exc}") from exc


def resolve_bundle(name_or_path: str | Path) -> Path:
    """A bundled model's name, or a path to a bundle or checkpoint folder -> its folder.

    Raises UsageError naming what was looked for when there is no such model.
    """
    text = str(name_or_path)
    candidates = []
    if text and "/" not in text and "\\" not in text and not text.startswith("."):
        candidates.append(ASSETS / text)
    candidates.append(Path(text).expanduser())
    for folder in candidates:
        if folder.is_dir() and _component_dirs(folder):
            return folder
    known = ", ".join(bundled_names()) or "none bundled"
    raise UsageError(f"no model named {text!r} (bundled: {known}; or give a path to a bundle folder); "
                     f"{RETRAIN_HINT}")


@dataclass
class Bundle:
    """The loaded models of one bundle; a component the bundle lacks is None."""

    name: str  # what the user asked for
    path: Path  # the bundle folder
    base: nn.Module | None = None  # teacher (an engine UNet, kind "base"; the bench may give a bf16 copy)
    ctm: nn.Module | None = None  # CTM student (a UNet that takes w)
    cm: nn.Module | None = None  # CM student
    vocoder: Vocoder | None = None  # neural vocoder; None = Griffin-Lim
    clap: ClapModel | None = None  # text-audio model
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)  # model.json of each present component
    card: str = ""  # card.md text

    @property
    def mel_config(self) -> MelConfig:
        """The bundle's MelConfig (from the first component that records one)."""
        from ditto_live.engine.audio import MelConfig

        for comp in COMPONENTS:
            if comp in self.meta and "mel_config" in self.meta[comp]:
                return MelConfig(**self.meta[comp]["mel_config"])
        raise UsageError(f"bundle {self.path} records no mel config")

    @property
    def tags(self) -> dict[str, list[str]]:
        """The tag vocabulary of the base model ({field: [names]}), or {} when none is recorded."""
        for comp in ("base", "ctm", "cm"):
            if "tags" in self.meta.get(comp, {}):
                return self.meta[comp]["tags"]
        return {}

    def student(self, kind: str = "ctm") -> nn.Module:
        """The distilled student of this kind; a clear error when the bundle lacks it."""
        model = getattr(self, kind, None)
        if model is None:
            raise UsageError(f"model {self.name!r} has no {kind} student (has: {', '.join(self.meta)})")
        return model

    def mel_to_wav(self, mel: Tensor, n_iter: int = 32) -> Tensor:
        """Vocode mel [B, 1, F, N] -> wav [B, N * hop] with the bundle's vocoder, else Griffin-Lim."""
        from ditto_live.engine.vocoder import mel_to_wav

        return mel_to_wav(mel, self.vocoder, self.mel_config, n_iter=n_iter)


def _register_kinds() -> None:
    """Import the engine modules that register their checkpoint kinds (vocoder, clap)."""
    import importlib

    for mod in ("ditto_live.engine.vocoder", "ditto_live.engine.clap"):
        try:
            importlib.import_module(mod)
        except ImportError as exc:  # an optional component whose module is missing
            log.debug("%s not importable: %s", mod, exc)


def load_bundle(name_or_path: str | Path = "default", device: str = "cpu",
                components: tuple[str, ...] = COMPONENTS) -> Bundle:
    """Load every present component (of ``components``) of a bundle onto ``device`` ("auto" = cuda when
    available), in eval mode."""
    from ditto_live.engine.checkpoint import load_checkpoint

    _register_kinds()
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    folder = resolve_bundle(name_or_path)
    bundle = Bundle(name=str(name_or_path), path=folder)
    card = folder / CARD_FILE
    bundle.card = card.read_text() if card.is_file() else ""
    for comp, ckpt_dir in _component_dirs(folder).items():
        if comp not in components or comp not in COMPONENTS:
            continue
        model, meta = load_checkpoint(ckpt_dir, device=device)
        if str(device).startswith("cpu"):
            model = model.float()  # shipped weights are half precision; CPU math runs in fp32
        setattr(bundle, comp, model.eval().requires_grad_(False))  # inference: ITO needs x_T's gradient only
        bundle.meta[comp] = meta
    log.info("loaded model %r from %s: %s", bundle.name, folder, ", ".join(bundle.meta) or "nothing")
    return bundle


# ---------------------------------------------------------------------------------------------
# where models run, and random-weight bundles

UNTRAINED = "tiny-untrained"  # model name that builds random-weight tiny models in memory
UNTRAINED_PRESETS = {UNTRAINED: "tiny", "paper-untrained": "paper"}  # random-weight models by preset (timing)
TEMPO_TAGS = ("slow", "moderate", "fast", "very fast")  # the tag vocabulary of a random-weight bundle


def pick_device(device: str) -> str:
    """"auto" -> cuda when available, else cpu; a CUDA device where there is none is a UsageError."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device!r}: CUDA is not available here (use --device cpu)")
    return device


def random_bundle(preset: str = "tiny", device: str = "cpu", seed: int = 0, name: str | None = None,
                  vocoder: bool = False) -> Bundle:
    """The one random-weight bundle builder: a base UNet of ``preset``, CTM/CM students initialised from it,
    a random neural vocoder when ``vocoder`` (else Griffin-Lim), no text model. Seeded; the global RNG is
    left as it was. Every stage runs on it (timing does not depend on the weights); the audio is noise-like.
    """
    import torch

    from ditto_live.engine.audio import PRESETS
    from ditto_live.engine.distill import init_student_from_teacher
    from ditto_live.engine.tags import TagVocab
    from ditto_live.engine.unet import UNET_PRESETS, UNet
    from ditto_live.engine.vocoder import VOCODER_PRESETS, Vocoder

    vocab = TagVocab.from_names(tempo=list(TEMPO_TAGS))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        base = UNet(UNET_PRESETS[preset], vocab.sizes).to(device).eval()
        voc = Vocoder(VOCODER_PRESETS[preset]).to(device).eval() if vocoder else None
    student = init_student_from_teacher(base).eval()
    meta = {"mel_config": PRESETS[preset].to_dict(), "tags": vocab.to_dict(), "kind": "base"}
    return Bundle(name=name or f"{preset}-random", path=Path("<memory>"), base=base, ctm=student, cm=student,
                  vocoder=voc, meta={"base": meta, "ctm": {**meta, "kind": "ctm"}, "cm": {**meta, "kind": "cm"}})


def untrained_bundle(device: str = "cpu", seed: int = 0, name: str = UNTRAINED) -> Bundle:
    """The random-weight bundle a model name of ``UNTRAINED_PRESETS`` stands for (Griffin-Lim): for running
    the whole pipeline before a trained bundle exists."""
    log.warning("model %r: RANDOM, UNTRAINED weights -- the audio will not sound like music; "
                "train a bundle (ditto-live train all) or use the default model", name)
    return random_bundle(UNTRAINED_PRESETS[name], device, seed, name)


def default_loader(name: str, device: str) -> Bundle:
    """A model by name for the runner: a random-weight one (``UNTRAINED_PRESETS``), else :func:`load_bundle`."""
    if name in UNTRAINED_PRESETS:
        return untrained_bundle(device, name=name)
    return load_bundle(name, device)


# ---------------------------------------------------------------------------------------------
# listing


@dataclass
class ModelInfo:
    """One row of ``ditto-live models``."""

    name: str  # bundle name (or folder name for a path)
    path: Path  # bundle folder
    size_bytes: int  # bytes the bundle ships (weights, JSON, card)
    preset: str  # mel/UNet preset ("tiny", "paper", or "?")
    components: list[str]  # checkpoints present
    metrics: dict[str, dict[str, Any]]  # each component's "metrics" from its model.json
    machine: str  # what trained the base model (or the first component)


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def shipped_size(folder: Path) -> int:
    """Bytes a bundle ships: its checkpoints' weights and JSON and its card (not runs/ or training states)."""
    total = sum(f.stat().st_size for d in _component_dirs(folder).values() for f in d.iterdir()
                if f.is_file() and f.name != "train_state.pt")
    card = folder / CARD_FILE
    return total + (card.stat().st_size if card.is_file() else 0)


def _preset_of(metas: dict[str, dict[str, Any]]) -> str:
    from ditto_live.engine.audio import PRESETS

    for meta in metas.values():
        recipe = meta.get("recipe") or {}
        if "preset" in recipe:
            return str(recipe["preset"])
        mel = meta.get("mel_config")
        for name, cfg in PRESETS.items():
            if mel and cfg.to_dict() == mel:
                return name
    return "?"


def model_info(folder: Path, name: str | None = None) -> ModelInfo:
    metas = {comp: _read_meta(d) for comp, d in _component_dirs(folder).items()}
    first = metas.get("base") or next(iter(metas.values()), {})
    return ModelInfo(name=name or folder.name, path=folder, size_bytes=shipped_size(folder),
                     preset=_preset_of(metas), components=list(metas),
                     metrics={c: m.get("metrics", {}) for c, m in metas.items()},
                     machine=str(first.get("machine", "")))


def list_models(extra: Sequence[str | Path] = ()) -> list[ModelInfo]:
    """The bundled models, then any extra bundle folders given (skipping ones that hold no checkpoint)."""
    infos = [model_info(ASSETS / n, n) for n in bundled_names()]
    for path in extra:
        folder = Path(path).expanduser()
        if folder.is_dir() and _component_dirs(folder):
            infos.append(model_info(folder, str(path)))
        else:
            raise UsageError(f"{path}: not a model bundle or checkpoint folder")
    return infos


# ---------------------------------------------------------------------------------------------
# cards and export

CARD_BEGIN, CARD_END = "<!-- generated:begin -->", "<!-- generated:end -->"
SIZE_BUDGET_BYTES = 40_000_000  # issue 7: the embedded bundle stays under 40 MB


def _metric_cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_card(folder: Path, title: str, data_dir: str | Path | None = None) -> str:
    """The generated part of a bundle's card: corpus, then per component the recipe, machine and metrics."""
    info = model_info(folder)
    lines = [CARD_BEGIN, f"# {title}", "", f"Preset `{info.preset}`; {info.size_bytes / 1e6:.1f} MB on disk; "
             f"components: {', '.join(info.components) or 'none'}.", ""]
    if data_dir is not None:
        lines += ["## Corpus", "", f"Built with `ditto-live data build` into `{data_dir}`."]
        corpus_card = Path(data_dir) / "card.md"
        if corpus_card.is_file():
            summary = [ln for ln in corpus_card.read_text().splitlines() if ln.strip()][:12]
            lines += ["", *[f"> {ln}" for ln in summary]]
        lines.append("")
    for comp, d in _component_dirs(folder).items():
        meta = _read_meta(d)
        recipe = meta.get("recipe") or {}
        lines += [f"## {comp}", "", f"- machine: {meta.get('machine', 'unknown')}",
                  f"- wall time: {_metric_cell(meta.get('wall_time_s', '?'))} s",
                  f"- recipe: `{json.dumps(recipe, sort_keys=True)}`", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_metric_cell(v)} |" for k, v in sorted((meta.get("metrics") or {}).items())]
        lines.append("")
    lines.append(CARD_END)
    return "\n".join(lines)


def write_card(folder: str | Path, data_dir: str | Path | None = None, title: str = "ditto_live model") -> Path:
    """Write (or refresh) card.md; text outside the generated block (evaluation sections) is kept."""
    folder = Path(folder)
    path = folder / CARD_FILE
    generated = render_card(folder, title, data_dir)
    old = path.read_text() if path.is_file() else ""
    if CARD_BEGIN in old and CARD_END in old:
        head, rest = old.split(CARD_BEGIN, 1)
        tail = rest.split(CARD_END, 1)[1]
        text = head + generated + tail
    else:
        text = generated + ("\n\n" + old if old else "\n")
    path.write_text(text)
    return path


def export_bundle(src: str | Path, dst: str | Path, half: bool = True) -> int:
    """Copy a bundle's checkpoints (half-precision weights when ``half``) and card to ``dst``; return bytes."""
    from ditto_live.engine.checkpoint import load_checkpoint, save_checkpoint

    _register_kinds()
    src, dst = Path(src), Path(dst)
    parts = _component_dirs(src)
    if not parts:
        raise UsageError(f"{src}: no checkpoints to export")
    dst.mkdir(parents=True, exist_ok=True)
    for comp, d in parts.items():
        model, meta = load_checkpoint(d, device="cpu")
        save_checkpoint(dst / comp, model, meta, half=half)
    if (src / CARD_FILE).is_file():
        (dst / CARD_FILE).write_text((src / CARD_FILE).read_text())
    size = folder_size(dst)
    if size > SIZE_BUDGET_BYTES:
        log.warning("exported bundle is %.1f MB, over the %.0f MB budget", size / 1e6, SIZE_BUDGET_BYTES / 1e6)
    log.info("exported %s -> %s (%.1f MB)", src, dst, size / 1e6)
    return size
