"""No request makes the server read outside its allowed roots or write outside its output folder:
traversal, absolute paths, symlinks pointing out, job names with separators. Results are written
atomically under unique names with a JSON sidecar."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf

from ditto_live.results import (
    PathForbidden,
    check_output_path,
    resolve_input_path,
    safe_output_path,
    write_result,
    write_wav,
)

from .conftest import INTENSITY_JOB, job_json


@pytest.fixture
def tree(tmp_path):
    """root/ (allowed) with a file, a link out, a link in; outside/ with a secret."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps(INTENSITY_JOB))
    (root / "job.json").write_text(json.dumps(INTENSITY_JOB))
    (root / "link_out.json").symlink_to(outside / "secret.json")
    (root / "link_in.json").symlink_to(root / "job.json")
    return root, outside


def test_resolve_input_path_accepts_files_under_a_root_and_follows_links_inside(tree):
    root, _ = tree
    assert resolve_input_path(root / "job.json", [root]) == (root / "job.json").resolve()
    assert resolve_input_path(root / "link_in.json", [root]) == (root / "job.json").resolve()


@pytest.mark.parametrize("name", ["../outside/secret.json", "sub/../../outside/secret.json", "link_out.json"])
def test_resolve_input_path_refuses_traversal_and_links_out(tree, name):
    root, _ = tree
    with pytest.raises(PathForbidden):
        resolve_input_path(f"{root}/{name}", [root])


@pytest.mark.parametrize("path", ["", "job.json", "./job.json", "/etc/passwd", "a\x00b"])
def test_resolve_input_path_refuses_relative_empty_and_outside_paths(tree, path):
    root, _ = tree
    with pytest.raises(PathForbidden):
        resolve_input_path(path, [root])


def test_resolve_input_path_reports_a_missing_file_under_a_root_as_not_found(tree):
    root, _ = tree
    with pytest.raises(FileNotFoundError):
        resolve_input_path(root / "nope.json", [root])
    with pytest.raises(PathForbidden):  # outside the roots: refused before existence is checked
        resolve_input_path(tree[1] / "nope.json", [root])


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 65, "a\\b", "..", "ok name"])
def test_safe_output_path_refuses_names_that_could_escape(tmp_path, name):
    with pytest.raises(PathForbidden):
        safe_output_path(tmp_path, name)


def test_safe_output_paths_are_unique_and_inside(tmp_path):
    paths = {safe_output_path(tmp_path / "o", "clip") for _ in range(200)}
    assert len(paths) == 200 and all(p.parent == (tmp_path / "o").resolve() for p in paths)
    with pytest.raises(PathForbidden):
        check_output_path(tmp_path / "o" / ".." / "x.wav", tmp_path / "o")


def test_write_result_is_atomic_with_a_sidecar_and_never_overwrites(tmp_path):
    audio = 0.5 * np.sin(np.linspace(0, 100, 2205)).astype(np.float32)
    wav1, meta1 = write_result(tmp_path, "clip", audio, 22050, {"seed": 1})
    wav2, _ = write_result(tmp_path, "clip", audio, 22050, {"seed": 2})
    assert wav1 != wav2 and wav1.is_file() and wav2.is_file()
    data, sr = sf.read(wav1)
    assert sr == 22050 and np.allclose(data, audio, atol=1e-4)
    assert json.loads(meta1.read_text())["seed"] == 1 and json.loads(meta1.read_text())["wav"] == str(wav1)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_a_failed_write_leaves_neither_file_nor_temp(tmp_path):
    with pytest.raises(FloatingPointError):
        write_wav(tmp_path / "x.wav", np.array([0.0, np.nan]), 22050)
    assert list(tmp_path.iterdir()) == []


# -- through the server ---------------------------------------------------------------------------------
def test_an_at_path_spec_under_an_allowed_root_runs(make_server, client_for, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(job_json(name="fromfile"))
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "at", f"@{spec}")
    done = client.terminal("at")
    assert done.address == "/ditto/job/done" and "fromfile-" in done.args[1]


@pytest.mark.parametrize("target", ["/etc/passwd", "{tmp}/../escape.json", "{outside}/secret.json",
                                    "{tmp}/link_out.json"])
def test_an_at_path_spec_outside_the_roots_is_forbidden(target, make_server, client_for, tmp_path,
                                                        tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.json").write_text(job_json())
    (tmp_path / "link_out.json").symlink_to(outside / "secret.json")
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "trav", "@" + target.format(tmp=tmp_path, outside=outside))
    err = client.terminal("trav")
    assert err.address == "/ditto/job/error" and err.args[1] == "forbidden", err


@pytest.mark.parametrize("control", [
    {"type": "inpaint", "reference": "/etc/passwd", "start": 1, "end": 2},
    {"type": "outpaint", "reference": "{tmp}/../../../etc/hostname"},
    {"type": "melody", "midi": "/etc/passwd"},
    {"type": "inpaint", "reference": "relative/take.wav", "start": 1, "end": 2},
])
def test_input_files_named_in_controls_must_be_under_the_roots(control, make_server, client_for, tmp_path):
    control = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in control.items()}
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "ctl", json.dumps({"controls": [control]}))
    assert client.terminal("ctl").args[1] == "forbidden"


def test_a_model_path_outside_the_roots_is_forbidden_and_a_missing_input_is_not_found(make_server, client_for,
                                                                                      tmp_path):
    server = make_server()
    client = client_for(server)
    client.send("/ditto/job/submit", "mdl", job_json(model="/usr/lib/model"))
    assert client.terminal("mdl").args[1] == "forbidden"
    client.send("/ditto/job/submit", "gone", json.dumps(
        {"controls": [{"type": "outpaint", "reference": str(tmp_path / "missing.wav")}]}))
    assert client.terminal("gone").args[1] == "not_found"


def test_the_server_resolves_input_paths_before_the_runner_sees_them(make_server, tmp_path):
    (tmp_path / "take.wav").write_bytes(b"RIFF")
    os.symlink(tmp_path / "take.wav", tmp_path / "alias.wav")
    server = make_server()
    spec = server.load_spec(json.dumps({"controls": [{"type": "outpaint", "reference": str(tmp_path / "alias.wav")}]}))
    assert spec.controls[0].params["reference"] == str((tmp_path / "take.wav").resolve())


def test_a_model_folder_under_a_root_is_accepted_and_resolved(make_server, tmp_path):
    (tmp_path / "bundle" / "ctm").mkdir(parents=True)
    server = make_server()
    spec = server.load_spec(job_json(model=str(tmp_path / "bundle" / ".." / "bundle")))
    assert spec.model == str((tmp_path / "bundle").resolve())
    assert server.load_spec(job_json(model="tiny-untrained")).model == "tiny-untrained"  # a name, not a path
