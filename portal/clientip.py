"""The address a request came from, for the audit log and login throttling.

Behind reverse proxies REMOTE_ADDR is the proxy, and the client is in X-Forwarded-For. That
header is written by whoever sends the request, so it is believed only as far as a setting
says: TRUSTED_PROXY_COUNT proxies of ours each append the address they received the request
from, and the client is the entry the outermost of them added — counted from the right, so
anything a client puts in the header itself is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's IP address, or None when it cannot be told (no request, garbage)."""
    if request is None:
        return None
    remote = _valid(request.META.get("REMOTE_ADDR"))
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if hops <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < hops:
        # Fewer entries than proxies: the request did not come through all of them (or the
        # setting is wrong). The connection's address is the one thing not forgeable.
        return remote
    return _valid(forwarded[-hops]) or remote
