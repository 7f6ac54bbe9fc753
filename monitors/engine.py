"""The check engine: many checks at once over one ICMP socket per address family.

Every echo request gets its own (identifier, sequence) pair from a per-engine space, so replies
are matched exactly even with thousands of checks in flight; a reply that belongs to nobody (or
to another process's socket, since raw sockets see every ICMP packet) is dropped. Sends are
paced by a sorted list of due times and the socket is read with select(), in one thread.

"No reply" (loss) and "could not send" (name that does not resolve, no permission, bad address)
are different outcomes: the latter is an error with nothing sent, never 100 % loss.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitors.resolver import ResolutionError, Resolver
from vendors.adapters.local_icmp import roomy_receive_buffer

ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
_HEADER = struct.Struct("!BBHHH")
RECV_BYTES = 128


@dataclass
class Probe:
    """One check: `count` echoes to `host`, `interval` apart, each waited for `timeout`."""

    key: Any
    host: str
    count: int = 3
    payload_size: int = 56
    timeout: float = 2.0
    interval: float = 0.2
    # time.time() before which the first echo must not go (a check claimed ahead of its slot
    # waits for it here, so a batch can gather the slots of the next moment); 0: at once.
    not_before: float = 0.0


@dataclass(slots=True)  # slots: thousands are made per batch, and read in the hot loop
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


def _sum16(data: bytes) -> int:
    """The unfolded sum of `data` as big-endian 16-bit words (the Internet checksum's core)."""
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def _checksum(data: bytes) -> int:
    return _fold(_sum16(data))


def _fold(total: int) -> int:
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


SOL_RAW, ICMP_FILTER = 255, 1  # <linux/icmp.h>


def _only_echo_replies(sock: socket.socket) -> None:
    """A raw ICMP socket gets a copy of every ICMP packet the host receives — on loopback our
    own echo requests too. Linux's ICMP_FILTER drops all but echo replies in the kernel: half
    the reads here, and nothing else's traffic to fill the buffer. Elsewhere, parse() filters."""
    blocked = 0xFFFFFFFF & ~(1 << ICMP_ECHO_REPLY)
    with contextlib.suppress(OSError):
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", blocked))


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
        if privileged and not self.v6:
            _only_echo_replies(self.sock)
        self.raw = privileged
        # Unprivileged sockets get their identifier from the kernel (it rewrites it).
        self.kernel_id = None if privileged else self.sock.getsockname()[1]

    def packet(
        self, identifier: int, sequence: int, payload: bytes, payload_sum: int | None = None
    ) -> bytes:
        """An echo request; `payload_sum` (the payload's _sum16, computed once per payload)
        saves summing the same payload for every packet."""
        if self.v6:  # the kernel fills in the ICMPv6 checksum
            return _HEADER.pack(ICMP6_ECHO_REQUEST, 0, 0, identifier, sequence) + payload
        if payload_sum is None:
            payload_sum = _sum16(payload)
        # The header's words: type/code, (checksum 0), identifier, sequence.
        checksum = _fold((ICMP_ECHO_REQUEST << 8) + identifier + sequence + payload_sum)
        return _HEADER.pack(ICMP_ECHO_REQUEST, 0, checksum, identifier, sequence) + payload

    def parse(self, data: bytes) -> tuple[int, int] | None:
        """(identifier, sequence) of an echo reply, else None."""
        offset = (data[0] & 0x0F) * 4 if not self.v6 and self.raw else 0  # the IPv4 header
        if len(data) < offset + 8:
            return None
        kind, _code, _sum, identifier, sequence = _HEADER.unpack_from(data, offset)
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
        max_send_rate: float = 100_000,
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
        by_index: list[ProbeResult] = []
        sends: list[tuple[float, int, int]] = []  # (send at, probe index, packet index)
        targets: list[tuple[_Family, tuple] | None] = []
        start, wall_start = time.monotonic(), time.time()
        resolve, families = self.resolver.resolve, self._families
        for index, probe in enumerate(probes):
            result = ProbeResult(
                key=probe.key, address=None, sent=0, received=0, rtts=[None] * probe.count
            )
            results[probe.key] = result
            by_index.append(result)
            try:
                address = resolve(probe.host)
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                fam = families.get(family) or self._family(family)
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
            first = start
            if probe.not_before > wall_start:
                first = start + (probe.not_before - wall_start)
            if probe.count == 1:  # the usual monitor check: no generator per probe
                sends.append((first, index, 0))
            else:
                sends.extend((first + k * probe.interval, index, k) for k in range(probe.count))
        sends.sort()
        # Pace sends so a big batch does not overflow socket buffers: the n-th send waits for
        # start + n / max_send_rate (applied in the loop, not by copying the list).
        slot = 1.0 / self.max_send_rate if self.max_send_rate else 0.0
        payloads: dict[int, tuple[bytes, int]] = {}  # size -> (payload, its unfolded sum)
        # In flight, by (family << 32 | identifier << 16 | sequence): (probe, packet, sent at).
        pending: dict[int, tuple[int, int, float]] = {}
        # Deadlines per timeout value: sends go out in time order, so each queue stays sorted
        # and expiring is a look at its head (cheaper than one heap for all).
        deadlines: dict[float, deque[tuple[float, int]]] = {}
        position, total, retry_at = 0, len(sends), 0.0
        monotonic, pack = time.monotonic, _HEADER.pack
        wall_offset = wall_start - start  # monotonic -> time.time(), without a call per send
        while position < total or pending:
            now = monotonic()
            # 1. send what is due (the hot loop: kept to plain locals and inlined arithmetic)
            budget = 2000 if now >= retry_at else 0
            while position < total and budget:
                at, index, packet = sends[position]
                if at > now or start + position * slot > now:
                    break
                fam, address = targets[index]
                probe = probes[index]
                # The next (identifier, sequence): _next_pair, inlined in this hot loop.
                sequence = self._sequence = self._sequence + 1
                if sequence > 0xFFFF:
                    sequence = self._sequence = 1
                    self._identifier = self._identifier % 0xFFFF + 1
                identifier = self._identifier if fam.kernel_id is None else fam.kernel_id
                size = probe.payload_size
                known = payloads.get(size)
                if known is None:
                    payload = os.urandom(size)
                    known = payloads[size] = (payload, _sum16(payload))
                payload, payload_sum = known
                if fam.v6:  # the kernel fills in the ICMPv6 checksum
                    data = pack(ICMP6_ECHO_REQUEST, 0, 0, identifier, sequence) + payload
                else:  # _fold, inlined: the header's words plus the payload's sum
                    total_sum = 0x800 + identifier + sequence + payload_sum
                    total_sum = (total_sum >> 16) + (total_sum & 0xFFFF)
                    total_sum += total_sum >> 16
                    checksum = ~total_sum & 0xFFFF
                    data = pack(ICMP_ECHO_REQUEST, 0, checksum, identifier, sequence) + payload
                sent_at = monotonic()
                try:
                    fam.sock.sendto(data, address)
                except BlockingIOError:
                    retry_at = sent_at + 0.001  # a full send buffer: a moment later
                    break
                except OSError as exc:
                    by_index[index].error = f"Could not send to {address[0]}: {exc.strerror or exc}"
                    position += 1
                    continue
                position += 1
                budget -= 1
                result = by_index[index]
                result.sent += 1
                if result.first_sent_at is None:
                    result.first_sent_at = sent_at + wall_offset
                key = fam.family << 32 | identifier << 16 | sequence
                pending[key] = (index, packet, sent_at)
                queue = deadlines.get(probe.timeout)
                if queue is None:
                    queue = deadlines[probe.timeout] = deque()
                queue.append((sent_at + probe.timeout, key))
            # 2. read every reply that is waiting
            self._receive(pending, by_index)
            # 3. forget the packets whose time is up (they stay None: lost)
            now = monotonic()
            earliest = None
            for queue in deadlines.values():
                while queue and queue[0][0] <= now:
                    pending.pop(queue.popleft()[1], None)
                if queue and (earliest is None or queue[0][0] < earliest):
                    earliest = queue[0][0]
            # 4. sleep until the next send or deadline, or until a reply arrives
            wakes = [earliest] if earliest is not None else []
            if position < total:
                wakes.append(max(sends[position][0], start + position * slot, retry_at))
            delay = min(wakes, default=now) - monotonic()
            sockets = [f.sock for f in self._families.values()]
            if sockets and delay > 0:
                select.select(sockets, [], [], min(delay, 0.005))
        for result in results.values():
            if result.error and result.sent == 0:
                result.rtts = []
        return results

    def _receive(self, pending: dict, by_index: list[ProbeResult]) -> None:
        monotonic = time.monotonic
        for fam in self._families.values():
            recv, parse, family = fam.sock.recv, fam.parse, fam.family << 32
            # Raw IPv4 (the usual case, as root) is parsed here, inline; others by fam.parse.
            raw_v4, unpack = fam.raw and not fam.v6, _HEADER.unpack_from
            while True:
                try:
                    # Only the headers matter (≤ 60 bytes of IPv4 header, 8 of ICMP): a small
                    # read spares allocating 64 KB per reply; the rest of the datagram is dropped.
                    data = recv(RECV_BYTES)
                except (BlockingIOError, InterruptedError):
                    break
                received_at = monotonic()
                if raw_v4:
                    offset = (data[0] & 0x0F) * 4
                    if len(data) < offset + 8:
                        continue
                    kind, _code, _sum, identifier, sequence = unpack(data, offset)
                    if kind != ICMP_ECHO_REPLY:
                        continue
                else:
                    pair = parse(data)
                    if pair is None:
                        continue
                    identifier, sequence = pair
                hit = pending.pop(family | identifier << 16 | sequence, None)
                if hit is None:
                    continue  # late, duplicate, or someone else's
                index, packet, sent_at = hit
                result = by_index[index]
                if result.rtts[packet] is None:
                    result.rtts[packet] = round((received_at - sent_at) * 1000, 3)
                    result.received += 1
