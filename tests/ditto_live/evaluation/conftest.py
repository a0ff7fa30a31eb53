"""A tiny synthetic corpus in the on-disk format of docs/architecture.md and a narrow random bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ditto_live.engine.audio import PRESETS, MelFrontEnd
from ditto_live.engine.clap import ClapConfig, ClapModel
from ditto_live.engine.distill import init_student_from_teacher
from ditto_live.engine.tags import TagVocab
from ditto_live.engine.unet import UNet, UNetConfig
from ditto_live.generation.models import Bundle

MEL = PRESETS["tiny"]  # 80 mels x 512 frames, the embedded preset
NARROW = UNetConfig(channels=(8, 16), blocks=(1, 1), attention=(False, False), mid_attention=False,
                    cross_attention=False, emb_dim=32, groups=4, stem=2)


def melody_audio(pitch: np.ndarray, amp: float = 0.3) -> np.ndarray:
    """A sine per frame at the frame's pitch class (octave above middle C); silence where -1."""
    hop, sr = MEL.hop_length, MEL.sample_rate
    freq = np.repeat(np.where(pitch >= 0, 440.0 * 2 ** ((60 + np.maximum(pitch, 0) - 69) / 12), 0.0), hop)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    gate = np.repeat((pitch >= 0).astype(np.float64), hop)
    return (amp * gate * np.sin(phase)).astype(np.float32)


def write_corpus(root: Path, works: int = 4, per_work: int = 2) -> Path:
    """``works`` test works of ``per_work`` windows (tone melodies) plus one train window."""
    rng = np.random.default_rng(0)
    frames = MEL.frames
    rows, truths, audios = [], [], []
    for w in range(works):
        for _ in range(per_work):
            notes = rng.integers(0, 12, size=8)
            pitch = np.repeat(notes, frames // 8)
            pitch[rng.random(frames) < 0.05] = -1
            truths.append(pitch)
            audios.append(melody_audio(pitch))
            mood = ("major", "minor")[w % 2]
            rows.append({"id": f"test-{len(rows):06d}", "work": f"synth/work{w}", "source": "synth", "split": "test",
                         "row": len(rows), "shard": 0, "bpm": 90.0 + 10 * w, "key": "C major",
                         "tags": {"genre": "folk", "mood": mood, "tempo": "moderate", "instrument": "piano"},
                         "caption": f"A {mood} folk song at {90 + 10 * w} beats per minute played on piano"})
    rows.append({**rows[0], "id": "train-000000", "split": "train", "row": 0, "work": "synth/train"})
    (root / "truth").mkdir(parents=True)
    (root / "audio").mkdir()
    (root / "mels" / "tiny").mkdir(parents=True)
    (root / "windows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    n = len(truths)
    audio = torch.from_numpy(np.stack(audios))
    with torch.no_grad():
        mels = MelFrontEnd(MEL)(audio)[:, 0]
    index = torch.arange(n, dtype=torch.int64)
    save_file({"melody": torch.from_numpy(np.stack(truths)).to(torch.int8)}, str(root / "truth" / "test.safetensors"))
    save_file({"audio": audio.half(), "row": index}, str(root / "audio" / "test-0.safetensors"))
    save_file({"mel": mels.half(), "row": index}, str(root / "mels" / "tiny" / "test-0.safetensors"))
    return root


@pytest.fixture(autouse=True)
def no_judges_interpreter(monkeypatch, tmp_path: Path) -> None:
    """The evaluation's external judges (musicnn, basic-pitch) find no interpreter unless a test gives one,
    so these tests do not depend on whether this machine has run scripts/setup_judges.sh."""
    monkeypatch.setenv("DITTO_LIVE_JUDGES_PYTHON", str(tmp_path / "no-judges" / "python"))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus")


class LevelVocoder(torch.nn.Module):
    """Test double for the vocoder: each frame's mean mel level sets the amplitude of a 330 Hz sine.
    Cheap and deterministic where Griffin-Lim costs about a second a clip."""

    def __init__(self):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(()))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:  # [B, 1, F, N] -> [B, N * hop]
        level = (mel.mean(dim=(1, 2)) + 1) / 2  # [B, N]
        envelope = level.repeat_interleave(MEL.hop_length, dim=-1)
        t = torch.arange(envelope.shape[-1], device=mel.device) / MEL.sample_rate
        return self.gain * 0.5 * envelope * torch.sin(2 * torch.pi * 330.0 * t)


def narrow_bundle(name: str = "narrow", device: str = "cpu", clap: bool = True) -> Bundle:
    """Random weights at the tiny mel preset; a narrow UNet keeps DITTO's 20-step chain cheap."""
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    vocab = TagVocab.from_names(genre=["folk", "chorale"], mood=["major", "minor"],
                                tempo=["slow", "moderate", "fast", "very fast"], instrument=["piano"])
    base = UNet(NARROW, vocab.sizes).eval()
    student = init_student_from_teacher(base).eval()
    model = ClapModel(ClapConfig(channels=(8, 8), hidden=16, embed_dim=8)).eval() if clap else None
    torch.random.set_rng_state(gen_state)
    meta = {"mel_config": MEL.to_dict(), "tags": vocab.to_dict()}
    return Bundle(name=name, path=Path("<memory>"), base=base, ctm=student, cm=student, clap=model, vocoder=LevelVocoder(),
                  meta={"base": meta, "ctm": meta, "cm": meta})
