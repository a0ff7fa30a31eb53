"""A render worker that cannot start, or dies, ends the build at once with one error naming the cause.

On the GPU machine `import pretty_midi` failed in every render process: the old pool respawned its failing
initializer forever and the build never ended. These tests time out (fail) rather than hang on such code.
"""

import os
import time

import pytest

import ditto_live.data.build as build
import ditto_live.data.render as render
from ditto_live.data.build import BuildConfig, RenderWorkerError, build_corpus
from ditto_live.data.sources import WorkRef

MISSING = "No module named 'importlib_resources'"


def _refs(abc_dir):
    return tuple(WorkRef("essen", str(abc_dir / f), 1) for f in ("scale.abc", "tune_b.abc", "tune_c.abc"))


def _cfg(out, refs, **kw):
    return BuildConfig(
        out=str(out), hours=1.0, seed=5, works=refs, presets=("tiny",), **{"shard_size": 4, **kw}
    )


def _no_corpus(out):
    """Nothing that reads as a corpus: no index, truth or card."""
    return (
        not (out / "windows.jsonl").exists()
        and not list(out.rglob("truth/*"))
        and not (out / "card.md").exists()
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_renderer_that_cannot_be_built_stops_the_build_with_its_cause(
    abc_dir, tmp_path, monkeypatch, workers
):
    def missing_module(*args, **kwargs):
        raise ModuleNotFoundError(MISSING)

    monkeypatch.setattr(render, "Renderer", missing_module)
    t0 = time.time()
    with pytest.raises(
        RenderWorkerError, match=f"render worker failed to start: ModuleNotFoundError: {MISSING}"
    ):
        build_corpus(_cfg(tmp_path, _refs(abc_dir), workers=workers), progress=False)
    assert time.time() - t0 < 10
    assert _no_corpus(tmp_path)


@pytest.mark.timeout(60)
def test_render_processes_that_cannot_start_stop_the_build_with_their_cause(abc_dir, tmp_path, monkeypatch):
    """The parent could render, the spawned processes cannot (here: the SoundFont is not there for them)."""
    monkeypatch.setattr(build, "_start_renderer", lambda *a: None, raising=False)  # the parent's check passes
    missing = tmp_path / "gone.sf2"
    cfg = _cfg(tmp_path / "out", _refs(abc_dir), workers=2, soundfont=str(missing))
    with pytest.raises(
        RenderWorkerError, match=f"render worker failed to start: FileNotFoundError: .*{missing}"
    ):
        build_corpus(cfg, progress=False)
    assert _no_corpus(tmp_path / "out")


def _die(job):
    os._exit(3)


@pytest.mark.timeout(60)
def test_a_render_process_that_dies_stops_the_build(monkeypatch):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    monkeypatch.setattr(build, "_run", _die)
    pool = ProcessPoolExecutor(2, mp_context=mp.get_context("spawn"))
    try:
        with pytest.raises(RenderWorkerError, match="a render worker died"):
            list(build._in_order(pool, range(6), ahead=4))
    finally:
        build._stop(pool)


def test_a_build_that_fails_midway_leaves_no_corpus(abc_dir, tmp_path, monkeypatch):
    calls = []

    def fail_on_second(args):
        calls.append(args)
        if len(calls) == 2:
            raise RenderWorkerError("a render worker died: test")
        return build.process_work(*args)

    monkeypatch.setattr(build, "_run", fail_on_second)
    with pytest.raises(RenderWorkerError):
        build_corpus(_cfg(tmp_path, _refs(abc_dir), shard_size=1), progress=False)
    assert _no_corpus(tmp_path) and list(tmp_path.rglob("audio/*.safetensors"))  # full shards stay, unindexed


@pytest.mark.timeout(60)
def test_the_cli_reports_a_renderer_that_cannot_run_in_one_line(tmp_path, monkeypatch, capfd):
    from ditto_live.cli import main

    def missing_module(*args, **kwargs):
        raise ModuleNotFoundError(MISSING)

    monkeypatch.setattr(render, "Renderer", missing_module)
    code = main(["data", "build", "--out", str(tmp_path / "corpus"), "--hours", "0.01", "--workers", "1",
                 "--no-progress"])
    assert code == 2
    err = capfd.readouterr().err
    assert f"ERROR ditto_live: data build stopped: render worker failed to start: ModuleNotFoundError: {MISSING}" in err
    assert "Traceback" not in err


def test_the_cli_names_the_data_extra_when_music21_is_not_installed(tmp_path, monkeypatch, capfd):
    """Without the ``data`` extra the build stops before it starts, in one line naming what to install (it was
    a ModuleNotFoundError traceback from inside the build)."""
    import importlib.util

    from ditto_live.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "music21" else real(name, *a))
    code = main(["data", "build", "--out", str(tmp_path / "corpus"), "--hours", "0.01", "--no-progress"])
    assert code == 2
    err = capfd.readouterr().err
    assert 'data build renders with music21, not installed here: pip install -e ".[data]"' in err
    assert "Traceback" not in err and not (tmp_path / "corpus").exists()
