"""A network namespace created by the test itself: a veth link 10.203.7.1 (here) ↔ 10.203.7.2
(inside), so real ICMP crosses a real (virtual) link and never leaves this machine. iptables in
the namespace can drop echoes to simulate loss."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

HOST_ADDRESS, NS_ADDRESS = "10.203.7.1", "10.203.7.2"
SILENT_ADDRESS = "10.203.7.77"  # on the link, but nobody has it: never answers


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
def namespace(drop_every_second_echo: bool = False) -> Iterator[str]:
    name = f"pp{uuid.uuid4().hex[:8]}"
    host_if, ns_if = f"{name}h", f"{name}n"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _run("ip", "link", "set", ns_if, "netns", name)
        _run("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        _run("ip", "netns", "exec", name, "ip", "addr", "add", f"{NS_ADDRESS}/24", "dev", ns_if)
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
        yield name
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
