"""The check engine: many checks at once over one ICMP socket per address family.

Every echo request gets its own (identifier, sequence) pair from a per-engine space, so replies
are matched exactly even with thousands of checks in flight; a reply that belongs to nobody (or
to another process's socket, since raw sockets see every ICMP packet) is dropped. Sends are
paced by a heap of due times and the socket is read with select(), in one thread.

"No reply" (loss) and "could not send" (name that does not resolve, no permission, bad address)
are different outcomes: the latter is an error with nothing sent, never 100 % loss.
"""

from __future__ import annotations

import heapq
import os
import random
import select
import socket
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitors.resolver import ResolutionError, Resolver
from vendors.adapters.local_icmp import roomy_receive_buffer

ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129


@dataclass
class Probe:
    """One check: `count` echoes to `host`, `interval` apart, each waited for `timeout`."""

    key: Any
    host: str
    count: int = 3
    payload_size: int = 56
    timeout: float = 2.0
    interval: float = 0.2


@dataclass
class ProbeResult:
    key: Any
    address: str | None
    sent: int
    received: int
    rtts: list[float | None] = field(default_factory=list)
    first_sent_at: float | None = None  # time.time() of the first echo
    error: str = ""

    @property
    def loss_percent(self) -> float | None:
        if self.error or not self.sent:
            return None
        return round(100.0 * (self.sent - self.received) / self.sent, 2)

    def _values(self) -> list[float]:
        return [r for r in self.rtts if r is not None]

    @property
    def rtt_min(self) -> float | None:
        return min(self._values(), default=None)

    @property
    def rtt_max(self) -> float | None:
        return max(self._values(), default=None)

    @property
    def rtt_avg(self) -> float | None:
        values = self._values()
        return round(sum(values) / len(values), 3) if values else None

    @property
    def rtt_stddev(self) -> float | None:
        values = self._values()
        if not values:
            return None
        mean = sum(values) / len(values)
        return round((sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5, 3)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class _Family:
    """One socket (IPv4 or IPv6) and how to read and write echoes on it."""

    def __init__(self, family: int, privileged: bool) -> None:
        self.family = family
        self.v6 = family == socket.AF_INET6
        proto = socket.IPPROTO_ICMPV6 if self.v6 else socket.IPPROTO_ICMP
        kind = socket.SOCK_RAW if privileged else socket.SOCK_DGRAM
        self.sock = socket.socket(family, kind, proto)
        self.sock.setblocking(False)
        # Room for bursts of replies: thousands can arrive between two reads.
        roomy_receive_buffer(self.sock)
        self.raw = privileged
        # Unprivileged sockets get their identifier from the kernel (it rewrites it).
        self.kernel_id = None if privileged else self.sock.getsockname()[1]

    def packet(self, identifier: int, sequence: int, payload: bytes) -> bytes:
        kind = ICMP6_ECHO_REQUEST if self.v6 else ICMP_ECHO_REQUEST
        header = struct.pack("!BBHHH", kind, 0, 0, identifier, sequence)
        if self.v6:  # the kernel fills in the ICMPv6 checksum
            return header + payload
        checksum = _checksum(header + payload)
        return struct.pack("!BBHHH", kind, 0, checksum, identifier, sequence) + payload

    def parse(self, data: bytes) -> tuple[int, int] | None:
        """(identifier, sequence) of an echo reply, else None."""
        if not self.v6 and self.raw:
            data = data[(data[0] & 0x0F) * 4 :]  # skip the IPv4 header
        if len(data) < 8:
            return None
        kind, _code, _sum, identifier, sequence = struct.unpack("!BBHHH", data[:8])
        if kind != (ICMP6_ECHO_REPLY if self.v6 else ICMP_ECHO_REPLY):
            return None
        return identifier, sequence

    def close(self) -> None:
        self.sock.close()


def privileged() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class Engine:
    """Run many probes at once. One engine per process; not thread-safe."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        max_send_rate: float = 50_000,
        use_raw: bool | None = None,
    ) -> None:
        self.resolver = resolver or Resolver()
        self.max_send_rate = max_send_rate
        self.use_raw = privileged() if use_raw is None else use_raw
        self._families: dict[int, _Family] = {}
        self._identifier = random.randrange(1, 0xFFFF)  # noqa: S311 (not security-sensitive)
        self._sequence = 0

    def _family(self, family: int) -> _Family:
        if family not in self._families:
            self._families[family] = _Family(family, self.use_raw)
        return self._families[family]

    def close(self) -> None:
        for fam in self._families.values():
            fam.close()
        self._families.clear()

    def _next_pair(self) -> tuple[int, int]:
        self._sequence += 1
        if self._sequence > 0xFFFF:
            self._sequence = 1
            self._identifier = self._identifier % 0xFFFF + 1
        return self._identifier, self._sequence

    def run(self, probes: Iterable[Probe]) -> dict[Any, ProbeResult]:
        probes = list(probes)
        results: dict[Any, ProbeResult] = {}
        schedule: list[tuple[float, int, int]] = []  # (send at, probe index, packet index)
        targets: list[tuple[_Family, tuple] | None] = []
        start = time.monotonic()
        for index, probe in enumerate(probes):
            result = ProbeResult(
                key=probe.key, address=None, sent=0, received=0, rtts=[None] * probe.count
            )
            results[probe.key] = result
            try:
                address = self.resolver.resolve(probe.host)
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                fam = self._family(family)
            except ResolutionError as exc:
                result.error, result.rtts = str(exc), []
                targets.append(None)
                continue
            except PermissionError:
                result.error, result.rtts = (
                    (
                        "No permission to open an ICMP socket: run as root, "
                        "grant CAP_NET_RAW or set "
                        "net.ipv4.ping_group_range"
                    ),
                    [],
                )
                targets.append(None)
                continue
            result.address = address
            targets.append((fam, (address, 0)))
            for packet in range(probe.count):
                heapq.heappush(schedule, (start + packet * probe.interval, index, packet))
        # Pace sends so a big batch does not overflow socket buffers: stagger start times.
        if self.max_send_rate and schedule:
            paced, slot = [], 1.0 / self.max_send_rate
            for n, (at, index, packet) in enumerate(sorted(schedule)):
                paced.append((max(at, start + n * slot), index, packet))
            schedule = paced
            heapq.heapify(schedule)
        pending: dict[tuple[int, int, int], tuple[int, int, float]] = {}  # → probe, packet, t
        deadlines: list[tuple[float, tuple[int, int, int]]] = []
        payloads: dict[int, bytes] = {}
        while schedule or pending:
            now = time.monotonic()
            # 1. send what is due
            sent_now = 0
            while schedule and schedule[0][0] <= now and sent_now < 2000:
                _, index, packet = heapq.heappop(schedule)
                fam, address = targets[index]
                probe = probes[index]
                identifier, sequence = self._next_pair()
                if fam.kernel_id is not None:
                    identifier = fam.kernel_id
                payload = payloads.setdefault(probe.payload_size, os.urandom(probe.payload_size))
                sent_at = time.monotonic()
                try:
                    fam.sock.sendto(fam.packet(identifier, sequence, payload), address)
                except BlockingIOError:
                    # A full send buffer: try again a moment later.
                    heapq.heappush(schedule, (now + 0.001, index, packet))
                    break
                except OSError as exc:
                    result = results[probe.key]
                    result.error = f"Could not send to {address[0]}: {exc.strerror or exc}"
                    continue
                result = results[probe.key]
                result.sent += 1
                if result.first_sent_at is None:
                    result.first_sent_at = time.time()
                key = (fam.family, identifier, sequence)
                pending[key] = (index, packet, sent_at)
                heapq.heappush(deadlines, (sent_at + probe.timeout, key))
                sent_now += 1
            # 2. read every reply that is waiting
            self._receive(pending, probes, results)
            # 3. forget the packets whose time is up (they stay None: lost)
            now = time.monotonic()
            while deadlines and deadlines[0][0] <= now:
                _, key = heapq.heappop(deadlines)
                pending.pop(key, None)
            # 4. sleep until the next send or deadline, or until a reply arrives
            wakes = [heap[0][0] for heap in (schedule, deadlines) if heap]
            delay = min(wakes, default=now) - time.monotonic()
            sockets = [f.sock for f in self._families.values()]
            if sockets and delay > 0:
                select.select(sockets, [], [], min(delay, 0.05))
        for result in results.values():
            if result.error and result.sent == 0:
                result.rtts = []
        return results

    def _receive(self, pending: dict, probes: list[Probe], results: dict) -> None:
        for fam in self._families.values():
            while True:
                try:
                    data = fam.sock.recv(65535)
                except (BlockingIOError, InterruptedError):
                    break
                received_at = time.monotonic()
                pair = fam.parse(data)
                if pair is None:
                    continue
                identifier, sequence = pair
                hit = pending.pop((fam.family, identifier, sequence), None)
                if hit is None:
                    continue  # late, duplicate, or someone else's
                index, packet, sent_at = hit
                result = results[probes[index].key]
                if result.rtts[packet] is None:
                    result.rtts[packet] = round((received_at - sent_at) * 1000, 3)
                    result.received += 1
