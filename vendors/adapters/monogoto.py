"""Monogoto console API (seed: monogoto-thing-ping.md; contracts: VENDOR-CONTRACTS.md).

Login returns a token and the CustomerId; requests carry `Authorization: Bearer <token>` and
`apikey: <CustomerId>`. The token's lifetime is undocumented, so it is kept (encrypted, with
the credential, so every worker shares it) and a 401 triggers one fresh login and one retry.
Errors come with empty bodies: the status code is all there is to go on.
"""

from __future__ import annotations

import re
from typing import Any

from vendors.adapters.base import (
    Adapter,
    AuthenticationFailed,
    ConnectionResult,
    NotFound,
    PingOutcome,
    RateLimited,
    Reply,
    UnreadableResponse,
    VendorHTTP,
    VendorRefused,
    retry_after_seconds,
)
from vendors.models import Credential

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _number(value: Any) -> float | None:
    """ "82ms" → 82.0, "0%" → 0.0, 63 → 63.0; None for anything without a number."""
    if isinstance(value, int | float):
        return float(value)
    match = _NUMBER.search(str(value or ""))
    return float(match.group()) if match else None


def parse_ping(packets: Any, source: str = "monogoto") -> PingOutcome:
    """The seed's list of per-packet objects with string values and cumulative counters."""
    if not isinstance(packets, list) or not all(isinstance(p, dict) for p in packets):
        raise UnreadableResponse("Monogoto's ping answer is not a list of packets")
    replies: list[Reply] = []
    sent = received = 0
    for index, packet in enumerate(packets, start=1):
        sequence = int(_number(packet.get("sent")) or index)
        rtt = _number(packet.get("time"))
        cumulative = _number(packet.get("received"))
        # A packet got its reply when the cumulative counter moved (or, without a counter,
        # when it carries a time).
        now_received = received + (rtt is not None) if cumulative is None else int(cumulative)
        got_reply = now_received > received
        received = now_received
        sent = max(sent, sequence)
        size, ttl = _number(packet.get("size")), _number(packet.get("ttl"))
        replies.append(
            Reply(
                sequence=sequence,
                rtt_ms=rtt if got_reply else None,
                size=int(size) if size is not None else None,
                ttl=int(ttl) if ttl is not None and got_reply else None,
            )
        )
    return PingOutcome(sent=sent, received=received, replies=replies, source=source, raw=packets)


class MonogotoAdapter(Adapter):
    vendor = "monogoto"

    def __init__(self, credential: Credential) -> None:
        self.credential = credential
        self.http = VendorHTTP(credential.base_url, "Monogoto")

    # --- session ----------------------------------------------------------------------------

    def login(self) -> str:
        secrets = self.credential.secrets
        if not secrets.get("username") or not secrets.get("password"):
            raise AuthenticationFailed("The Monogoto credential has no username or password")
        response, _ = self.http.request(
            "POST", "/Auth", json={"UserName": secrets["username"], "Password": secrets["password"]}
        )
        if response.status_code in (400, 401, 403):
            raise AuthenticationFailed(
                "Monogoto refused the username or password", status=response.status_code
            )
        self._raise_for_status(response)
        body = VendorHTTP.json(response, "Monogoto")
        token = body.get("token") if isinstance(body, dict) else None
        if not token:
            raise UnreadableResponse("Monogoto's login answer has no token")
        changes = {"token": token}
        if body.get("CustomerId"):
            changes["customer_id"] = body["CustomerId"]
        self.credential.set_secrets(**changes)
        if self.credential.pk:
            Credential.objects.filter(pk=self.credential.pk).update(
                secrets_encrypted=self.credential.secrets_encrypted
            )
        return token

    def _headers(self, token: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if customer_id := self.credential.secrets.get("customer_id"):
            headers["apikey"] = customer_id
        return headers

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        token = self.credential.secrets.get("token") or self.login()
        response, _ = self.http.request(method, path, headers=self._headers(token), **kwargs)
        if response.status_code == 401:  # expired or revoked token: one fresh login
            response, _ = self.http.request(
                method, path, headers=self._headers(self.login()), **kwargs
            )
            if response.status_code == 401:
                raise AuthenticationFailed(
                    "Monogoto refused the token right after a login", status=401
                )
        self._raise_for_status(response)
        return VendorHTTP.json(response, "Monogoto")

    @staticmethod
    def _raise_for_status(response: Any) -> None:
        status = response.status_code
        if status < 400:
            return
        if status == 404:
            raise NotFound("Monogoto does not know this Thing (HTTP 404)", status=404)
        if status == 401:
            raise AuthenticationFailed("Monogoto answered 401 Unauthorized", status=401)
        if status == 429:
            raise RateLimited(retry_after=retry_after_seconds(response), status=429)
        if status == 400:
            raise VendorRefused(
                "Monogoto rejected the request as invalid input (HTTP 400)", status=400
            )
        raise VendorRefused(f"Monogoto answered HTTP {status}", status=status)

    # --- operations -------------------------------------------------------------------------

    def test_connection(self) -> ConnectionResult:
        import time

        started = time.monotonic()
        self.login()
        elapsed = int((time.monotonic() - started) * 1000)
        return ConnectionResult(True, "Logged in to Monogoto.", elapsed)

    def thing_info(self, iccid: str) -> dict[str, Any]:
        body = self._call("GET", f"/thing/ThingId_ICCID_{iccid}")
        if not isinstance(body, dict):
            raise UnreadableResponse("Monogoto's Thing information is not an object")
        return body

    def thing_ip(self, iccid: str) -> str:
        info = self.thing_info(iccid)
        address = info.get("IPv4") or info.get("IPv6")
        if not address:
            raise VendorRefused(
                f"Monogoto has no IP address for this Thing (state {info.get('State', 'unknown')})"
            )
        return str(address)

    def ping(
        self, device: Any, *, target: str | None = None, count: int | None = None, **options: Any
    ) -> PingOutcome:
        address = target or device.host or self.thing_ip(device.iccid)
        packets = self._call(
            "POST", f"/thing/ThingId_ICCID_{device.iccid}/ping", json={"IPAddress": address}
        )
        return parse_ping(packets)
