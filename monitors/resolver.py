"""Host name resolution with a timeout and a short cache (addresses resolve to themselves)."""

from __future__ import annotations

import ipaddress
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

LITERAL_MEMO = 1_000_000


def _literal(host: str) -> str | None:
    """The canonical form of an IP address literal, or None for a name. inet_pton first: it is
    ten times cheaper than ipaddress, which stays the judge of what it refuses (scoped v6)."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, host.strip("[]")))
        except (OSError, ValueError):
            continue
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class ResolutionError(Exception):
    pass


class Resolver:
    def __init__(self, timeout: float = 2.0, ttl: float = 60.0, negative_ttl: float = 10.0) -> None:
        self.timeout, self.ttl, self.negative_ttl = timeout, ttl, negative_ttl
        self._cache: dict[str, tuple[float, str | None, str]] = {}
        self._literals: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolve")

    def resolve(self, host: str) -> str:
        literal = self._literals.get(host)
        if literal is not None:
            return literal
        literal = _literal(host)
        if literal is not None:
            # Parsing an address costs more than sending its echo: remember the answer (a
            # bounded memo; addresses never change what they resolve to).
            if len(self._literals) >= LITERAL_MEMO:
                self._literals.clear()
            self._literals[host] = literal
            return literal
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached and cached[0] > now:
            if cached[1] is None:
                raise ResolutionError(cached[2])
            return cached[1]
        future = self._pool.submit(socket.getaddrinfo, host, None, 0, socket.SOCK_RAW)
        try:
            infos = future.result(timeout=self.timeout)
            address = infos[0][4][0]
        except FutureTimeout:
            self._remember(host, None, f"Resolving {host} took longer than {self.timeout:g} s")
        except (socket.gaierror, IndexError, OSError):
            self._remember(host, None, f"The name {host} does not resolve")
        else:
            self._remember(host, address, "")
            return address
        raise ResolutionError(self._cache[host][2])

    def _remember(self, host: str, address: str | None, error: str) -> None:
        ttl = self.ttl if address else self.negative_ttl
        self._cache[host] = (time.monotonic() + ttl, address, error)
