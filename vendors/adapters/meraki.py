"""Meraki Dashboard API v1 live tools (seed: meraki-live-tools-ping.json).

A ping is an asynchronous job: create it (201), then poll until `complete`/`failed` or a
deadline — or let Meraki call back and keep polling only as the fallback. Meraki's limits are
kept before sending (per device 1 per 5 s, burst 5; per organization 10/s, burst 10), and a
429 is honoured with its Retry-After.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from vendors import ratelimit
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
    VendorTimeout,
    retry_after_seconds,
)
from vendors.models import Credential

TERMINAL = {"complete", "failed"}
# Meraki allows 1 per 5 s (burst 5) per device and 10/s (burst 10) per organization, counted
# on arrival. Our buckets refill a little slower, so that requests which leave at the edge of
# a window but arrive faster than the first one did are still inside Meraki's limits.
DEVICE_LIMIT = (1 / 5.5, 5)  # tokens per second, burst
ORGANIZATION_LIMIT = (9.0, 10)


def errors_of(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        return "; ".join(str(e) for e in body["errors"])
    return ""


def parse_results(job: dict[str, Any]) -> PingOutcome:
    """A complete job's `results` in the normalized shape; lost sequences appear as replies
    without an RTT so that every sequence is accounted for."""
    results = job.get("results")
    if not isinstance(results, dict):
        raise UnreadableResponse("Meraki's finished job has no results")
    try:
        sent = int(results.get("sent") or 0)
        received = int(results.get("received") or 0)
        replies = {
            int(r["sequenceId"]): Reply(
                sequence=int(r["sequenceId"]),
                rtt_ms=float(r["latency"]) if r.get("latency") is not None else None,
                size=int(r["size"]) if r.get("size") is not None else None,
            )
            for r in results.get("replies") or []
        }
    except (TypeError, ValueError, KeyError) as exc:
        raise UnreadableResponse("Meraki's results have an unexpected shape") from exc
    first = min(replies, default=1)
    for sequence in range(first, first + sent):
        replies.setdefault(sequence, Reply(sequence=sequence, rtt_ms=None))
    return PingOutcome(
        sent=sent,
        received=received,
        replies=[replies[s] for s in sorted(replies)],
        source="meraki",
        raw=job,
    )


class MerakiAdapter(Adapter):
    vendor = "meraki"

    def __init__(
        self,
        credential: Credential,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_wait: float = 30.0,
    ) -> None:
        self.credential = credential
        self.http = VendorHTTP(credential.base_url, "Meraki")
        self.sleep = sleep
        self.max_rate_wait = max_rate_wait

    def _headers(self) -> dict[str, str]:
        key = self.credential.secrets.get("api_key")
        if not key:
            raise AuthenticationFailed("The Meraki credential has no API key")
        return {
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def _throttle(self, serial: str | None) -> None:
        buckets = []
        if serial:
            buckets.append((f"meraki:{self.credential.pk}:device:{serial}", *DEVICE_LIMIT))
        buckets.append((f"meraki:{self.credential.pk}:organization", *ORGANIZATION_LIMIT))
        try:
            ratelimit.take(buckets, self.max_rate_wait, self.sleep)
        except TimeoutError as exc:
            raise RateLimited(
                "Meraki's limit for this device is used up (1 ping per 5 s, burst 5)",
                retry_after=float(exc.args[0]),
            ) from exc

    def _request(
        self, method: str, path: str, *, serial: str | None = None, json: Any = None
    ) -> Any:
        for _attempt in range(3):
            self._throttle(serial if method == "POST" else None)
            response, _ = self.http.request(method, path, headers=self._headers(), json=json)
            if response.status_code == 429:
                wait = retry_after_seconds(response)
                if wait > self.max_rate_wait:
                    raise RateLimited(
                        retry_after=wait, status=429, vendor_message=errors_of(_safe_json(response))
                    )
                self.sleep(wait)
                continue
            return self._check(response)
        raise RateLimited(
            retry_after=retry_after_seconds(response),
            status=429,
            vendor_message=errors_of(_safe_json(response)),
        )

    @staticmethod
    def _check(response: Any) -> Any:
        status = response.status_code
        if status < 400:
            return VendorHTTP.json(response, "Meraki")
        message = errors_of(_safe_json(response))
        if status == 401:
            raise AuthenticationFailed(
                "Meraki refused the API key", status=401, vendor_message=message
            )
        if status == 404:
            raise NotFound(
                "Meraki does not know this device or job", status=404, vendor_message=message
            )
        if status == 403:
            raise VendorRefused("Meraki denied access", status=403, vendor_message=message)
        raise VendorRefused(f"Meraki answered HTTP {status}", status=status, vendor_message=message)

    # --- operations -------------------------------------------------------------------------

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        organizations = self._request("GET", "/organizations")
        elapsed = int((time.monotonic() - started) * 1000)
        count = len(organizations) if isinstance(organizations, list) else 0
        return ConnectionResult(
            True,
            f"API key works; it sees {count} organization{'' if count == 1 else 's'}.",
            elapsed,
        )

    def start(
        self, serial: str, *, target: str | None, count: int, callback: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a job: `target` given → liveTools/ping, else liveTools/pingDevice."""
        if not 1 <= count <= 5:
            raise ValueError("Meraki pings 1 to 5 times")
        kind = "ping" if target else "pingDevice"
        body: dict[str, Any] = {"count": count}
        if target:
            body["target"] = target
        if callback:
            body["callback"] = callback
        job = self._request("POST", f"/devices/{serial}/liveTools/{kind}", serial=serial, json=body)
        if not isinstance(job, dict) or not job.get("pingId"):
            raise UnreadableResponse("Meraki's answer has no pingId")
        return job

    def poll(self, serial: str, ping_id: str, *, device_ping: bool = False) -> dict[str, Any]:
        kind = "pingDevice" if device_ping else "ping"
        job = self._request("GET", f"/devices/{serial}/liveTools/{kind}/{ping_id}")
        if not isinstance(job, dict):
            raise UnreadableResponse("Meraki's job is not an object")
        return job

    def wait(
        self,
        serial: str,
        ping_id: str,
        *,
        device_ping: bool = False,
        deadline_seconds: float = 60.0,
        first_delay: float = 1.0,
        callback: Any = None,
    ) -> PingOutcome:
        """Poll with backoff (x1.5, at most 5 s apart) until the job ends or the deadline.
        With a callback row, look at it every quarter second and poll only as the fallback."""
        deadline = time.monotonic() + deadline_seconds
        delay = first_delay if callback is None else max(first_delay, 3.0)
        next_poll = time.monotonic() + delay
        while True:
            if callback is not None:
                callback.refresh_from_db(fields=["received_at", "payload"])
                if callback.received_at is not None:
                    return self.outcome((callback.payload or {}).get("message") or {})
                if time.monotonic() < next_poll:
                    if time.monotonic() > deadline:
                        raise VendorTimeout(
                            f"Meraki's job {ping_id} did not finish within {deadline_seconds:g} s"
                        )
                    self.sleep(0.25)
                    continue
            else:
                self.sleep(delay)
            job = self.poll(serial, ping_id, device_ping=device_ping)
            if job.get("status") in TERMINAL:
                return self.outcome(job)
            if time.monotonic() + delay > deadline:
                raise VendorTimeout(
                    f"Meraki's job {ping_id} did not finish within "
                    f"{deadline_seconds:g} s (status {job.get('status')!r})"
                )
            delay = min(delay * 1.5, 5.0)
            next_poll = time.monotonic() + delay

    @staticmethod
    def outcome(job: dict[str, Any]) -> PingOutcome:
        if job.get("status") == "failed":
            raise VendorRefused(
                "Meraki reports that the ping failed", vendor_message=errors_of(job)
            )
        return parse_results(job)

    def ping(
        self, device: Any, *, target: str | None = None, count: int | None = None, **options: Any
    ) -> PingOutcome:
        """Start the job and wait for it. With `callback_base_url` (the portal's public URL)
        Meraki is asked to call back with a per-job secret; polling stays the fallback for a
        callback that never comes."""
        count = 5 if count is None else count
        deadline = options.get("deadline_seconds", 60.0)
        base = options.get("callback_base_url")
        # Tells the caller Meraki's pingId as soon as the job exists (support can look it up).
        on_started = options.get("on_started") or (lambda ping_id: None)
        if not base:
            job = self.start(device.serial, target=target, count=count)
            on_started(str(job["pingId"]))
            if job.get("status") == "failed" or (
                job.get("status") == "complete" and job.get("results")
            ):
                return self.outcome(job)
            return self.wait(
                device.serial, job["pingId"], device_ping=not target, deadline_seconds=deadline
            )
        from vendors.models import MerakiCallback

        row, secret = MerakiCallback.open(self.credential, device.serial)
        job = self.start(
            device.serial,
            target=target,
            count=count,
            callback={
                "url": f"{base.rstrip('/')}/hooks/meraki/{row.public_id}/",
                "sharedSecret": secret,
            },
        )
        MerakiCallback.objects.filter(pk=row.pk).update(ping_id=job["pingId"])
        on_started(str(job["pingId"]))
        return self.wait(
            device.serial,
            job["pingId"],
            device_ping=not target,
            deadline_seconds=deadline,
            callback=row,
            first_delay=options.get("first_delay", 3.0),
        )


def _safe_json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
