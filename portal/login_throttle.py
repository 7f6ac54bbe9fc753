"""Sign-in throttling against password guessing, shared by every worker through the database.

Two token buckets per attempt (vendors.ratelimit's, which live in the database so that all
processes on all machines share them): one per username, one per client address. A bucket
holds N failures and refills N over the window, so after N failures in quick succession one
more attempt is allowed every window / N seconds. A POST to a sign-in form takes a token from
each bucket *before* the password is looked at; an empty bucket answers 429 at once, without
checking anything. Only failures keep their token: a successful sign-in, or a form that never
reached the password check, gives it back, so colleagues behind one office address do not use
up each other's attempts by signing in. (Everything else keeps its token — also a right
password the form then refuses, e.g. a non-staff account on the admin's form — or the buckets
would tell a guesser which of its attempts was right.)

Both sign-in forms are covered: the portal's and the admin's (a separate view).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from portal import audit
from portal.clientip import client_ip

# URL names of the views that check passwords from a form.
SIGN_IN_VIEWS = frozenset({"login", "admin:login"})
_ATTEMPT = "_login_attempt"


@dataclass(frozen=True)
class Bucket:
    key: str
    failures: int  # N: the bucket's size
    window: float  # seconds in which N are refilled

    @property
    def rate(self) -> float:
        return self.failures / self.window


def _ratelimit() -> Any:
    # The buckets are vendors' (a generic table that happens to live there); imported late so
    # that portal does not load vendors while apps are still being set up.
    from vendors import ratelimit

    return ratelimit


def username_key(username: str) -> str:
    # Hashed: usernames (or passwords typed into the username field) stay out of the table.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:40]
    return f"login:user:{digest}"


def address_key(address: str) -> str:
    ip = ipaddress.ip_address(address)
    # One IPv6 client usually holds a whole /64: counting single addresses would not slow it.
    network = ipaddress.ip_network(f"{ip}/64" if ip.version == 6 else f"{ip}/32", strict=False)
    return f"login:ip:{network}"


@dataclass
class Attempt:
    """One POST to a sign-in form: the tokens it holds and how it ended."""

    username: str
    address: str | None
    buckets: list[Bucket] = field(default_factory=list)
    checked: bool = False  # both fields given, so the form goes on to check the password
    taken: list[Bucket] = field(default_factory=list)
    succeeded: bool = False

    @classmethod
    def of(cls, request: HttpRequest) -> Attempt:
        username = str(request.POST.get("username", ""))[:300]
        address = client_ip(request)
        window = float(settings.LOGIN_THROTTLE_WINDOW_SECONDS)
        attempt = cls(
            username=username,
            address=address,
            checked=bool(username.strip() and request.POST.get("password")),
        )
        if address and settings.LOGIN_THROTTLE_IP_FAILURES > 0:
            attempt.buckets.append(
                Bucket(address_key(address), settings.LOGIN_THROTTLE_IP_FAILURES, window)
            )
        if username.strip() and settings.LOGIN_THROTTLE_USERNAME_FAILURES > 0:
            attempt.buckets.append(
                Bucket(username_key(username), settings.LOGIN_THROTTLE_USERNAME_FAILURES, window)
            )
        return attempt

    def reserve(self) -> tuple[float, str]:
        """Take a token from every bucket. Returns (0, "") or (seconds to wait, which limit)."""
        ratelimit = _ratelimit()
        for bucket in self.buckets:
            wait = ratelimit.try_take(bucket.key, bucket.rate, bucket.failures)
            if wait > 0:
                self.release()  # a refused attempt costs nothing in the other buckets
                return wait, "address" if bucket.key.startswith("login:ip:") else "username"
            self.taken.append(bucket)
        return 0.0, ""

    def release(self) -> None:
        ratelimit = _ratelimit()
        for bucket in self.taken:
            ratelimit.give_back(bucket.key, bucket.rate, bucket.failures)
        self.taken = []

    def settle(self) -> None:
        if self.succeeded or not self.checked:
            self.release()


def _refused(request: HttpRequest, attempt: Attempt, wait: float, limit: str) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    audit.record(
        None,
        "auth.login_throttled",
        request=request,
        username=attempt.username,
        limit=limit,
        retry_after_seconds=seconds,
    )
    response = TemplateResponse(
        request,
        "registration/login_throttled.html",
        {"minutes": max(1, math.ceil(seconds / 60)), "limit": limit},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


class LoginThrottleMiddleware:
    """Runs after CSRF and sessions: a forged or tokenless POST never reaches the buckets."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        attempt = getattr(request, _ATTEMPT, None)
        if attempt is not None:
            attempt.settle()
        return response

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name not in SIGN_IN_VIEWS:
            return None
        attempt = Attempt.of(request)
        wait, limit = attempt.reserve()
        if wait > 0:
            return _refused(request, attempt, wait, limit)
        setattr(request, _ATTEMPT, attempt)
        return None


# Django's login() announces a session being opened, with the request: that is how the
# middleware learns that this attempt succeeded.
@receiver(user_logged_in, dispatch_uid="login_throttle_succeeded")
def _succeeded(sender: Any, request: Any = None, **kwargs: Any) -> None:
    attempt = getattr(request, _ATTEMPT, None)
    if attempt is not None:
        attempt.succeeded = True
