"""The file drop: job JSON files dropped into a folder are submitted once, or rejected with a reason."""

from __future__ import annotations

import json
import time

import pytest

from ditto_live.bridges.filedrop import FileDrop, job_id_for


def test_a_settled_job_file_is_submitted_once_and_moved(tmp_path):
    got = []
    drop = FileDrop(tmp_path, lambda job_id, job: got.append((job_id, job)), settle_s=1.0)
    (tmp_path / "my job.json").write_text(json.dumps({"seed": 4}))
    assert drop.scan(now=100.0) == []  # just appeared: might still be being written
    assert drop.scan(now=100.5) == []
    assert drop.scan(now=101.1) == ["my_job"]
    assert got == [("my_job", {"seed": 4})]
    assert (tmp_path / "accepted" / "my job.json").exists() and not (tmp_path / "my job.json").exists()
    assert drop.scan(now=200.0) == [] and len(got) == 1


def test_a_file_still_growing_waits(tmp_path):
    drop = FileDrop(tmp_path, lambda *a: None, settle_s=1.0)
    path = tmp_path / "a.json"
    path.write_text("{")
    drop.scan(now=0.0)
    time.sleep(0.01)
    path.write_text('{"seed": 1}')
    assert drop.scan(now=1.5) == []  # changed since the last scan: the clock restarts
    assert drop.scan(now=2.6) == ["a"]


def test_bad_files_are_rejected_with_a_reason(tmp_path):
    def refuse(job_id, job):
        if "bad" in job:
            raise ValueError("job.bad: unknown key")

    drop = FileDrop(tmp_path, refuse, settle_s=0.0, max_bytes=100)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "refused.json").write_text('{"bad": 1}')
    (tmp_path / "huge.json").write_text(json.dumps({"x": "y" * 200}))
    (tmp_path / ".hidden.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("{}")
    assert drop.scan() == []
    rejected = tmp_path / "rejected"
    assert sorted(p.name for p in rejected.glob("*.json")) == ["broken.json", "huge.json", "list.json", "refused.json"]
    assert "unknown key" in (rejected / "refused.error.txt").read_text()
    assert "JSON object" in (rejected / "list.error.txt").read_text()
    assert (tmp_path / ".hidden.json").exists() and (tmp_path / "notes.txt").exists()


def test_the_watch_thread_picks_up_a_dropped_file(tmp_path):
    got = []
    drop = FileDrop(tmp_path, lambda job_id, job: got.append(job_id), poll_s=0.02, settle_s=0.05)
    drop.start()
    try:
        (tmp_path / ".x.json.tmp").write_text("{}")
        (tmp_path / ".x.json.tmp").rename(tmp_path / "x.json")
        deadline = time.monotonic() + 3
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        drop.stop()
    assert got == ["x"]


def test_job_ids_are_safe_names():
    from pathlib import Path

    assert job_id_for(Path("../we ird;name.json")) == "we_ird_name"


def test_a_symbolic_link_is_rejected_unread_and_its_targets_content_is_never_echoed(tmp_path):
    """Issue 28: the drop folder followed links out of the allowed roots and quoted the target in *.error.txt."""
    drop_dir, secret = tmp_path / "drop", tmp_path / "outside" / "secret.json"
    drop_dir.mkdir()
    secret.parent.mkdir()
    secret.write_text('{"seconds": "TOP-SECRET-VALUE"}')
    (drop_dir / "link.json").symlink_to(secret)
    got = []
    drop = FileDrop(drop_dir, lambda job_id, job: got.append(job), settle_s=0.0)
    assert drop.scan(now=1.0) == [] and got == []
    error = (drop_dir / "rejected" / "link.error.txt").read_text()
    assert "symbolic link" in error and "TOP-SECRET" not in error
    assert secret.read_text().startswith("{")  # the target itself is untouched


def test_a_file_that_is_not_json_is_rejected_without_quoting_it(tmp_path):
    (tmp_path / "bad.json").write_text("password=hunter2 and more")
    drop = FileDrop(tmp_path, lambda *a: None, settle_s=0.0)
    drop.scan(now=1.0)
    error = (tmp_path / "rejected" / "bad.error.txt").read_text()
    assert error.startswith("not JSON") and "hunter2" not in error


def test_a_folder_that_cannot_be_made_raises_on_prepare(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OSError):
        FileDrop(tmp_path / "a-file" / "drop", lambda *a: None).prepare()
