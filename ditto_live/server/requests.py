"""Reading what a request asks for, before the server queues it (``ditto_live/server/server.py``).

A job arrives as JSON text, or as '@' + the path of a JSON file under an allowed root; either is
held to the payload limit. Every file the job would read (a MIDI melody, an outpaint reference, a
model folder) is resolved under the allowed roots, so no request reads outside them. Anything that
goes wrong becomes a :class:`RequestError` carrying a protocol error code.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ditto_live.errors import UsageError
from ditto_live.generation.jobspec import JobSpec, parse_job
from ditto_live.results import PathForbidden, resolve_input_path

MAX_MESSAGE_CHARS = 1000  # longest error message sent (datagrams stay small)
INPUT_SUFFIXES: dict[str, tuple[str, ...]] = {  # control keys that name files the job reads -> their kinds
    "midi": (".mid", ".midi"),
    "reference": (".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg"),
}
JOB_FILE_SUFFIXES = (".json",)  # what an '@' job file may be
LIVE_JOB_DEFAULTS = ("cfg", "seed", "bpm")  # live controls that fill in a job's missing keys


class RequestError(Exception):
    """A request cannot be served; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def valid_job_id(job_id: str) -> bool:
    return 0 < len(job_id) <= 64 and job_id.isprintable()


def short(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable_utf8(value: Any) -> Any:
    """A string that OSC can carry (lone surrogates from a JSON escape become ``\\udXXX``); others as is."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(value, str) else value


def error_code(exc: Exception) -> tuple[str, str]:
    """(protocol error code, message) for an exception raised while reading a request."""
    if isinstance(exc, RequestError):
        return exc.code, str(exc)
    if isinstance(exc, PathForbidden):
        return "forbidden", str(exc)
    if isinstance(exc, FileNotFoundError):
        return "not_found", str(exc)
    if isinstance(exc, UsageError | ValueError | OSError):
        return "bad_request", str(exc)
    return "failed", f"{type(exc).__name__}: {exc}"


def input_path(text: str, allowed_roots: tuple[str, ...], directory: bool = False,
               suffixes: tuple[str, ...] = ()) -> Path:
    """``text`` resolved under the allowed roots (``resolve_input_path``), refusing first, with one message,
    what would tell a request about the machine: ``~user`` (which users exist) and, for a folder, any
    hidden part below its root."""
    if text.startswith("~") and not (text == "~" or text.startswith("~/")):
        raise PathForbidden(f"{text!r:.80}: only ~ (this user's home) may start a path")
    real = resolve_input_path(text, allowed_roots, directory=directory, suffixes=suffixes)
    if directory:
        for root in (Path(r).expanduser().resolve() for r in allowed_roots):
            if real.is_relative_to(root) and any(p.startswith(".") for p in real.relative_to(root).parts):
                raise PathForbidden(f"{text!r:.80}: hidden files and folders are not readable by requests")
    return real


def read_json(text: str, max_bytes: int, allowed_roots: tuple[str, ...]) -> Any:
    """JSON text, or '@' + path of a JSON file under an allowed root, of at most ``max_bytes``."""
    if len(text.encode("utf-8", "replace")) > max_bytes:
        raise RequestError("too_large", f"spec exceeds {max_bytes} bytes")
    if text.startswith("@"):
        path = input_path(text[1:], allowed_roots, suffixes=JOB_FILE_SUFFIXES)
        if path.stat().st_size > max_bytes:
            raise RequestError("too_large", f"{path} exceeds {max_bytes} bytes")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RequestError("bad_request", f"spec is not JSON: {exc}") from None


def with_live_defaults(raw: Any, live_controls: Mapping[str, float]) -> Any:
    """The live controls cfg, seed and bpm fill in those keys of a job dict that leaves them out
    (a job's own values always win)."""
    if isinstance(raw, dict):
        live = dict(live_controls)
        for key in LIVE_JOB_DEFAULTS:
            if key in live and key not in raw:
                raw[key] = int(live[key]) if key == "seed" else float(live[key])
    return raw


def check_inputs(spec: JobSpec, allowed_roots: tuple[str, ...]) -> JobSpec:
    """``spec`` with every file it would read resolved under the allowed roots (else PathForbidden)."""
    controls = []
    for c in spec.controls:
        params = dict(c.params)
        for key, suffixes in INPUT_SUFFIXES.items():
            if key in params:
                if not isinstance(params[key], str):
                    raise RequestError("bad_request", f"{c.type}.{key}: expected a path")
                params[key] = str(input_path(params[key], allowed_roots, suffixes=suffixes))
        controls.append(dataclasses.replace(c, params=params))
    model = spec.model
    if "/" in model or "\\" in model or model.startswith(("~", ".")):
        model = str(input_path(model, allowed_roots, directory=True))
    return dataclasses.replace(spec, controls=tuple(controls), model=model)


def load_spec(text: str, max_bytes: int, allowed_roots: tuple[str, ...],
              live_controls: Mapping[str, float] | None = None) -> JobSpec:
    """Job JSON (or '@' + path) -> a checked JobSpec; with ``live_controls``, they fill in cfg, seed
    and bpm where the job leaves them out."""
    raw = read_json(text, max_bytes, allowed_roots)
    if live_controls is not None:
        raw = with_live_defaults(raw, live_controls)
    return check_inputs(parse_job(raw), allowed_roots)


def load_base(text: str, max_bytes: int, allowed_roots: tuple[str, ...]) -> dict[str, Any]:
    """A base job dict from JSON text ('' = {}) or '@' + path; any failure is a RequestError."""
    try:
        raw = read_json(text, max_bytes, allowed_roots) if text.strip() else {}
    except RequestError:
        raise
    except Exception as exc:
        raise RequestError(*error_code(exc)) from exc
    if not isinstance(raw, dict):
        raise RequestError("bad_request", "spec: expected a JSON object")
    return raw
