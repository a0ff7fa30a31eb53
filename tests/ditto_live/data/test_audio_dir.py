"""`ditto-live data build --audio-dir --tags`: your own audio through the same pipeline."""

import json

import numpy as np
import soundfile as sf

from ditto_live.cli import main
from ditto_live.engine.train.dataset import MelWindows


def test_audio_dir_build_windows_tags_and_skips(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    t = np.arange(int(13 * 44100)) / 44100
    sf.write(audio / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32), 44100)  # 2 windows
    sf.write(audio / "quiet.wav", np.zeros(7 * 22050, dtype=np.float32), 22050)  # 1 silent window
    (audio / "bad.wav").write_bytes(b"not audio")
    csv = tmp_path / "tags.csv"
    csv.write_text("file,genre,mood,tempo,instrument\n"
                   "tone.wav,drone,major,92,sine\nquiet.wav,ambient,,,\nbad.wav,noise,minor,slow,\n")
    out = tmp_path / "corpus"
    rc = main(["data", "build", "--audio-dir", str(audio), "--tags", str(csv), "--out", str(out),
               "--presets", "tiny", "--no-progress"])
    assert rc == 0
    rows = [json.loads(line) for line in (out / "windows.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {r["work"] for r in rows} == {"user/tone.wav"}
    assert rows[0]["tags"] == {"genre": "drone", "mood": "major", "tempo": "moderate", "instrument": "sine"}
    assert rows[0]["caption"] == "A major drone song at 92 beats per minute played on sine"
    card = json.loads((out / "card.json").read_text())
    assert card["silent"] == 1 and sum(card["failures"].values()) == 1 and card["windows"] == 2
    ds = MelWindows(out, "tiny", rows[0]["split"])
    mel, tags = ds[0]
    # resampled to 22,050 Hz: the loudest band holds 440 Hz
    import librosa

    centres = librosa.mel_frequencies(n_mels=82, fmin=0, fmax=11025)[1:-1]
    band = int(mel[0].mean(dim=1).argmax())
    assert abs(centres[band] - 440) < 60
    assert ds.vocab.decode(tags)["genre"] == "drone"


def test_data_build_refuses_bad_arguments(tmp_path):
    assert main(["data", "build", "--out", str(tmp_path / "x"), "--sources", "nosuch"]) == 2
    assert main(["data", "build", "--out", str(tmp_path / "y"), "--audio-dir", str(tmp_path)]) == 2
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "keep").write_text("x")
    assert main(["data", "build", "--out", str(tmp_path / "z"), "--hours", "0.01"]) == 2
