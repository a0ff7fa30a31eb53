"""The server's job requests (``/ditto/job/*``, DESIGN.md §7) and the job intake behind them.

A job request is read and checked at once (``requests.py``: the JSON or a file under the allowed roots,
the client's live controls filling in what the job leaves out; ``budget.py``: the work budget), then
queued (``queue.py``); it gets ``/ditto/job/accepted`` with the job's cancel token, throttled
``/ditto/job/progress`` and exactly one terminal ``/ditto/job/done`` or ``/ditto/job/error``. Job ids are
per client; only the submitter, or a holder of the token sent in ``accepted``, may cancel a job. A payload
too big for one datagram arrives in pieces (``/ditto/job/chunk``, ``chunks.py``). Held by
:class:`ditto_live.server.server.Server`; it is the ``JobIntake`` of the live requests (``live.py``) and
the ``JobEvents`` of the queue's worker.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ditto_live.bridges.osc import Addr
from ditto_live.config import ServerConfig
from ditto_live.generation.jobspec import JobSpec
from ditto_live.generation.models import UNTRAINED_PRESETS
from ditto_live.runner.contract import JobResult, Runner
from ditto_live.server.budget import Budget, check_budget
from ditto_live.server.chunks import ChunkAssembler, ChunkError
from ditto_live.server.clients import ClientTable
from ditto_live.server.outbox import Replies
from ditto_live.server.queue import DuplicateJob, Job, JobQueue, QueueFull
from ditto_live.server.requests import (
    RequestError,
    error_code,
    load_base,
    load_spec,
    short,
    valid_job_id,
)

MAX_SUMMARY_CHARS = 4000  # a done summary longer than this keeps only its short fields
MAX_CHUNKED_TOTAL = 64  # chunked payloads in flight from all clients together


class JobCounts:
    """Per client, its jobs queued or running (a client with one is not forgotten: ``ClientTable``)."""

    def __init__(self) -> None:
        self._of: Counter[Addr] = Counter()  # client -> its jobs queued or running
        self._lock = threading.Lock()  # guards _of (a leaf lock: nothing is called under it)

    def add(self, owner: Addr | None, change: int) -> None:
        """``owner``'s count changes by ``change`` (None: an in-process source, not counted)."""
        if owner is not None:
            with self._lock:
                self._of[owner] += change
                if self._of[owner] <= 0:
                    del self._of[owner]

    def has_jobs(self, owner: Addr) -> bool:
        with self._lock:
            return self._of.get(owner, 0) > 0


