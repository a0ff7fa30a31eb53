"""The server's model of its UDP clients (DESIGN.md §8): UDP has no connections, so the server keeps one.

A client is one sender address and port. It owns its live controls (they fill in its own jobs) and its
subscriptions (extra reply ports on its own host, at most ``max_subscriptions``, each active only once
confirmed: the server sends a code to the subscribed port and someone who received it sends it back).
Status is rate limited per host (a client cannot escape the limit by changing its source port). A
client silent for ``ttl_s`` with no job queued or running is forgotten with all it owns; when
``max_clients`` are remembered, the longest-idle client without a job makes room for a new one.

A host is *confirmed* once it has shown that it receives what the server sends there: it echoed a code
(:class:`Codes`) the server sent to one of its ports. A forged source address cannot do that.
:class:`ReplyBudget` bounds what one datagram can make the server send, to all destinations together:
for an unconfirmed host at most ``UNCONFIRMED_RATIO`` x the datagram's bytes on the wire (headers
counted), so the server is no amplifier for a forged source address; for a confirmed host the larger of
``REPLY_FLOOR_BYTES`` and the datagram's size.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Addr = tuple[str, int]  # (host, port) of a UDP peer

UDP_OVERHEAD = 28  # bytes of IPv4 + UDP header every datagram carries on the wire
REPLY_FLOOR_BYTES = 8192  # confirmed host: wire bytes one datagram's replies may take, all destinations together
REPLY_RATIO = 1.0  # confirmed host: beyond the floor, replies are at most this multiple of the datagram
UNCONFIRMED_RATIO = 2.0  # unconfirmed host: replies' wire bytes are at most this multiple of the request's
CODE_CHARS = 16  # hex characters of a confirmation code (64 bits: not guessable by a forger)
CONFIRM_TIMEOUT_S = 30.0  # a subscription not confirmed this long after it was asked for is dropped
MAX_HOSTS = 1024  # hosts remembered for the status limit and as confirmed (least recently seen forgotten)


class Codes:
    """Confirmation codes: an HMAC of what they confirm under a secret of this server process, so they
    need no table and cannot be derived by a party that does not receive them."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _code(self, text: str) -> str:
        return hmac.new(self._secret, text.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:CODE_CHARS]

    def host(self, host: str) -> str:
        """The code that confirms ``host`` (sent in the short status an unconfirmed host gets)."""
        return self._code(f"host|{host}")

    def subscription(self, addr: Addr, port: int) -> str:
        """The code that confirms ``addr``'s subscription of ``port`` (sent to that port only)."""
        return self._code(f"sub|{addr[0]}|{addr[1]}|{port}")


