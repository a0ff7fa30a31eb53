"""A small OSC-over-UDP transport: encode and decode packets, send and receive datagrams.

Encoding and parsing go through python-osc (its message builder and packet parser); the
transport is our own socket loop so the server controls timeouts, buffer sizes and what happens
to a datagram that does not parse (the server answers it; the transport never drops it
silently). ``MemoryNetwork`` is an in-memory fake with the same interface, for unit tests: its
endpoints still encode and decode real OSC bytes, only the socket is replaced by queues.
"""

from __future__ import annotations

import ipaddress
import logging
import queue
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pythonosc import osc_message
from pythonosc.osc_message_builder import OscMessageBuilder

log = logging.getLogger(__name__)

Addr = tuple[str, int]  # (host, port) of a UDP peer
MAX_DATAGRAM = 65507  # largest UDP payload over IPv4
MAX_MESSAGES = 64  # most messages one datagram may carry (bundles flattened)
MAX_BUNDLE_DEPTH = 4  # most levels of bundles inside bundles
BUNDLE_HEADER = b"#bundle\x00"  # a bundle's first 8 bytes; a 64-bit time tag follows


class OscDecodeError(ValueError):
    """A datagram is not a well-formed OSC packet."""


@dataclass(frozen=True)
class OscMessage:
    address: str  # OSC address pattern, e.g. "/ditto/job/submit"
    args: tuple[Any, ...]  # decoded arguments (str, int, float, bytes, bool, None ...)


@dataclass(frozen=True)
class Datagram:
    data: bytes  # the raw UDP payload
    sender: Addr  # where it came from (replies go back here)


def encode_message(address: str, args: Sequence[Any] = (), types: str | None = None) -> bytes:
    """One OSC message as bytes; ``types`` (e.g. "ssf") forces the tags, else they follow the values."""
    if types is not None and len(types) != len(args):
        raise ValueError(f"{address}: {len(args)} arguments but type tags {types!r}")
    builder = OscMessageBuilder(address=address)
    for i, value in enumerate(args):
        tag = types[i] if types is not None else None
        if tag == "i":
            value = int(value)
        elif tag == "f":
            value = float(value)
        elif tag == "s":
            value = str(value)
        builder.add_arg(value, tag)
    return builder.build().dgram


def decode_packet(data: bytes) -> list[OscMessage]:
    """Every message in a datagram (bundles flattened, time tags ignored); raises OscDecodeError.

    Strict: an empty bundle, a bundle element of size 0 (or not a multiple of 4, or past the end), an
    element that is neither a message nor a bundle, more than MAX_MESSAGES messages or bundles nested
    deeper than MAX_BUNDLE_DEPTH make the whole datagram an error (never a silent drop)."""
    if not data:
        raise OscDecodeError("empty datagram")
    out: list[OscMessage] = []
    _collect(bytes(data), out, 0)
    return out


def _collect(data: bytes, out: list[OscMessage], depth: int) -> None:
    """Append the messages of one packet (a message or a bundle) to ``out``."""
    if data.startswith(b"#bundle"):
        _collect_bundle(data, out, depth)
    elif data.startswith(b"/"):
        try:
            msg = osc_message.OscMessage(data)
            out.append(OscMessage(msg.address, tuple(msg.params)))
        except Exception as exc:  # python-osc raises several types (ParseError, IndexError, struct.error ...)
            raise OscDecodeError(f"not an OSC message: {type(exc).__name__}: {exc}") from None
    else:
        raise OscDecodeError(f"not an OSC packet: starts with {data[:8]!r}, expected '/' or '#bundle'")
    if len(out) > MAX_MESSAGES:
        raise OscDecodeError(f"more than {MAX_MESSAGES} messages in one datagram")


