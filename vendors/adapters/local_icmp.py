"""Pings the portal sends itself, with icmplib: count, interval, timeout, payload size,
IPv4 and IPv6, with every sequence accounted for.

Raw sockets need root or CAP_NET_RAW; otherwise unprivileged ICMP sockets are used, which need
`net.ipv4.ping_group_range` to include the process's group (README).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

from icmplib import ICMPRequest, ICMPv4Socket, ICMPv6Socket, is_ipv6_address
from icmplib.exceptions import ICMPError, ICMPLibError, SocketPermissionError, TimeoutExceeded

from vendors.adapters.base import Adapter, PingOutcome, Reply, Unreachable, VendorRefused

MAX_COUNT = 100


def roomy_receive_buffer(sock: socket.socket) -> None:
    """A raw ICMP socket gets a copy of every ICMP packet the host receives, so a monitor
    engine's burst of thousands of replies in another process can overflow the default
    buffer (about 200 KB) and drop this socket's own reply: false loss. Ask for room."""
    for size in (8 << 20, 4 << 20, 1 << 20):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            return
        except OSError:
            continue


def privileged() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def resolve(host: str, timeout: float = 3.0) -> str:
    """The first address of `host` (an IP stays as it is)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return host
    except OSError:
        pass
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise Unreachable(f"The name {host} could not be resolved") from exc
    finally:
        socket.setdefaulttimeout(previous)
    return infos[0][4][0]


def ping_host(
    host: str,
    *,
    count: int = 3,
    interval: float = 1.0,
    timeout: float = 2.0,
    payload_size: int = 56,
    source: str = "portal",
    on_reply: Callable[[Reply], None] | None = None,
) -> PingOutcome:
    """Ping `host`; `on_reply` sees each echo (answered or lost) as soon as it is known, so a
    page can show replies while the ping runs."""
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1 to {MAX_COUNT}")
    address = resolve(host)
    socket_class = ICMPv6Socket if is_ipv6_address(address) else ICMPv4Socket
    identifier = (os.getpid() ^ int(time.monotonic_ns() // 1000)) & 0xFFFF
    replies: list[Reply] = []
    try:
        with socket_class(privileged=privileged()) as sock:
            roomy_receive_buffer(sock._sock)  # icmplib keeps its socket there
            for sequence in range(1, count + 1):
                if sequence > 1:
                    time.sleep(interval)
                request = ICMPRequest(
                    destination=address, id=identifier, sequence=sequence, payload_size=payload_size
                )
                try:
                    sock.send(request)
                    reply = sock.receive(request, timeout)
                    reply.raise_for_status()
                except (TimeoutExceeded, ICMPError):
                    replies.append(Reply(sequence=sequence, rtt_ms=None))  # nothing received
                else:
                    replies.append(
                        Reply(
                            sequence=sequence,
                            rtt_ms=round((reply.time - request.time) * 1000, 3),
                            size=reply.bytes_received,
                        )
                    )
                if on_reply is not None:
                    on_reply(replies[-1])
    except SocketPermissionError as exc:
        raise VendorRefused(
            "No permission to send ICMP: run as root, grant CAP_NET_RAW, or "
            "set net.ipv4.ping_group_range (see README)"
        ) from exc
    except ICMPLibError as exc:
        raise Unreachable(f"Could not send ICMP to {address}: {type(exc).__name__}") from exc
    received = sum(1 for r in replies if r.rtt_ms is not None)
    return PingOutcome(
        sent=count, received=received, replies=replies, source=source, raw={"address": address}
    )


class LocalIcmpAdapter(Adapter):
    vendor = "local"

    def ping(
        self, device: Any, *, target: str | None = None, count: int | None = None, **options: Any
    ) -> PingOutcome:
        return ping_host(
            target or device.host,
            count=count or 3,
            interval=options.get("interval", 1.0),
            timeout=options.get("timeout", 2.0),
            payload_size=options.get("payload_size", 56),
            on_reply=options.get("on_reply"),
        )
