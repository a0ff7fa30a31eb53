"""The server's replies (DESIGN.md §7): where each goes, and how much one datagram may make the server send.

A reply goes to its sender (or ``reply_port`` on the sender's host) and to the subscriptions that sender
made (``clients.py``); ``None`` in place of a sender stands for an in-process source (the file drop) or a
broadcast (the stream's state): every subscription. A reply is never sent to the server's own address, so
it cannot loop on itself. While the receive thread answers a datagram, every reply is held to that
datagram's ``ReplyBudget``: an error that does not fit is cut short, anything else is withheld.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ditto_live.bridges.osc import Addr, OscEndpoint, encode_message, is_loopback
from ditto_live.protocol import TERMINAL_ERRORS, type_tags
from ditto_live.server.clients import ClientTable, ReplyBudget
from ditto_live.server.requests import printable_utf8, short

WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # bound to these, the server is every address of this machine

Send = Callable[[list[Addr | None], str, list[Any]], None]  # (to, address, args); None in to: every subscription
SendError = Callable[[Addr, str, str], None]  # (sender, code, message) -> /ditto/error
SendJobError = Callable[[str, list[Addr | None], str, str], None]  # (job id, to, code, message) -> /ditto/job/error


@dataclass(frozen=True)
class Replies:
    """The server's ways of answering (each checks the datagram's reply budget)."""

    send: Send  # any reply
    error: SendError  # /ditto/error to one sender
    job_error: SendJobError  # /ditto/job/error for a job


class _InHand(threading.local):
    """Per thread: the reply budget of the datagram the receive thread is answering (None on other threads:
    the worker's progress and terminal replies are not answers to a datagram)."""

    budget: ReplyBudget | None = None


class Outbox:
    """Sends replies through the server's endpoint (given, or set by ``attach``: none is sent before)."""

    def __init__(self, clients: ClientTable, reply_port: int = 0, endpoint: OscEndpoint | None = None) -> None:
        self._clients = clients  # who subscribed to whose replies
        self.reply_port = reply_port  # replies go to this port on the sender's host (0: the sender's own port)
        self._endpoint = endpoint  # the server's socket (None until it listens)
        self._own_hosts: frozenset[str] = frozenset()  # this machine's addresses (set by attach)
        self._in_hand = _InHand()
        self.self_sends_refused = 0  # replies not sent because they were addressed to this server itself

    def attach(self, endpoint: OscEndpoint) -> None:
        """Send through ``endpoint`` (the server's listening socket, started) from now on."""
        self._endpoint = endpoint
        self._own_hosts = own_hosts(endpoint.address[0])

    @property
    def replies(self) -> Replies:
        return Replies(self.send, self.error, self.job_error)

    @contextmanager
    def answering(self, budget: ReplyBudget) -> Iterator[ReplyBudget]:
        """Hold this thread's replies to ``budget`` (one datagram's) until the block ends."""
        self._in_hand.budget = budget
        try:
            yield budget
        finally:
            self._in_hand.budget = None

    def is_self(self, addr: Addr) -> bool:
        """Whether ``addr`` is this server's own socket (any address of this machine when bound to all)."""
        if self._endpoint is None or addr[1] != self._endpoint.address[1]:
            return False
        return addr[0] in self._own_hosts or is_loopback(addr[0])

    def _reply_target(self, sender: Addr) -> Addr:
        return (sender[0], self.reply_port) if self.reply_port else sender

    def targets(self, senders: list[Addr | None]) -> list[Addr]:
        """Each sender (or reply_port on its host) and the subscriptions it made; None stands for an
        in-process source (the file drop) or a broadcast (stream state): every subscription. Never the
        server's own address."""
        out: list[Addr] = []
        for s in senders:
            found = self._clients.all_subscribers() if s is None else [self._reply_target(s),
                                                                       *self._clients.subscribers_of(s)]
            for t in found:
                if self.is_self(t):
                    self.self_sends_refused += 1
                elif t not in out:
                    out.append(t)
        return out

    def send(self, to: list[Addr | None], address: str, args: list[Any], notice: bool = False) -> None:
        """Send one reply to ``to`` (see :meth:`targets`) within the datagram's reply budget: an error that
        does not fit is cut short (down to no message at all); a confirmed host's job error is always sent
        (every job request's one terminal reply, however many a bundle holds). ``notice``: the one note of
        what was withheld, sent over the budget."""
        if self._endpoint is None:
            return
        targets = self.targets(to)
        if not targets:
            return
        args = [printable_utf8(a) for a in args]
        data = encode_message(address, args, type_tags(address))
        budget = self._in_hand.budget
        if budget is not None and not notice and not budget.allow(len(data), len(targets)):
            if address not in TERMINAL_ERRORS:
                return
            budget.withheld -= 1  # an error is cut to fit instead
            data = cut_to_fit(address, args, budget.room(len(targets)))
            if not budget.allow(len(data), len(targets), force=budget.confirmed and address == "/ditto/job/error"):
                return  # (an unconfirmed host's job errors, even cut, over twice its datagram: counted)
        for t in targets:
            self._endpoint.send_raw(data, t)

    def send_to(self, target: Addr, address: str, args: list[Any]) -> None:
        """One reply to one address (not a client's routing: a subscription's code goes to that port only)."""
        if self._endpoint is None or self.is_self(target):
            return
        data = encode_message(address, args, type_tags(address))
        budget = self._in_hand.budget
        if budget is None or budget.allow(len(data)):
            self._endpoint.send_raw(data, target)

    def error(self, sender: Addr, code: str, message: str, notice: bool = False) -> None:
        """``/ditto/error code message`` to one sender."""
        self.send([sender], "/ditto/error", [code, short(message)], notice=notice)

    def job_error(self, job_id: str, to: list[Addr | None], code: str, message: str) -> None:
        """``/ditto/job/error job_id code message``: a job's one terminal error."""
        self.send(to, "/ditto/job/error", [short(job_id, 64), code, short(message)])


def cut_to_fit(address: str, args: list[Any], room: int) -> bytes:
    """An error reply with its message (the last argument) cut to fit ``room`` bytes, or emptied."""
    data = encode_message(address, args, type_tags(address))
    message = str(args[-1])
    while len(data) > room and message:
        message = message[: max(0, min(len(message) - 4, len(message) - (len(data) - room)))]
        data = encode_message(address, [*args[:-1], message], type_tags(address))
    return data


def own_hosts(bound: str) -> frozenset[str]:
    """The addresses a socket bound to ``bound`` answers on: that one, or every address of this machine
    (best effort) when bound to all of them."""
    if bound not in WILDCARD_HOSTS:
        return frozenset({bound})
    hosts = {"127.0.0.1", "::1", "0.0.0.0", "::"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            hosts.add(str(info[4][0]))
    except OSError:
        pass
    return frozenset(hosts)
