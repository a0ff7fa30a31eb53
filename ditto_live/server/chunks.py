"""Reassembly of payloads too big for one OSC datagram (``/ditto/job/chunk``).

A client splits the job JSON into ``total`` strings and sends them as ``(job_id, index, total,
data)`` in any order; when every index has arrived the pieces are joined in order. Limits keep a
client from holding memory: at most ``max_chunks`` pieces, at most ``max_payload_bytes`` in all,
at most ``max_pending`` payloads in flight (``max_per_owner`` of them from one client), and a partial
payload not complete ``timeout_s`` after its first piece is dropped (the caller answers its sender
with an error): resending pieces does not keep a slot alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # what names a payload (the server's: (sender, job_id))


class ChunkError(ValueError):
    """A chunk broke a rule; ``code`` is the protocol error code (bad_request or too_large)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Partial:
    total: int  # pieces announced by the first chunk
    pieces: dict[int, str] = field(default_factory=dict)  # index -> data
    owner: Hashable = None  # the client it belongs to (its quota)
    size: int = 0  # UTF-8 bytes held so far
    created: float = 0.0  # clock time of the first piece


class ChunkAssembler(Generic[K]):
    """Collects chunks per key ``K`` (e.g. (sender, job_id)); thread-compatible, not thread-safe."""

    def __init__(self, max_chunks: int, max_payload_bytes: int, timeout_s: float, max_pending: int = 64,
                 clock: Callable[[], float] = time.monotonic, max_per_owner: int = 4) -> None:
        self.max_chunks = max_chunks  # most pieces one payload may span
        self.max_payload_bytes = max_payload_bytes  # most bytes a reassembled payload may hold
        self.timeout_s = timeout_s  # a partial payload this long after its first piece is dropped
        self.max_pending = max_pending  # most partial payloads held at once
        self.max_per_owner = max_per_owner  # most partial payloads of one owner
        self._clock = clock
        self._partials: dict[K, _Partial] = {}

    def __len__(self) -> int:
        return len(self._partials)

    def __contains__(self, key: object) -> bool:
        return key in self._partials

    def add(self, key: K, index: int, total: int, data: str, owner: Hashable = None) -> str | None:
        """Store one piece of ``owner``'s payload ``key``; the joined payload when it was the last one,
        else None. Raises ChunkError (and forgets the key) when the piece breaks a limit or disagrees
        with earlier pieces."""
        try:
            return self._add(key, index, total, data, owner)
        except ChunkError:
            self._partials.pop(key, None)
            raise

    def _add(self, key: K, index: int, total: int, data: str, owner: Hashable) -> str | None:
        if not 1 <= total <= self.max_chunks:
            code = "too_large" if total > self.max_chunks else "bad_request"
            raise ChunkError(code, f"chunk total {total}: expected 1..{self.max_chunks}")
        if not 0 <= index < total:
            raise ChunkError("bad_request", f"chunk index {index}: expected 0..{total - 1}")
        partial = self._partials.get(key)
        if partial is None:
            if len(self._partials) >= self.max_pending:
                raise ChunkError("busy", f"too many chunked payloads in flight (limit {self.max_pending})")
            if owner is not None and sum(p.owner == owner for p in self._partials.values()) >= self.max_per_owner:
                raise ChunkError("busy", f"at most {self.max_per_owner} chunked payloads in flight per client "
                                         "(server.max_chunked)")
            partial = self._partials[key] = _Partial(total, owner=owner, created=self._clock())
        elif partial.total != total:
            raise ChunkError("bad_request", f"chunk total {total} disagrees with the earlier {partial.total}")
        size = len(data.encode("utf-8"))
        previous = partial.pieces.get(index)
        partial.size += size - (len(previous.encode("utf-8")) if previous is not None else 0)
        if partial.size > self.max_payload_bytes:
            raise ChunkError("too_large", f"chunked payload exceeds {self.max_payload_bytes} bytes")
        partial.pieces[index] = data  # a repeated index (a duplicated datagram) replaces the old piece
        if len(partial.pieces) < partial.total:
            return None
        del self._partials[key]
        return "".join(partial.pieces[i] for i in range(partial.total))

    def discard(self, key: K) -> bool:
        """Forget a partial payload (e.g. its job was cancelled); True if there was one."""
        return self._partials.pop(key, None) is not None

    def expire(self) -> list[tuple[K, int, int]]:
        """Drop payloads begun ``timeout_s`` ago; returns (key, pieces received, total) for each."""
        now = self._clock()
        stale = [k for k, p in self._partials.items() if now - p.created >= self.timeout_s]
        out: list[tuple[K, int, int]] = []
        for key in stale:
            p = self._partials.pop(key)
            out.append((key, len(p.pieces), p.total))
        return out
