"""The shapes every adapter shares: the normalized ping outcome, the typed errors, and the
HTTP helper that gives every vendor request a timeout and maps failures onto those errors.

Nothing above the adapters knows a vendor's wire format, and no error text carries a secret:
messages are built here from status codes and the vendor's own message fields only.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from django.conf import settings

DEFAULT_TIMEOUT = (5.0, 20.0)  # connect, read (seconds); the read part is VENDOR_READ_TIMEOUT


@dataclass
class Reply:
    sequence: int
    rtt_ms: float | None  # None: no reply to this sequence
    size: int | None = None
    ttl: int | None = None


@dataclass
class PingOutcome:
    """The one result shape (DESIGN.md): counts, loss, RTT spread and every reply."""

    sent: int
    received: int
    replies: list[Reply] = field(default_factory=list)
    source: str = ""
    raw: Any = None  # the vendor's payload, kept for support
    error: str = ""

    @property
    def loss_percent(self) -> float:
        return round(100.0 * (self.sent - self.received) / self.sent, 2) if self.sent else 100.0

    def _rtts(self) -> list[float]:
        return [r.rtt_ms for r in self.replies if r.rtt_ms is not None]

    @property
    def rtt_min(self) -> float | None:
        return min(self._rtts(), default=None)

    @property
    def rtt_max(self) -> float | None:
        return max(self._rtts(), default=None)

    @property
    def rtt_avg(self) -> float | None:
        rtts = self._rtts()
        return round(sum(rtts) / len(rtts), 3) if rtts else None

    @property
    def rtt_stddev(self) -> float | None:
        rtts = self._rtts()
        if not rtts:
            return None
        mean = sum(rtts) / len(rtts)
        return round(math.sqrt(sum((r - mean) ** 2 for r in rtts) / len(rtts)), 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "received": self.received,
            "loss_percent": self.loss_percent,
            "rtt_min": self.rtt_min,
            "rtt_avg": self.rtt_avg,
            "rtt_max": self.rtt_max,
            "rtt_stddev": self.rtt_stddev,
            "replies": [asdict(r) for r in self.replies],
            "source": self.source,
            "raw": self.raw,
            "error": self.error,
        }


@dataclass
class ConnectionResult:
    ok: bool
    message: str
    elapsed_ms: int


# --- errors ---------------------------------------------------------------------------------


class VendorError(Exception):
    kind = "vendor_error"
    title = "The vendor answered with an error"

    def __init__(
        self, message: str = "", *, status: int | None = None, vendor_message: str = ""
    ) -> None:
        self.status = status
        self.vendor_message = vendor_message
        super().__init__(message or self.title)

    @property
    def plain(self) -> str:
        """For people: what happened, with the vendor's own words when there are some."""
        text = super().__str__()
        if self.vendor_message and self.vendor_message not in text:
            text = f"{text}: {self.vendor_message}"
        return text

    def __str__(self) -> str:
        return self.plain


class AuthenticationFailed(VendorError):
    kind = "authentication_failed"
    title = "The vendor refused the credential"


class NotFound(VendorError):
    kind = "not_found"
    title = "The vendor does not know this device"


class RateLimited(VendorError):
    kind = "rate_limited"
    title = "The vendor's rate limit was reached"

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        if retry_after is not None and not message:
            message = f"{self.title}; retry after {retry_after:g} s"
        super().__init__(message, **kw)


class VendorRefused(VendorError):
    kind = "refused"
    title = "The vendor refused the request"


class VendorTimeout(VendorError):
    kind = "timeout"
    title = "The vendor did not answer in time"


class Unreachable(VendorError):
    kind = "unreachable"
    title = "The vendor could not be reached"


class UnreadableResponse(VendorError):
    kind = "unreadable"
    title = "The vendor's answer could not be read"


ERROR_KINDS = {
    cls.kind: cls
    for cls in (
        AuthenticationFailed,
        NotFound,
        RateLimited,
        VendorRefused,
        VendorTimeout,
        Unreachable,
        UnreadableResponse,
    )
}


# --- HTTP -----------------------------------------------------------------------------------


class VendorHTTP:
    """A requests session bound to one base URL, with timeouts and error mapping."""

    def __init__(
        self, base_url: str, vendor: str, timeout: tuple[float, float] | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.vendor = vendor
        read = getattr(settings, "VENDOR_READ_TIMEOUT", DEFAULT_TIMEOUT[1])
        self.timeout = timeout or (DEFAULT_TIMEOUT[0], read)
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[requests.Response, int]:
        """Send; returns the response and the elapsed milliseconds. Transport failures
        become VendorTimeout / Unreachable; HTTP statuses are left to the adapter."""
        kwargs.setdefault("timeout", self.timeout)
        started = time.monotonic()
        try:
            response = self.session.request(method, f"{self.base_url}{path}", **kwargs)
        except requests.ConnectTimeout as exc:
            raise VendorTimeout(
                f"{self.vendor} did not accept a connection within {self.timeout[0]:g} s"
            ) from exc
        except requests.Timeout as exc:
            # A read timeout bounds each wait for data, so that is the time the vendor had.
            raise VendorTimeout(
                f"{self.vendor} did not answer within {self.timeout[1]:g} s"
            ) from exc
        except requests.RequestException as exc:
            # The exception text can include headers in some adapters' proxies; keep only
            # the class of failure.
            raise Unreachable(f"{self.vendor} could not be reached ({type(exc).__name__})") from exc
        return response, int((time.monotonic() - started) * 1000)

    @staticmethod
    def json(response: requests.Response, vendor: str) -> Any:
        """The body as JSON, or UnreadableResponse (an HTML error page, broken JSON, ...)."""
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            kind = response.headers.get("Content-Type", "unknown type").split(";")[0].strip()
            # "with application/json instead of JSON" would read as nonsense to people.
            what = "broken JSON" if kind.endswith("json") else f"{kind} instead of JSON"
            raise UnreadableResponse(
                f"{vendor} answered HTTP {response.status_code} with {what}",
                status=response.status_code,
            ) from exc


def retry_after_seconds(response: requests.Response, default: float = 1.0) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


class Adapter:
    """The interface. Adapters raise VendorError subclasses, never anything else."""

    vendor = ""

    def test_connection(self) -> ConnectionResult:
        raise NotImplementedError

    def ping(
        self, device: Any, *, target: str | None = None, count: int | None = None, **options: Any
    ) -> PingOutcome:
        raise NotImplementedError
