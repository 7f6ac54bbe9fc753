"""The check engine: many checks at once over one ICMP socket per address family.

Every echo request gets its own (identifier, sequence) pair from a per-engine space, so replies
are matched exactly even with thousands of checks in flight. Raw sockets are sent every echo
reply on the host: a kernel filter on each keeps only its batch's identifiers, and a reply that
still belongs to nobody (a late one) is read and dropped. Sends are
paced by a sorted list of due times and the socket is read with select(), in one thread.

"No reply" (loss) and "could not send" (name that does not resolve, no permission, bad address)
are different outcomes: the latter is an error with nothing sent, never 100 % loss.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import gc
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
_HEADER = struct.Struct("!BBHHH")
RECV_BYTES = 128
# Sends between two reads of the socket: loopback answers within the send itself, so the replies
# of a whole batch would otherwise pile up in the receive buffer.
SEND_CHUNK = 256


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


SO_ATTACH_FILTER = 26  # <asm-generic/socket.h>
_BPF = struct.Struct("HBBI")  # struct sock_filter: code, jt, jf, k


def _identifier_filter(v6: bool, low: int, high: int) -> bytes:
    """A classic BPF program that keeps echo replies whose identifier is within [low, high]
    and drops the rest in the kernel (the way iputils' ping keeps its own). A raw IPv4
    socket's packets begin with the IP header (its length from the first byte, BPF's MSH);
    an ICMPv6 raw socket's with the ICMP header."""
    load = (
        [_BPF.pack(0xB1, 0, 0, 0), _BPF.pack(0x48, 0, 0, 4)]  # X = IP header length; A = id
        if not v6
        else [_BPF.pack(0x28, 0, 0, 4)]  # A = id
    )
    return b"".join(
        [
            *load,
            _BPF.pack(0x35, 0, 2, low),  # A >= low: go on, else drop
            _BPF.pack(0x25, 1, 0, high),  # A > high: drop
            _BPF.pack(0x06, 0, 0, 0xFFFFFFFF),  # keep the packet
            _BPF.pack(0x06, 0, 0, 0),  # drop it
        ]
    )


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
        self._kept: tuple[int, int] | None = None  # identifiers the socket's filter keeps

    def keep_only(self, low: int, high: int) -> None:
        """Have the kernel keep only echo replies with identifiers in [low, high] (a raw
        socket is sent every echo reply on the host: with several workers, most of what it
        read was the others' and woke it for nothing). An unprivileged socket needs none:
        the kernel gives it its own replies only. Where the filter cannot be attached,
        parsing still drops what is not ours."""
        if not self.raw or self._kept == (low, high):
            return
        program = _identifier_filter(self.v6, low, high)
        instructions = ctypes.create_string_buffer(program)
        fprog = struct.pack("HL", len(program) // _BPF.size, ctypes.addressof(instructions))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        except OSError:
            return
        self._kept = (low, high)

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


class _Plan:
    """A batch's echoes as parallel lists (one entry per echo, in send order): cheaper to
    build and to read in the hot loops than an object per echo."""

    __slots__ = (
        "addresses",
        "datas",
        "due",
        "echo",
        "keyed",
        "keys",
        "owner",
        "results",
        "sendtos",
        "timeout",
    )

    def __init__(self) -> None:
        self.results: list[ProbeResult] = []  # by probe index
        self.keyed: dict[Any, ProbeResult] = {}  # by probe key
        self.due: list[float] = []  # monotonic time the echo may go
        self.owner: list[int] = []  # probe index
        self.echo: list[int] = []  # which of its probe's echoes
        self.timeout: list[float] = []
        self.datas: list[bytes] = []
        self.keys: list[int] = []  # family << 32 | identifier << 16 | sequence of its reply
        self.sendtos: list = []  # its socket's sendto
        self.addresses: list[tuple] = []

    def sort(self) -> None:
        """Put the echoes in due order (stable: a probe's echoes keep theirs)."""
        order = sorted(range(len(self.due)), key=self.due.__getitem__)
        for name in ("due", "owner", "echo", "timeout", "datas", "keys", "sendtos", "addresses"):
            column = getattr(self, name)
            setattr(self, name, [column[i] for i in order])

    def settle(
        self, sent_at: list[float], got_at: list[float], wall_offset: float
    ) -> dict[Any, ProbeResult]:
        """Add up sends and replies into the results, in send order (so the first echo sent
        gives first_sent_at, as time.time())."""
        results, owner, echo = self.results, self.owner, self.echo
        for p, sent in enumerate(sent_at):
            if not sent:
                continue
            result = results[owner[p]]
            result.sent += 1
            if result.first_sent_at is None:
                result.first_sent_at = sent + wall_offset
            got = got_at[p]
            if got:
                result.rtts[echo[p]] = round((got - sent) * 1000, 3)
                result.received += 1
        for result in results:
            if result.error and result.sent == 0:
                result.rtts = []
        return self.keyed


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
        self._payloads: dict[int, tuple[bytes, int]] = {}

    def _family(self, family: int) -> _Family:
        if family not in self._families:
            self._families[family] = _Family(family, self.use_raw)
        return self._families[family]

    def close(self) -> None:
        for fam in self._families.values():
            fam.close()
        self._families.clear()

    def run(self, probes: Iterable[Probe]) -> dict[Any, ProbeResult]:
        """Send every probe's echoes (at their times, paced) and wait for the replies.

        The work is split so that almost nothing happens per echo while echoes are in flight:
        a plan builds every packet and its reply key up front (parallel lists, not objects);
        the send loop only stamps and sends; a reply costs a dict pop and a store; the results
        are added up once at the end. Per-echo Python, not the kernel, bounded the old loop.
        The garbage collector is paused meanwhile: a batch allocates thousands of acyclic
        objects, which would otherwise set off full collections of the worker's whole heap.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run(list(probes))
        finally:
            if collecting:
                gc.enable()

    def _run(self, probes: list[Probe]) -> dict[Any, ProbeResult]:
        start, wall_start = time.monotonic(), time.time()
        plan = self._plan(probes, start, wall_start)
        due, timeout_of, keys = plan.due, plan.timeout, plan.keys
        datas, sendtos, addresses = plan.datas, plan.sendtos, plan.addresses
        total = len(due)
        sent_at = [0.0] * total  # monotonic send time; 0.0: not sent (yet, or it failed)
        got_at = [0.0] * total  # monotonic time its reply was read; 0.0: none (yet)
        pending: dict[int, int] = {}  # reply key -> position, for the echoes in flight
        # Expiry: per timeout value, the positions in send order and a cursor over them. A
        # position is settled when its reply came or its deadline passed; `outstanding` counts
        # the sent, unsettled ones, so the batch ends as soon as the last one settles.
        groups: dict[float, list] = {}
        if total and min(timeout_of) == max(timeout_of):
            groups[timeout_of[0]] = [range(total), 0]
        else:
            for position, timeout in enumerate(timeout_of):
                group = groups.get(timeout)
                if group is None:
                    group = groups[timeout] = [[], 0]
                group[0].append(position)
        # Pace sends so a big batch does not overflow socket buffers: the n-th send waits for
        # start + n / max_send_rate.
        slot = 1.0 / self.max_send_rate if self.max_send_rate else 0.0
        position = outstanding = 0
        retry_at = 0.0
        monotonic = time.monotonic
        sockets = [f.sock for f in self._families.values()]
        self._drain()
        while position < total or outstanding:
            now = monotonic()
            # 1. send what is due, at most SEND_CHUNK before reading replies again
            if position < total and now >= retry_at:
                limit = min(total, position + SEND_CHUNK)
                if slot:
                    limit = min(limit, int((now - start) / slot) + 1)
                end = bisect.bisect_right(due, now, position, max(position, limit))
                p = position
                try:
                    while p < end:  # the hot loop: a stamp and a send
                        sent_at[p] = monotonic()
                        sendtos[p](datas[p], addresses[p])
                        p += 1
                except BlockingIOError:
                    sent_at[p] = 0.0
                    retry_at = monotonic() + 0.001  # a full send buffer: a moment later
                except OSError as exc:
                    sent_at[p] = 0.0
                    plan.results[
                        plan.owner[p]
                    ].error = f"Could not send to {addresses[p][0]}: {exc.strerror or exc}"
                    outstanding -= 1  # counted below with the others, but never in flight
                    p += 1
                pending.update(zip(keys[position:p], range(position, p), strict=True))
                outstanding += p - position
                position = p
            # 2. read every reply that is waiting, even with none of ours in flight: a reply
            # left unread (a late one of an earlier batch) would keep select() returning at
            # once, and the wait for a batch's first slot would spin a core
            outstanding -= self._receive(pending, sent_at, got_at, timeout_of)
            # 3. settle the echoes whose time is up (their replies stay missing: lost)
            now = monotonic()
            earliest = None
            for timeout, group in groups.items():
                members, cursor = group
                count = len(members)
                while cursor < count:
                    p = members[cursor]
                    if p >= position:
                        break  # not sent yet
                    if not got_at[p] and sent_at[p]:
                        deadline = sent_at[p] + timeout
                        if deadline >= now:
                            if earliest is None or deadline < earliest:
                                earliest = deadline
                            break
                        outstanding -= 1
                    cursor += 1
                group[1] = cursor
            # 4. sleep until the next send or deadline, or until a reply arrives
            wake = earliest
            if position < total:
                at = max(due[position], start + position * slot, retry_at)
                wake = at if wake is None else min(wake, at)
            delay = (wake if wake is not None else now) - monotonic()
            if sockets and delay > 0:
                select.select(sockets, [], [], min(delay, 0.005))
        return plan.settle(sent_at, got_at, wall_start - start)

    def _plan(self, probes: list[Probe], start: float, wall_start: float) -> _Plan:
        """Results for every probe and every echo's send: due time, packet, reply key. A probe
        that cannot be sent to gets its error and no sends. One pass, in probe order; sorted
        by due time only when some echo is due later than the others."""
        plan = _Plan()
        results, keyed = plan.results, plan.keyed
        due, owner, echo, timeout_of = plan.due, plan.owner, plan.echo, plan.timeout
        datas, keys, sendtos, addresses = plan.datas, plan.keys, plan.sendtos, plan.addresses
        resolve, families, payloads = self.resolver.resolve, self._families, self._payloads
        pack = _HEADER.pack
        identifier, sequence = self._identifier, self._sequence
        in_order = True
        for index, probe in enumerate(probes):
            count = probe.count
            result = ProbeResult(
                key=probe.key, address=None, sent=0, received=0, rtts=[None] * count
            )
            keyed[probe.key] = result
            results.append(result)
            try:
                address = resolve(probe.host)
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                fam = families.get(family) or self._family(family)
            except ResolutionError as exc:
                result.error, result.rtts = str(exc), []
                continue
            except PermissionError:
                result.error = (
                    "No permission to open an ICMP socket: run as root, grant CAP_NET_RAW "
                    "or set net.ipv4.ping_group_range"
                )
                result.rtts = []
                continue
            result.address = address
            target, sendto, v6 = (address, 0), fam.sock.sendto, fam.v6
            size, timeout, kernel_id = probe.payload_size, probe.timeout, fam.kernel_id
            known = payloads.get(size)
            if known is None:
                payload = os.urandom(size)
                known = payloads[size] = (payload, _sum16(payload))
            payload, payload_sum = known
            first = start
            if probe.not_before > wall_start:
                first = start + (probe.not_before - wall_start)
                in_order = False
            if count > 1:
                in_order = False
            for k in range(count):
                # The next (identifier, sequence) of this engine's space: replies match exactly.
                sequence += 1
                if sequence > 0xFFFF:
                    sequence = 1
                    identifier = identifier % 0xFFFF + 1
                ident = identifier if kernel_id is None else kernel_id
                if v6:  # the kernel fills in the ICMPv6 checksum
                    datas.append(pack(ICMP6_ECHO_REQUEST, 0, 0, ident, sequence) + payload)
                else:  # _fold, inlined: the header's words plus the payload's sum
                    checksum = 0x800 + ident + sequence + payload_sum
                    checksum = (checksum >> 16) + (checksum & 0xFFFF)
                    checksum = ~(checksum + (checksum >> 16)) & 0xFFFF
                    datas.append(pack(ICMP_ECHO_REQUEST, 0, checksum, ident, sequence) + payload)
                keys.append(family << 32 | ident << 16 | sequence)
                due.append(first + k * probe.interval)
                owner.append(index)
                echo.append(k)
                timeout_of.append(timeout)
                sendtos.append(sendto)
                addresses.append(target)
        # The socket keeps this batch's identifiers only (one, or two after a rollover; all
        # of them when the rollover wrapped around to 1).
        low, high = self._identifier, identifier
        if high < low:
            low, high = 1, 0xFFFF
        for fam in families.values():
            fam.keep_only(low, high)
        self._identifier, self._sequence = identifier, sequence
        if not in_order:
            plan.sort()
        return plan

    def _drain(self) -> int:
        """Throw away what waits on the sockets. A raw socket is sent a copy of every echo
        reply on the host, so while this process was busy elsewhere (writing a batch's results,
        a rollup fold) the other workers' replies filled its buffer; left there, they would
        crowd out this batch's own replies (dropped by the kernel: false loss). Returns how
        many were dropped."""
        dropped = 0
        for fam in self._families.values():
            recv = fam.sock.recv
            while True:
                try:
                    recv(RECV_BYTES)
                except (BlockingIOError, InterruptedError):
                    break
                dropped += 1
        return dropped

    def _receive(
        self,
        pending: dict[int, int],
        sent_at: list[float],
        got_at: list[float],
        timeout_of: list[float],
    ) -> int:
        """Read every waiting reply; stamp the ones in time. Returns how many it stamped."""
        monotonic, unpack, stamped = time.monotonic, _HEADER.unpack_from, 0
        for fam in self._families.values():
            recv, parse, family = fam.sock.recv, fam.parse, fam.family << 32
            # Raw IPv4 (the usual case, as root) is parsed here, inline; others by fam.parse.
            raw_v4 = fam.raw and not fam.v6
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
                p = pending.pop(family | identifier << 16 | sequence, None)
                if p is None:
                    continue  # late, duplicate, or someone else's
                # Read after its deadline: lost, as if it never came (the expiry counts it).
                if received_at - sent_at[p] <= timeout_of[p]:
                    got_at[p] = received_at
                    stamped += 1
        return stamped
