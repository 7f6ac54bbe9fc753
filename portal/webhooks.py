"""Signed outgoing HTTP POSTs, shared by ping callbacks and alert webhooks.

A receiver checks `X-Portal-Signature: sha256=<hex>`, an HMAC-SHA256 of "{timestamp}.{raw body}"
keyed with its shared secret, and refuses stale `X-Portal-Timestamp`s. Destinations in the
portal's own networks are refused unless a setting allows them, so that nobody can use the
portal to probe them."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import requests

SIGNATURE_HEADER = "X-Portal-Signature"
TIMESTAMP_HEADER = "X-Portal-Timestamp"
DEFAULT_TIMEOUT = (5.0, 10.0)  # connect, read

Timeout = float | tuple[float, float]


class Refused(Exception):
    """The destination may not be contacted (its message is a sentence for the user)."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of "{timestamp}.{body}" keyed with the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _is_local_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def check_destination(
    url: str, allow_private: bool, *, noun: str = "callback", resolve: bool = True
) -> None:
    """Raise Refused when `url` points into a loopback, private, link-local or otherwise
    non-global network and `allow_private` is off. `resolve=False` judges only what can be
    judged without DNS (address literals, localhost), e.g. when a form is saved."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    refused = Refused(f"The {noun} URL points into a private or local network")
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        if _is_local_name(host):
            raise refused from None
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise Refused(f"The {noun} host {host} could not be resolved") from exc
        addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    if any(not a.is_global for a in addresses):
        raise refused


def _seconds(timeout: Timeout) -> float:
    return sum(timeout) if isinstance(timeout, tuple) else float(timeout)


def post_signed(
    url: str,
    body: bytes,
    secret: str,
    user_agent: str,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> tuple[bool, int | None, str]:
    """POST a JSON body with the timestamp header and, when there is a secret, the signature.
    Redirects are not followed (a 3xx is a failure: the receiver must give its real URL).
    Returns (ok, HTTP status or None, error sentence or "")."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        TIMESTAMP_HEADER: timestamp,
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        return False, None, f"No answer within {_seconds(timeout):g} s"
    except requests.RequestException as exc:
        return False, None, f"Could not connect ({type(exc).__name__})"
    if 200 <= response.status_code < 300:
        return True, response.status_code, ""
    return False, response.status_code, f"The receiver answered HTTP {response.status_code}"
