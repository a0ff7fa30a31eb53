"""``ditto-live bench --stream``: a real ``ditto-live serve --stream`` process streaming into a private JACK dummy
device, followed window by window over real OSC (the model-free runner keeps it quick)."""

from __future__ import annotations

import pytest

from ditto_live.bench.streamed import StreamBenchConfig, markdown, run_stream_bench, summarise
from tests.jack import jack_server  # noqa: F401


def _window(k: int, generate_s: float, steps_run: int) -> dict:
    return {"window": k, "generate_s": generate_s, "audio_s": 4.0, "budget_s": 2.8, "steps_run": steps_run,
            "steps": 20, "threads": 1}


def test_a_phase_is_summarised_from_the_windows_after_the_cold_first():
    windows = [_window(0, 9.0, 20), _window(1, 2.0, 18), _window(2, 3.0, 12), _window(4, 1.0, 20)]
    row = summarise("idle", windows, {"windows": 5, "ring_underruns": 0, "late_windows": 0})
    assert row["windows"] == 5 and row["windows_recorded"] == 3  # window 3 was missed between two readings
    assert row["generate_p50_s"] == 2.0 and row["generate_max_s"] == 3.0 and row["rtf_p50"] == 0.5
    assert row["steps_run_min"] == 12 and row["steps_run_mean"] == pytest.approx(16.7) and row["steps"] == [20]


def test_a_streaming_server_is_followed_window_by_window_over_osc(jack_server, tmp_path):  # noqa: F811
    settings = tmp_path / "stream.toml"
    settings.write_text('[audio]\noutput_device = "system"\nbuffer_seconds = 1.0\nstream_overlap = 0.0\n')
    seen: list[int] = []
    cfg = StreamBenchConfig(windows=3, fake_runner=True, out_dir=str(tmp_path / "out"), timeout_s=60,
                            settings=str(settings), co_load=1, co_load_solo_s=0.5)
    report = run_stream_bench(cfg, on_update=lambda r: seen.append(len(r["rows"])))
    assert seen == [1, 2]  # idle, then beside the co-load: each phase kept as it ends
    idle, loaded = report["rows"]
    assert idle["phase"] == "idle" and loaded["phase"] == "co-load 1"
    for row, phase in zip(report["rows"], report["phases"], strict=True):
        assert row["windows"] >= 4 and row["windows_recorded"] >= 1 and isinstance(row["ring_underruns"], int)
        assert [w["window"] for w in phase["windows"]] == sorted({w["window"] for w in phase["windows"]})
        assert phase["server"]["ready_s"] > 0 and phase["stats"]["state"] == "stopped"
    assert idle["co_load_keeps"] is None and 0 < loaded["co_load_keeps"] <= 1.5
    assert "| co-load 1 |" in markdown(report)
