"""Result files and path safety: atomic writes, unique names, and the two path checks every
request goes through.

- ``safe_output_path`` makes a fresh, unique file name under the output folder (Live cannot
  overwrite a WAV it references, so nothing is ever overwritten) and proves it stays inside.
- ``resolve_input_path`` resolves a path a request names (symlinks and ``..`` included) and
  refuses it unless it lies under one of the allowed roots.
- ``resample`` brings a result to the DAW's rate before it is written.
- ``write_wav`` / ``write_json`` write to a temporary file in the same folder, flush it to disk,
  then rename it into place, so a reader never sees a half-written file; ``clean_output_dir``
  removes what a killed writer left (temp files, a result WAV whose sidecar never came).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ditto_live.errors import UsageError

_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RESULT_RE = re.compile(r"[A-Za-z0-9_-]{1,64}-\d{8}-\d{6}-[0-9a-f]{8}\.wav")  # what safe_output_path names


class PathForbidden(UsageError):
    """A request named a path outside the folders it may read from or write to."""


def _resolve_root(root: str | os.PathLike[str]) -> Path:
    return Path(root).expanduser().resolve()


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def safe_output_path(output_dir: str | os.PathLike[str], name: str, suffix: str = ".wav") -> Path:
    """A new unique path ``<output_dir>/<name>-<time>-<id><suffix>``; refuses names that could escape.

    ``name`` is letters, digits, ``-`` and ``_`` only; the folder is created if missing.
    """
    if not _NAME_RE.fullmatch(name):
        raise PathForbidden(f"result name {name!r}: letters, digits, - and _ only (at most 64)")
    if not re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix):
        raise PathForbidden(f"result suffix {suffix!r} is not a plain extension")
    root = _resolve_root(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = (root / f"{name}-{stamp}-{uuid.uuid4().hex[:8]}{suffix}").resolve()
    if not _inside(path, root) or path.parent != root:
        raise PathForbidden(f"{path} is outside the output folder {root}")
    if path.exists():  # 32 random bits in the same second: practically never, but never overwrite
        return safe_output_path(output_dir, name, suffix)
    return path


def resolve_input_path(path: str | os.PathLike[str], allowed_roots: Iterable[str | os.PathLike[str]],
                       directory: bool = False, suffixes: tuple[str, ...] = ()) -> Path:
    """The real path of an existing input file (or folder, with ``directory``), if it lies under an
    allowed root; else PathForbidden.

    Symlinks are followed before the check, so a link inside a root pointing outside is refused, and
    so is a hidden file or folder below the root (``~/.ssh/...``, ``~/.bashrc``: secrets live there);
    with ``suffixes`` the name must end in one of them (``.json`` for a job file), checked before the file
    is looked at, so a request cannot learn which other files exist.
    A missing file raises FileNotFoundError (after the checks, so probing forbidden paths says nothing).
    """
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise PathForbidden("empty or invalid path")
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        raise PathForbidden(f"{text!r}: input paths must be absolute (or start with ~)")
    real = candidate.resolve()  # follows every symlink that exists
    roots = [_resolve_root(r) for r in allowed_roots]
    root = next((r for r in roots if _inside(real, r)), None)
    if root is None:
        raise PathForbidden(f"{text!r} is outside the allowed roots ({', '.join(map(str, roots)) or 'none'})")
    if not directory and any(part.startswith(".") for part in real.relative_to(root).parts):
        raise PathForbidden(f"{text!r}: hidden files and folders are not readable by requests")
    if suffixes and real.suffix.lower() not in suffixes:
        raise UsageError(f"{text!r}: expected a {' or '.join(suffixes)} file")
    if not (real.is_dir() if directory else real.is_file()):
        raise FileNotFoundError(f"{text!r}: no such {'folder' if directory else 'file'}")
    return real


def check_output_path(path: str | os.PathLike[str], output_dir: str | os.PathLike[str]) -> Path:
    """``path`` resolved, if it lies under ``output_dir``; else PathForbidden (a runner's result check)."""
    real = Path(path).expanduser().resolve()
    if not _inside(real, _resolve_root(output_dir)):
        raise PathForbidden(f"{path} is outside the output folder {output_dir}")
    return real


def _atomic_replace(path: Path, write: Any) -> Path:
    """Run ``write(tmp_path)`` on a temporary file beside ``path``, fsync, then rename onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are shared files (the DAW, other users)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def resample(audio: np.ndarray, sr: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling to the DAW's rate ([n] at ``sr`` -> [m] at ``sr_out``; 0 or ``sr``: unchanged)."""
    if sr_out in (0, sr):
        return audio
    from scipy.signal import resample_poly

    g = math.gcd(sr, sr_out)
    return resample_poly(audio, sr_out // g, sr // g).astype(np.float32)


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int) -> Path:
    """Write mono float audio ``[samples]`` in [-1, 1] as 16-bit PCM WAV, atomically."""
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(samples)):
        raise FloatingPointError("audio contains NaN or infinity; nothing written")
    samples = np.clip(samples, -1.0, 1.0)
    return _atomic_replace(Path(path), lambda tmp: sf.write(tmp, samples, sample_rate, subtype="PCM_16",
                                                            format="WAV"))


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write JSON (indented, UTF-8), atomically."""
    text = json.dumps(data, indent=1, default=str) + "\n"
    return _atomic_replace(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_result(output_dir: str | os.PathLike[str], name: str, audio: np.ndarray, sample_rate: int,
                 sidecar: dict[str, Any]) -> tuple[Path, Path]:
    """A result WAV with a unique name under ``output_dir`` and its JSON sidecar (same stem)."""
    wav = safe_output_path(output_dir, name, ".wav")
    meta = wav.with_suffix(".json")
    write_wav(wav, audio, sample_rate)
    write_json(meta, {**sidecar, "wav": str(wav), "sample_rate": sample_rate,
                      "seconds": round(len(np.asarray(audio).reshape(-1)) / sample_rate, 4)})
    return wav, meta


def clean_output_dir(output_dir: str | os.PathLike[str], older_than_s: float) -> list[Path]:
    """Remove what a killed writer left in ``output_dir`` (and its ``.stream`` folder): temp files
    (``.*.part``) and result WAVs without their JSON sidecar, untouched for ``older_than_s`` (a younger
    one may belong to a writer still at work). -> the paths removed."""
    root = _resolve_root(output_dir)
    cutoff = time.time() - older_than_s
    removed: list[Path] = []
    for folder in (root, root / ".stream"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            orphan = (path.name.startswith(".") and path.name.endswith(".part")) or (
                _RESULT_RE.fullmatch(path.name) is not None and not path.with_suffix(".json").exists())
            try:
                if orphan and path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except OSError:  # gone meanwhile, or not ours to remove: leave it
                continue
    return removed
