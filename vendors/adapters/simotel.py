"""Simotel PBX API v4, `setting/ping/act` (seed: simotel-ping.mdx).

Logical errors come back as HTTP 200 with `"success": 0`; the seed shows both POST and PUT, so
the method is per credential and the other one is tried once on 405. A 404 is an HTML page.
"""

from __future__ import annotations

from typing import Any

from requests.auth import HTTPBasicAuth

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

PING_PATH = "/api/v4/setting/ping/act"


class SimotelAdapter(Adapter):
    vendor = "simotel"

    def __init__(self, credential: Credential) -> None:
        self.credential = credential
        self.http = VendorHTTP(credential.base_url, "Simotel")

    def _auth(self) -> dict[str, Any]:
        secrets = self.credential.secrets
        kwargs: dict[str, Any] = {"headers": {"Content-Type": "application/json"}}
        if secrets.get("api_key"):
            kwargs["headers"]["X-APIKEY"] = secrets["api_key"]
        if secrets.get("basic_user"):
            kwargs["auth"] = HTTPBasicAuth(secrets["basic_user"], secrets.get("basic_password", ""))
        if "X-APIKEY" not in kwargs["headers"] and "auth" not in kwargs:
            raise AuthenticationFailed(
                "The Simotel credential has neither an API key nor a Basic auth user"
            )
        return kwargs

    def call_ping(self) -> tuple[dict[str, Any], int]:
        """PUT (or POST) setting/ping/act with `{}`; returns the body and elapsed ms."""
        method = self.credential.simotel_method or "PUT"
        response, elapsed = self.http.request(method, PING_PATH, json={}, **self._auth())
        if response.status_code == 405:
            other = "POST" if method == "PUT" else "PUT"
            response, elapsed = self.http.request(other, PING_PATH, json={}, **self._auth())
        return self._check(response), elapsed

    @staticmethod
    def _message(response: Any) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get("message", "")) if isinstance(body, dict) else ""

    def _check(self, response: Any) -> dict[str, Any]:
        status = response.status_code
        if status == 401:
            raise AuthenticationFailed(
                "Simotel refused the credentials",
                status=401,
                vendor_message=self._message(response),
            )
        if status == 404:
            raise NotFound("No Simotel API answers at this address (HTTP 404)", status=404)
        if status == 429:
            raise RateLimited(retry_after=retry_after_seconds(response), status=429)
        if status >= 400:
            raise VendorRefused(
                f"Simotel answered HTTP {status}",
                status=status,
                vendor_message=self._message(response),
            )
        body = VendorHTTP.json(response, "Simotel")
        if not isinstance(body, dict) or "success" not in body:
            raise UnreadableResponse("Simotel's answer has no success field")
        if str(body.get("success")) != "1":
            raise VendorRefused("Simotel said no", vendor_message=str(body.get("message", "")))
        return body

    def test_connection(self) -> ConnectionResult:
        body, elapsed = self.call_ping()
        return ConnectionResult(True, str(body.get("message") or "Simotel answered."), elapsed)

    def ping(
        self, device: Any, *, target: str | None = None, count: int | None = None, **options: Any
    ) -> PingOutcome:
        """A Simotel server's reachability: one API round trip, timed."""
        body, elapsed = self.call_ping()
        return PingOutcome(
            sent=1,
            received=1,
            replies=[Reply(sequence=1, rtt_ms=float(elapsed))],
            source="simotel",
            raw=body,
        )
