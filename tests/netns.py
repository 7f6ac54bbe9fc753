"""A network namespace created by the test itself: a veth link 10.203.N.1 (here) ↔ 10.203.N.2
(inside, N random per namespace so parallel tests never share a subnet), so real ICMP crosses a
real (virtual) link and never leaves this machine. iptables in the namespace can drop echoes to
simulate loss; 10.203.N.77 is on the link but nobody has it, so it never answers."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Link:
    name: str
    host_address: str
    ns_address: str
    silent_address: str


def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"ip netns is unavailable: {probe.stderr.strip()}"
    return None


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, text=True)


@contextmanager
def namespace(drop_every_second_echo: bool = False) -> Iterator[Link]:
    name = f"pp{uuid.uuid4().hex[:8]}"
    subnet = random.randrange(1, 255)
    link = Link(name, f"10.203.{subnet}.1", f"10.203.{subnet}.2", f"10.203.{subnet}.77")
    host_if, ns_if = f"{name}h", f"{name}n"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _run("ip", "link", "set", ns_if, "netns", name)
        _run("ip", "addr", "add", f"{link.host_address}/24", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        _run(
            "ip", "netns", "exec", name, "ip", "addr", "add", f"{link.ns_address}/24", "dev", ns_if
        )
        _run("ip", "netns", "exec", name, "ip", "link", "set", ns_if, "up")
        _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        if drop_every_second_echo:
            _run(
                "ip",
                "netns",
                "exec",
                name,
                "iptables",
                "-A",
                "INPUT",
                "-p",
                "icmp",
                "--icmp-type",
                "echo-request",
                "-m",
                "statistic",
                "--mode",
                "nth",
                "--every",
                "2",
                "--packet",
                "1",
                "-j",
                "DROP",
            )
        yield link
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