class JobRequests:
    """Handlers for the job requests (``handlers()``: address -> handler), the job intake and the queue's
    events; ``queue`` is the job queue (the server starts and stops it)."""

    def __init__(self, config: ServerConfig, runner: Runner, replies: Replies, clients: ClientTable,
                 counts: JobCounts, output_dir: Path, chunk_timeout_s: float | None = None) -> None:
        self.max_payload_bytes = config.max_payload_bytes  # most bytes of a job's JSON (whole or reassembled)
        self.allowed_roots = tuple(str(Path(r).expanduser().resolve()) for r in config.allowed_roots)
        self.budget = Budget(config.max_clip_seconds, config.max_work_steps, config.max_memory_mb)
        self.allow_untrained = config.allow_untrained  # jobs may name random-weight models (benches, tests)
        self._send, self._send_job_error = replies.send, replies.job_error
        self._clients = clients  # each client's live controls fill in its own jobs
        self._counts = counts
        self._chunks: ChunkAssembler[tuple[Addr, str]] = ChunkAssembler(
            config.max_chunks, config.max_payload_bytes,
            config.chunk_timeout_s if chunk_timeout_s is None else chunk_timeout_s,
            max_pending=MAX_CHUNKED_TOTAL, max_per_owner=config.max_chunked)  # keyed by (sender, job_id)
        self._lock = threading.Lock()  # guards _chunks
        self.queue = JobQueue(runner, self, config.queue_size, config.progress_interval_s, output_dir,
                              max_per_owner=config.max_queued_per_client)

    def handlers(self) -> dict[str, Callable[[list[Any], Addr], None]]:
        """The job requests' addresses and their handlers, for the server's dispatch table."""
        return {"/ditto/job/submit": self._submit, "/ditto/job/chunk": self._chunk,
                "/ditto/job/cancel": self._cancel, "/ditto/job/revoke": self._revoke,
                "/ditto/job/status": self._job_status}

    # -- reading jobs (JobIntake) -----------------------------------------------------------------------
    def load_spec(self, text: str, defaults: dict[str, float] | None = None) -> JobSpec:
        """Job JSON (or '@' + path of a JSON file under an allowed root) -> a checked JobSpec.

        ``defaults`` (a client's live controls) fill in cfg, seed and bpm when the job leaves them out
        (a job's own values always win)."""
        return load_spec(text, self.max_payload_bytes, self.allowed_roots, defaults)

    def check_work(self, spec: JobSpec, what: str = "job", slowest_bpm: bool = False) -> None:
        """The one check of what a job, a stream spec or a MIDI take may ask of the engine: the work budget
        (``budget.py``), and no random-weight model unless the server was started to allow them."""
        if spec.model in UNTRAINED_PRESETS and not self.allow_untrained:
            raise RequestError("forbidden", f"{what}.model {spec.model!r} has random weights (for benches and "
                                            "tests): start the server with --allow-untrained to use it")
        check_budget(spec, self.budget, what, slowest_bpm=slowest_bpm)

    def load_base(self, text: str) -> dict[str, Any]:
        """A base job dict from JSON text ('' = {}); '@' + path reads a file under an allowed root."""
        return load_base(text, self.max_payload_bytes, self.allowed_roots)

    def submit_job(self, job_id: str, job: dict[str, Any] | str, reply_to: Addr | None = None) -> int:
        """Validate, budget and queue one job; its queue position. Raises RequestError (with a protocol code).

        ``job`` is a job dict or its JSON text (or '@' + path). Replies (accepted with the job's cancel
        token, progress, the one terminal reply) go to ``reply_to`` and its subscriptions; in-process
        sources without an address (the file drop) pass None and are heard by every subscription.
        """
        if not valid_job_id(job_id):
            raise RequestError("bad_request", "job_id: 1-64 printable characters")
        try:
            spec = self.load_spec(job if isinstance(job, str) else json.dumps(job), self._clients.controls_of(reply_to))
            self.check_work(spec)
        except RequestError:
            raise
        except Exception as exc:
            raise RequestError(*error_code(exc)) from exc
        queued = Job(job_id, spec, reply_to=reply_to)

        def accepted(position: int) -> None:
            self._counts.add(reply_to, +1)
            self._send([reply_to], "/ditto/job/accepted", [job_id, position, queued.token])

        try:
            return self.queue.submit(queued, on_queued=accepted)
        except QueueFull as exc:
            raise RequestError("busy", str(exc)) from exc
        except DuplicateJob as exc:
            raise RequestError("bad_request", str(exc)) from exc

    def submit_text(self, job_id: str, text: str, sender: Addr) -> None:
        """A job request from ``sender``: accepted-then-terminal, or one error reply."""
        try:
            self.submit_job(job_id, text, sender)
        except RequestError as exc:
            self._send_job_error(job_id, [sender], exc.code, str(exc))

    # -- JobEvents (called by the worker) -------------------------------------------------------------
    def progress(self, job: Job, stage: str, step: int, total: int, loss: float) -> None:
        self._send([job.reply_to], "/ditto/job/progress", [job.job_id, stage, step, total, loss])

    def finished(self, job: Job, result: JobResult | None, code: str | None, message: str) -> None:
        self._counts.add(job.reply_to, -1)
        to = [job.reply_to, *job.extra_reply_to]
        if code is not None or result is None:
            self._send_job_error(job.job_id, to, code or "failed", message or "no result")
            return
        self._send(to, "/ditto/job/done", [job.job_id, str(Path(result.wav_path).resolve()),
                                           done_summary(job, result, time.monotonic())])

    # -- the requests -----------------------------------------------------------------------------------
    def _submit(self, args: list[Any], sender: Addr) -> None:
        self.submit_text(args[0], args[1], sender)

    def _chunk(self, args: list[Any], sender: Addr) -> None:
        job_id, index, total, data = args
        if not valid_job_id(job_id):
            self._send_job_error(job_id, [sender], "bad_request", "job_id: 1-64 printable characters")
            return
        try:
            with self._lock:
                payload = self._chunks.add((sender, job_id), index, total, data, owner=sender)
        except ChunkError as exc:
            self._send_job_error(job_id, [sender], exc.code, str(exc))
            return
        if payload is not None:
            self.submit_text(job_id, payload, sender)

    def expire_chunks(self) -> None:
        """Drop the chunked payloads not complete in time; each sender hears which."""
        with self._lock:
            stale = self._chunks.expire()
        for (sender, job_id), got, total in stale:
            self._send_job_error(job_id, [sender], "bad_request",
                                 f"chunked payload incomplete: {got} of {total} chunks within "
                                 f"{self._chunks.timeout_s:g} s of the first")

    def _cancel(self, args: list[Any], sender: Addr) -> None:
        job_id = args[0]
        with self._lock:
            had_chunks = self._chunks.discard((sender, job_id))
        if had_chunks:
            self._send_job_error(job_id, [sender], "cancelled", "cancelled before all chunks arrived")
            return
        if self.queue.cancel(job_id, requester=sender, owner=sender) is None:  # job ids are per client
            self._send_job_error(job_id, [sender], "not_found", f"job {job_id!r:.70} of this client is not queued or "
                                 "running (another client's job: /ditto/job/revoke with its token)")

    def _revoke(self, args: list[Any], sender: Addr) -> None:
        job_id, token = args
        jobs = self.queue.find_any(job_id)
        job = next((j for j in jobs if hmac.compare_digest(j.token.encode(), token.encode("utf-8", "replace"))), None)
        if job is None or self.queue.cancel(job_id, requester=sender, owner=job.reply_to) is None:
            # one answer whether or not another client has a job of this id: revoke is no existence oracle
            self._send_job_error(job_id, [sender], "not_found", f"no queued or running job {job_id!r:.70} with "
                                                                "this token")

    def _job_status(self, args: list[Any], sender: Addr) -> None:
        self._send([sender], "/ditto/job/state", [short(args[0], 64), self.queue.state(args[0], owner=sender)])


def done_summary(job: Job, result: JobResult, now: float) -> str:
    """The summary JSON of ``/ditto/job/done``: the runner's, with the job's id, latency and queue wait, and
    its sidecar's path; over ``MAX_SUMMARY_CHARS`` only its short fields (the sidecar has all)."""
    summary = dict(result.summary)
    summary.update(job_id=job.job_id, latency_s=round(now - job.submitted, 4),
                   queue_wait_s=round((job.started or now) - job.submitted, 4))
    sidecar = Path(result.wav_path).with_suffix(".json")
    if "sidecar" not in summary and sidecar.is_file():
        summary["sidecar"] = str(sidecar)
    text = json.dumps(summary, default=str)
    if len(text) > MAX_SUMMARY_CHARS:  # keep the datagram small: short fields only, the sidecar has all
        kept = {k: v for k, v in summary.items() if len(json.dumps(v, default=str)) < 256}
        text = json.dumps(kept | {"truncated": True}, default=str)
    return text
