"""The server's model of its UDP clients (DESIGN.md §8): UDP has no connections, so the server keeps one.

A client is one sender address and port. It owns its live controls (they fill in its own jobs), its
subscriptions (extra reply ports on its own host, at most ``max_subscriptions``), and a status rate
limit. A client silent for ``ttl_s`` with no job queued or running is forgotten with all it owns; when
``max_clients`` are remembered, the longest-idle client without a job makes room for a new one.

:class:`ReplyBudget` bounds what one datagram can make the server send: at most
``max(REPLY_FLOOR_BYTES, REPLY_RATIO x its size)`` bytes to each destination, so the server is no
amplifier for a forged source address.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Addr = tuple[str, int]  # (host, port) of a UDP peer

REPLY_FLOOR_BYTES = 4096  # replies one datagram may always cause, per destination (a status fits)
REPLY_RATIO = 1.0  # beyond the floor, replies per destination are at most this multiple of the datagram


class QuotaExceeded(Exception):
    """A client asked for more than its share (subscriptions); the message names the limit."""


class TokenBucket:
    """``rate`` events a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate  # tokens added a second
        self.burst = burst  # most tokens held
        self._clock = clock
        self._tokens = burst
        self._last = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


@dataclass
class Client:
    addr: Addr  # where its requests come from
    last_seen: float  # clock time of its last datagram
    status: TokenBucket  # its status requests
    controls: dict[str, float] = field(default_factory=dict)  # its live controls (fill in its jobs)
    subscriptions: list[int] = field(default_factory=list)  # extra reply ports on its host, in order
    status_refused: int = 0  # status requests refused since the last notice
    status_noticed: float = -1e9  # clock time of the last "rate limited" notice


class ClientTable:
    """Every client the server remembers; thread-safe (the receive thread and the worker read it)."""

    def __init__(self, max_clients: int, ttl_s: float, max_subscriptions: int, status_per_s: float,
                 has_jobs: Callable[[Addr], bool] = lambda addr: False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_clients = max_clients  # clients remembered at once
        self.ttl_s = ttl_s  # idle time after which a client without jobs is forgotten
        self.max_subscriptions = max_subscriptions  # reply ports per client
        self.status_per_s = status_per_s  # status answers per client and second
        self._has_jobs = has_jobs
        self._clock = clock
        self._clients: OrderedDict[Addr, Client] = OrderedDict()  # least recently seen first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)

    def touch(self, addr: Addr) -> Client:
        """The client at ``addr`` (remembered from now on), marked as just seen."""
        now = self._clock()
        with self._lock:
            client = self._clients.get(addr)
            if client is None:
                self._make_room()
                client = self._clients[addr] = Client(addr, now, TokenBucket(self.status_per_s, 2 * self.status_per_s,
                                                                             self._clock))
            client.last_seen = now
            self._clients.move_to_end(addr)
            return client

    def _make_room(self) -> None:
        while len(self._clients) >= self.max_clients:
            idle = next((a for a in self._clients if not self._has_jobs(a)), None)
            if idle is None:  # every client has a job: the oldest goes anyway (its jobs still reply to it)
                idle = next(iter(self._clients))
            del self._clients[idle]

    def expire(self) -> list[Addr]:
        """Forget clients idle for ``ttl_s`` with no job; their addresses."""
        cutoff = self._clock() - self.ttl_s
        with self._lock:
            gone = [a for a, c in self._clients.items() if c.last_seen < cutoff and not self._has_jobs(a)]
            for a in gone:
                del self._clients[a]
        return gone

    # -- subscriptions -------------------------------------------------------------------------------
    def subscribe(self, addr: Addr, port: int) -> None:
        """Also send ``addr``'s replies to ``port`` on its host; QuotaExceeded past ``max_subscriptions``."""
        client = self.touch(addr)
        with self._lock:
            if port in client.subscriptions:
                return
            if len(client.subscriptions) >= self.max_subscriptions:
                raise QuotaExceeded(f"at most {self.max_subscriptions} subscriptions per client "
                                    "(server.max_subscriptions); unsubscribe one first")
            client.subscriptions.append(port)

    def unsubscribe(self, addr: Addr, port: int) -> None:
        with self._lock:
            client = self._clients.get(addr)
            if client is not None and port in client.subscriptions:
                client.subscriptions.remove(port)

    def subscribers_of(self, addr: Addr) -> list[Addr]:
        """The reply ports ``addr`` subscribed, as addresses on its host."""
        with self._lock:
            client = self._clients.get(addr)
            return [(addr[0], p) for p in client.subscriptions] if client is not None else []

    def all_subscribers(self) -> list[Addr]:
        """Every subscription of every client (stream state, jobs from in-process sources)."""
        with self._lock:
            return [(a[0], p) for a, c in self._clients.items() for p in c.subscriptions]

    # -- live controls --------------------------------------------------------------------------------
    def set_control(self, addr: Addr, name: str, value: float) -> None:
        client = self.touch(addr)
        with self._lock:
            client.controls[name] = value

    def reset_controls(self, addr: Addr, names: tuple[str, ...]) -> None:
        """Forget ``names`` (all when empty) of ``addr``'s live controls."""
        client = self.touch(addr)
        with self._lock:
            for name in names or tuple(client.controls):
                client.controls.pop(name, None)

    def controls_of(self, addr: Addr | None) -> dict[str, float]:
        if addr is None:
            return {}
        with self._lock:
            client = self._clients.get(addr)
            return dict(client.controls) if client is not None else {}

    # -- status rate limit ------------------------------------------------------------------------
    def allow_status(self, addr: Addr) -> tuple[bool, int]:
        """(answer this status request?, requests refused to report now -- 0 = stay quiet).

        A refused client hears one notice a second, with the count refused since the last one."""
        client = self.touch(addr)
        with self._lock:
            if client.status.take():
                return True, 0
            client.status_refused += 1
            now = self._clock()
            if now - client.status_noticed < 1.0:
                return False, 0
            client.status_noticed, refused, client.status_refused = now, client.status_refused, 0
            return False, refused

    def describe(self, addr: Addr) -> dict[str, Any]:
        """What status shows a client about itself."""
        with self._lock:
            client = self._clients.get(addr)
            subs = list(client.subscriptions) if client is not None else []
            controls = dict(client.controls) if client is not None else {}
            return {"address": f"{addr[0]}:{addr[1]}", "subscriptions": subs, "controls": controls,
                    "clients": len(self._clients)}


class ReplyBudget:
    """Bytes one datagram's replies may still take, per destination."""

    def __init__(self, request_bytes: int) -> None:
        self.limit = max(REPLY_FLOOR_BYTES, int(REPLY_RATIO * request_bytes))  # bytes per destination
        self.spent = 0  # bytes per destination so far
        self.withheld = 0  # replies not sent because the budget was spent

    def allow(self, nbytes: int) -> bool:
        if self.spent + nbytes > self.limit:
            self.withheld += 1
            return False
        self.spent += nbytes
        return True