def same_code(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


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
    controls: dict[str, float] = field(default_factory=dict)  # its live controls (fill in its jobs)
    subscriptions: list[int] = field(default_factory=list)  # confirmed extra reply ports on its host, in order
    pending: dict[int, float] = field(default_factory=dict)  # ports asked for, not yet confirmed -> when asked


@dataclass
class Host:
    """What the server remembers of one host (all its clients together)."""

    status: TokenBucket  # its status requests, all source ports together
    confirmed: bool = False  # it echoed a code sent to it: replies to it are not amplification of a forgery
    status_refused: int = 0  # status requests refused since the last notice
    status_noticed: float = -1e9  # clock time of the last "rate limited" notice


@dataclass(frozen=True)
class Confirmation:
    """What a code sent back confirmed."""

    host: str  # the host now confirmed
    subscriber: Addr | None = None  # the client whose subscription it was (None: the host's own code)
    port: int = 0  # the subscribed port now active (0: none)


class ClientTable:
    """Every client the server remembers; thread-safe (the receive thread and the worker read it)."""

    def __init__(self, max_clients: int, ttl_s: float, max_subscriptions: int, status_per_s: float,
                 has_jobs: Callable[[Addr], bool] = lambda addr: False,
                 clock: Callable[[], float] = time.monotonic,
                 on_forget: Callable[[Client], None] = lambda client: None) -> None:
        self.max_clients = max_clients  # clients remembered at once
        self.ttl_s = ttl_s  # idle time after which a client without jobs is forgotten
        self.max_subscriptions = max_subscriptions  # reply ports per client (confirmed and pending)
        self.status_per_s = status_per_s  # status answers per host and second
        self.codes = Codes()  # confirmation codes of this process
        self._has_jobs = has_jobs
        self._on_forget = on_forget  # told of every client forgotten (idle, or making room), outside the lock
        self._clock = clock
        self._clients: OrderedDict[Addr, Client] = OrderedDict()  # least recently seen first
        self._hosts: OrderedDict[str, Host] = OrderedDict()  # least recently seen first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)

    def touch(self, addr: Addr) -> Client:
        """The client at ``addr`` (remembered from now on), marked as just seen."""
        now = self._clock()
        evicted: list[Client] = []
        with self._lock:
            client = self._clients.get(addr)
            if client is None:
                evicted = self._make_room()
                client = self._clients[addr] = Client(addr, now)
            client.last_seen = now
            self._clients.move_to_end(addr)
            self._host(addr[0])
        for gone in evicted:
            self._on_forget(gone)
        return client

    def _host(self, host: str) -> Host:
        """The record of ``host``, marked as just seen (call holding the lock)."""
        record = self._hosts.get(host)
        if record is None:
            while len(self._hosts) >= MAX_HOSTS:  # the longest unseen unconfirmed host goes first
                oldest = next((h for h, r in self._hosts.items() if not r.confirmed), next(iter(self._hosts)))
                del self._hosts[oldest]
            record = self._hosts[host] = Host(TokenBucket(self.status_per_s, 2 * self.status_per_s, self._clock))
        self._hosts.move_to_end(host)
        return record

    def _make_room(self) -> list[Client]:
        evicted = []
        while len(self._clients) >= self.max_clients:
            idle = next((a for a in self._clients if not self._has_jobs(a)), None)
            if idle is None:  # every client has a job: the oldest goes anyway (its jobs still reply to it)
                idle = next(iter(self._clients))
            evicted.append(self._clients.pop(idle))
        return evicted

    def expire(self) -> list[Addr]:
        """Forget clients idle for ``ttl_s`` with no job, and subscriptions not confirmed within
        CONFIRM_TIMEOUT_S; the addresses of the clients forgotten."""
        now = self._clock()
        cutoff = now - self.ttl_s
        with self._lock:
            gone = [self._clients.pop(a) for a, c in list(self._clients.items())
                    if c.last_seen < cutoff and not self._has_jobs(a)]
            for client in self._clients.values():
                for port in [p for p, asked in client.pending.items() if asked < now - CONFIRM_TIMEOUT_S]:
                    del client.pending[port]
        for client in gone:
            self._on_forget(client)
        return [c.addr for c in gone]

    # -- confirmation -------------------------------------------------------------------------------
    def confirmed(self, host: str) -> bool:
        """Whether ``host`` echoed a code the server sent to it."""
        with self._lock:
            record = self._hosts.get(host)
            return record is not None and record.confirmed

    def confirm_host(self, host: str) -> None:
        with self._lock:
            self._host(host).confirmed = True

    def confirm(self, sender: Addr, code: str) -> Confirmation | None:
        """A code sent back from ``sender``'s host: the host's own, or a pending subscription's of a client
        on that host (which then becomes active). None when it confirms nothing."""
        host = sender[0]
        found: Confirmation | None = None
        with self._lock:
            if same_code(code, self.codes.host(host)):
                found = Confirmation(host)
            for client in (c for a, c in self._clients.items() if a[0] == host and c.pending):
                port = next((p for p in client.pending if same_code(code, self.codes.subscription(client.addr, p))),
                            None)
                if port is not None:
                    del client.pending[port]
                    if port not in client.subscriptions:
                        client.subscriptions.append(port)
                    found = Confirmation(host, client.addr, port)
                    break
            if found is not None:
                self._host(host).confirmed = True
        return found

    # -- subscriptions -------------------------------------------------------------------------------
    def subscribe(self, addr: Addr, port: int) -> str:
        """Ask to also send ``addr``'s replies to ``port`` on its host: the code that confirms it (to send
        to that port only), or "" when it is active already (confirmed before, or ``addr``'s own port on a
        confirmed host).
        QuotaExceeded past ``max_subscriptions`` (confirmed and pending together)."""
        client = self.touch(addr)
        with self._lock:
            if port == addr[1] and self._host(addr[0]).confirmed and port not in client.subscriptions:
                client.subscriptions.append(port)  # its own port, on a host known to receive: nothing to prove
            if port in client.subscriptions:
                return ""
            if port not in client.pending and len(client.subscriptions) + len(client.pending) >= self.max_subscriptions:
                raise QuotaExceeded(f"at most {self.max_subscriptions} subscriptions per client "
                                    "(server.max_subscriptions); unsubscribe one first")
            client.pending[port] = self._clock()
        return self.codes.subscription(addr, port)

    def unsubscribe(self, addr: Addr, port: int) -> None:
        with self._lock:
            client = self._clients.get(addr)
            if client is not None:
                client.pending.pop(port, None)
                if port in client.subscriptions:
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

        The limit is per host, all its source ports together; a refused host hears one notice a second,
        with the count refused since the last one."""
        self.touch(addr)
        with self._lock:
            host = self._host(addr[0])
            if host.status.take():
                return True, 0
            host.status_refused += 1
            now = self._clock()
            if now - host.status_noticed < 1.0:
                return False, 0
            host.status_noticed, refused, host.status_refused = now, host.status_refused, 0
            return False, refused

    def describe(self, addr: Addr) -> dict[str, Any]:
        """What status shows a client about itself."""
        with self._lock:
            client = self._clients.get(addr)
            subs = list(client.subscriptions) if client is not None else []
            pending = sorted(client.pending) if client is not None else []
            controls = dict(client.controls) if client is not None else {}
            return {"address": f"{addr[0]}:{addr[1]}", "subscriptions": subs, "pending": pending,
                    "controls": controls, "clients": len(self._clients)}


class ReplyBudget:
    """Wire bytes (headers counted) one datagram's replies may still take, all destinations together."""

    def __init__(self, request_bytes: int, confirmed: bool = True) -> None:
        wire = request_bytes + UDP_OVERHEAD
        self.confirmed = confirmed  # the sender's host echoed a code (else: could be a forged address)
        self.limit = (max(REPLY_FLOOR_BYTES, int(REPLY_RATIO * wire)) if confirmed
                      else int(UNCONFIRMED_RATIO * wire))  # wire bytes for all replies together
        self.spent = 0  # wire bytes so far
        self.withheld = 0  # replies not sent because the budget was spent

    def room(self, destinations: int) -> int:
        """The largest payload one reply to ``destinations`` may still have."""
        return (self.limit - self.spent) // max(1, destinations) - UDP_OVERHEAD

    def allow(self, nbytes: int, destinations: int = 1, force: bool = False) -> bool:
        """Spend what a reply of ``nbytes`` to ``destinations`` costs, if it fits (or ``force``: a confirmed
        host's job error, already cut to its shortest)."""
        cost = (nbytes + UDP_OVERHEAD) * destinations
        if self.spent + cost > self.limit and not force:
            self.withheld += 1
            return False
        self.spent += cost
        return True
