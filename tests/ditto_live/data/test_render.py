"""FluidSynth rendering plays the pitches it is given."""

import numpy as np
import pytest

from ditto_live.data.arrange import Track
from ditto_live.data.render import Renderer

SR = 22050


def f0_midi(audio: np.ndarray, sr: int) -> float:
    """Median YIN pitch (librosa, not our code) of a steady segment, as a MIDI number."""
    import librosa

    f0 = librosa.yin(audio, fmin=50, fmax=2000, sr=sr, frame_length=2048)
    return float(librosa.hz_to_midi(np.median(f0)))


@pytest.fixture(scope="module")
def renderer():
    r = Renderer(sample_rate=SR)
    yield r


@pytest.mark.parametrize("program", [73, 0])  # flute, acoustic grand piano
def test_known_midi_renders_to_its_pitches(renderer, program):
    pitches = [60, 64, 67, 72, 69]
    notes = tuple((p, 0.6 * i, 0.6 * i + 0.5, 100) for i, p in enumerate(pitches))
    audio = renderer.render([Track(program, False, "voice", notes)], tail_s=0.2)
    assert audio.dtype == np.float32 and np.abs(audio).max() > 0.01
    for i, p in enumerate(pitches):
        seg = audio[int((0.6 * i + 0.1) * SR) : int((0.6 * i + 0.45) * SR)]
        got = f0_midi(seg, SR)
        assert abs(got - p) < 1.0, f"note {p} rendered at {got:.2f}"


def test_render_is_repeatable_and_ends_after_the_tail(renderer):
    notes = ((62, 0.0, 0.4, 90), (65, 0.3, 0.9, 90))
    tracks = [Track(48, False, "voice", notes), Track(0, True, "drums", ((36, 0.0, 0.1, 100),))]
    a = renderer.render(tracks, tail_s=0.5)
    renderer.render([Track(19, False, "voice", ((40, 0.0, 2.0, 127),))])  # something loud in between
    b = renderer.render(tracks, tail_s=0.5)
    assert len(a) == int(round(0.9 * SR)) + SR // 2
    np.testing.assert_array_equal(a, b)


def test_render_stops_at_max_seconds(renderer):
    notes = tuple((60 + i % 5, 0.5 * i, 0.5 * i + 0.4, 90) for i in range(20))
    audio = renderer.render([Track(0, False, "voice", notes)], max_s=2.0)
    assert len(audio) == 2 * SR
