"""File drop: a folder watched for job JSON files, for tools that can write a file but not speak OSC.

Drop ``<name>.json`` (a job, see ditto_live/generation/jobspec.py) into the folder; once its size and mtime
stop changing it is read, handed to ``submit(job_id, job)`` and moved to ``accepted/``. A file that
is not a JSON object, is too big, or that ``submit`` refuses goes to ``rejected/`` with a
``<name>.error.txt`` beside it saying why. Write files atomically (to ``.name.json.tmp`` or any name
not ending in ``.json``, then rename) or let the settle time catch a slow writer. Polling keeps this
free of OS-specific watchers. A symbolic link is never followed (it could point anywhere: it is moved to
``rejected/`` unread), and the error text names only the kind of problem, never the file's content.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def job_id_for(path: Path) -> str:
    """A job id from a file name: letters, digits, - and _ only, at most 48 characters."""
    return _ID_CHARS.sub("_", path.stem)[:48] or "job"


class FileDrop:
    """Polls ``folder`` for ``*.json`` jobs and submits each exactly once."""

    def __init__(self, folder: str | Path, submit: Callable[[str, dict[str, Any]], Any],
                 poll_s: float = 0.5, settle_s: float = 0.3, max_bytes: int = 1_000_000):
        self.folder = Path(folder).expanduser()  # the watched folder (created if missing)
        self.submit = submit  # called (job_id, job dict); raising rejects the file
        self.poll_s = poll_s  # seconds between scans
        self.settle_s = settle_s  # a file must be unchanged this long before it is read
        self.max_bytes = max_bytes  # larger files are rejected unread
        self.accepted_dir = self.folder / "accepted"
        self.rejected_dir = self.folder / "rejected"
        self._seen: dict[Path, tuple[int, int, float]] = {}  # path -> (size, mtime_ns, first seen unchanged)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prepare(self) -> None:
        """Make the folder (OSError when it cannot be made or is not a folder)."""
        self.folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Scan in a background thread until :meth:`stop`."""
        self.prepare()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ditto-filedrop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:
                log.exception("file drop scan failed")
            self._stop.wait(self.poll_s)

    def scan(self, now: float | None = None) -> list[str]:
        """One pass: submit every settled job file; returns the ids submitted."""
        now = time.monotonic() if now is None else now
        self.folder.mkdir(parents=True, exist_ok=True)
        submitted = []
        present = set()
        for path in sorted(self.folder.glob("*.json")):
            if path.name.startswith("."):
                continue
            if path.is_symlink():  # never followed: it could point outside the allowed roots
                self._move(path, self.rejected_dir, "refused: a symbolic link (drop the file itself)\n")
                log.warning("file drop refused %s: a symbolic link", path.name)
                continue
            if not path.is_file():
                continue
            present.add(path)
            st = path.stat()
            size, mtime, since = self._seen.get(path, (-1, -1, now))
            if (size, mtime) != (st.st_size, st.st_mtime_ns):
                self._seen[path] = (st.st_size, st.st_mtime_ns, now)
                if self.settle_s > 0:
                    continue
                since = now
            if now - since < self.settle_s:
                continue
            job_id = self._take(path)
            if job_id is not None:
                submitted.append(job_id)
        self._seen = {p: v for p, v in self._seen.items() if p in present and p.exists()}
        return submitted

    def _take(self, path: Path) -> str | None:
        job_id = job_id_for(path)
        try:
            if path.stat().st_size > self.max_bytes:
                raise ValueError(f"file is larger than {self.max_bytes} bytes")
            job = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(job, dict):
                raise ValueError("expected a JSON object")
            self.submit(job_id, job)
        except json.JSONDecodeError as exc:  # its position only: the message would quote the file
            self._move(path, self.rejected_dir, f"not JSON: line {exc.lineno} column {exc.colno}\n")
            log.warning("file drop rejected %s: not JSON", path.name)
            return None
        except Exception as exc:  # refused by the server: keep the file and say why
            self._move(path, self.rejected_dir, f"{type(exc).__name__}: {exc}\n")
            log.warning("file drop rejected %s: %s", path.name, exc)
            return None
        self._move(path, self.accepted_dir)
        log.info("file drop submitted %s as %s", path.name, job_id)
        return job_id

    def _move(self, path: Path, folder: Path, error: str | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / path.name
        if target.exists():  # never overwrite an earlier drop of the same name
            target = folder / f"{path.stem}-{time.time_ns()}{path.suffix}"
        path.replace(target)
        if error is not None:
            target.with_suffix(".error.txt").write_text(error)
        self._seen.pop(path, None)
