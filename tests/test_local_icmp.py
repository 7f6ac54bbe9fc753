"""The portal's own pings (icmplib), on loopback only."""

from __future__ import annotations

import socket
from types import SimpleNamespace
from unittest import mock

import pytest

from vendors.adapters.base import Unreachable
from vendors.adapters.local_icmp import LocalIcmpAdapter, ping_host


def test_ipv4_loopback_answers_every_sequence():
    outcome = ping_host("127.0.0.1", count=3, interval=0.05, timeout=1, payload_size=100)
    assert (outcome.sent, outcome.received, outcome.loss_percent) == (3, 3, 0.0)
    assert [r.sequence for r in outcome.replies] == [1, 2, 3]
    assert all(r.size == 108 for r in outcome.replies)  # payload + 8-byte ICMP header
    assert outcome.rtt_min <= outcome.rtt_avg <= outcome.rtt_max


def test_ipv6_loopback_answers():
    outcome = LocalIcmpAdapter().ping(SimpleNamespace(host="::1"), count=2, interval=0.05)
    assert (outcome.sent, outcome.received) == (2, 2)


def test_a_name_that_does_not_resolve_is_an_error_not_loss():
    with (
        mock.patch("socket.getaddrinfo", side_effect=socket.gaierror("no such name")),
        pytest.raises(Unreachable, match="could not be resolved"),
    ):
        ping_host("no-such-host.invalid", count=1)


def test_names_are_resolved_before_pinging():
    fake = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
    with mock.patch("socket.getaddrinfo", return_value=fake):
        outcome = ping_host("gateway.example.test", count=1, timeout=1)
    assert outcome.received == 1 and outcome.raw == {"address": "127.0.0.1"}


def test_count_is_bounded():
    with pytest.raises(ValueError):
        ping_host("127.0.0.1", count=0)


def test_the_portal_s_pings_get_room_for_other_processes_bursts(monkeypatch):
    """Raw ICMP sockets see every reply on the host; a small buffer drops this ping's own
    reply during a monitor engine's burst elsewhere. ping_host asks for a roomy one."""
    import socket

    from vendors.adapters import local_icmp

    sizes: list[int] = []
    real = local_icmp.roomy_receive_buffer

    def spy(sock: socket.socket) -> None:
        real(sock)
        sizes.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    monkeypatch.setattr(local_icmp, "roomy_receive_buffer", spy)
    outcome = local_icmp.ping_host("127.0.0.1", count=1, timeout=1)
    assert outcome.received == 1
    assert len(sizes) == 1 and sizes[0] >= 1 << 20  # the default is about 200 KB