def _collect_bundle(data: bytes, out: list[OscMessage], depth: int) -> None:
    if depth >= MAX_BUNDLE_DEPTH:
        raise OscDecodeError(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if len(data) < 16 or not data.startswith(BUNDLE_HEADER):
        raise OscDecodeError("bundle header truncated (expected '#bundle', a NUL and an 8-byte time tag)")
    if len(data) == 16:
        raise OscDecodeError("empty bundle: it holds no message")
    pos = 16
    while pos < len(data):
        if pos + 4 > len(data):
            raise OscDecodeError(f"bundle element at byte {pos}: its size is truncated")
        size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
        if size <= 0 or size % 4 or pos + 4 + size > len(data):
            raise OscDecodeError(f"bundle element at byte {pos}: size {size} (expected a positive multiple of 4 "
                                 f"within the {len(data) - pos - 4} bytes left)")
        _collect(data[pos + 4:pos + 4 + size], out, depth + 1)
        pos += 4 + size


class OscEndpoint(Protocol):
    """A bound OSC peer: it sends messages to any address and receives raw datagrams."""

    @property
    def address(self) -> Addr: ...

    def send(self, address: str, args: Sequence[Any], to: Addr, types: str | None = None) -> None: ...

    def send_raw(self, data: bytes, to: Addr) -> None: ...

    def receive(self, timeout: float | None) -> Datagram | None:
        """The next datagram, or None when ``timeout`` seconds pass (or the endpoint is closed)."""
        ...

    def close(self) -> None: ...


class UdpEndpoint:
    """OSC over a UDP socket bound to ``host:port`` (port 0 = an ephemeral port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, recv_buffer: int = 1 << 20) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:  # a larger buffer absorbs bursts; the kernel may cap it (net.core.rmem_max)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
        except OSError:
            pass
        if family == socket.AF_INET6:  # "::" serves IPv4 clients too (as ::ffff:a.b.c.d), whatever the OS default
            try:
                self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            except OSError:
                log.warning("cannot make the IPv6 socket dual-stack: IPv4 clients will not reach %s", host)
        self._sock.bind((host, port))
        self._send_lock = threading.Lock()
        self._buf = bytearray(MAX_DATAGRAM + 1)  # reused by receive (one receiving thread per endpoint)
        self._closed = False

    @property
    def address(self) -> Addr:
        host, port = self._sock.getsockname()[:2]
        return host, port

    def send(self, address: str, args: Sequence[Any], to: Addr, types: str | None = None) -> None:
        self.send_raw(encode_message(address, args, types), to)

    def send_raw(self, data: bytes, to: Addr) -> None:
        with self._send_lock:
            try:
                self._sock.sendto(data, to)
            except OSError as exc:  # an unreachable peer must not take the server down
                log.warning("send to %s:%s failed: %s", to[0], to[1], exc)

    def receive(self, timeout: float | None) -> Datagram | None:
        if self._closed:
            return None
        self._sock.settimeout(timeout)
        try:
            n, sender = self._sock.recvfrom_into(self._buf)
        except (TimeoutError, ConnectionResetError, ConnectionRefusedError):
            return None  # (the latter two: an earlier send hit a closed port, reported here on some OSes)
        except OSError:
            if self._closed:
                return None
            raise
        return Datagram(bytes(self._buf[:n]), (sender[0], sender[1]))

    def close(self) -> None:
        self._closed = True
        self._sock.close()


class MemoryNetwork:
    """An in-memory UDP stand-in: endpoints bound on it exchange real OSC bytes through queues."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # the address every endpoint of this network has
        self._boxes: dict[Addr, queue.Queue[Datagram | None]] = {}
        self._next_port = 40000
        self._lock = threading.Lock()

    def endpoint(self, port: int = 0) -> MemoryEndpoint:
        with self._lock:
            if port == 0:
                self._next_port += 1
                port = self._next_port
            addr = (self.host, port)
            if addr in self._boxes:
                raise OSError(f"address in use: {addr}")
            self._boxes[addr] = queue.Queue()
        return MemoryEndpoint(self, addr)

    def deliver(self, data: bytes, sender: Addr, to: Addr) -> None:
        box = self._boxes.get(to)
        if box is not None:  # like UDP: nobody listening, the datagram is lost
            box.put(Datagram(bytes(data), sender))

    def _mailbox(self, addr: Addr) -> queue.Queue[Datagram | None]:
        return self._boxes[addr]

    def _unbind(self, addr: Addr) -> None:
        with self._lock:
            box = self._boxes.pop(addr, None)
        if box is not None:
            box.put(None)  # wake a blocked receive


class MemoryEndpoint:
    """One endpoint of a :class:`MemoryNetwork`; the interface of :class:`UdpEndpoint`."""

    def __init__(self, network: MemoryNetwork, addr: Addr) -> None:
        self._net = network
        self._addr = addr
        self._box = network._mailbox(addr)

    @property
    def address(self) -> Addr:
        return self._addr

    def send(self, address: str, args: Sequence[Any], to: Addr, types: str | None = None) -> None:
        self.send_raw(encode_message(address, args, types), to)

    def send_raw(self, data: bytes, to: Addr) -> None:
        self._net.deliver(data, self._addr, to)

    def receive(self, timeout: float | None) -> Datagram | None:
        try:
            return self._box.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._net._unbind(self._addr)


def parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an address; an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``, what a dual-stack
    socket reports for an IPv4 peer) as the IPv4 address; None when it is not an address."""
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the socket on this machine."""
    if host == "localhost":
        return True
    ip = parse_ip(host)
    return ip is not None and ip.is_loopback


def _unmapped(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4-mapped IPv6 network (``::ffff:127.0.0.1``) as the IPv4 network it stands for: clients are
    matched by their IPv4 address (``parse_ip``), so the mapped form must be too."""
    mapped = net.network_address.ipv4_mapped if isinstance(net, ipaddress.IPv6Network) else None
    if mapped is None or net.prefixlen < 96:
        return net
    return ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}", strict=False)


class AllowList:
    """Client addresses or CIDR networks (e.g. "192.168.1.0/24") a LAN-bound server answers."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks = [_unmapped(ipaddress.ip_network(e, strict=False)) for e in entries]  # ValueError if malformed

    def __contains__(self, host: object) -> bool:
        ip = parse_ip(str(host))
        return ip is not None and any(ip in net for net in self.networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __str__(self) -> str:
        return ", ".join(map(str, self.networks)) or "nobody"
