"""Sign-in throttling: per username and per client address, kept in the database, 429 without
a password check once a bucket is empty, audited, and never in the way of anyone else."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.test import Client, RequestFactory

from portal import login_throttle
from portal.clientip import client_ip
from portal.models import AuditEvent
from tests.conftest import PASSWORD, World
from vendors import ratelimit
from vendors.models import RateBucket

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.LOGIN_THROTTLE_USERNAME_FAILURES = 3
    settings.LOGIN_THROTTLE_IP_FAILURES = 6
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 900
    settings.TRUSTED_PROXY_COUNT = 0
    return settings


def sign_in(username: str, password: str, ip: str = "10.0.0.1", url: str = LOGIN, **extra: Any):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(url, {"username": username, "password": password}, **extra)
    response.signed_in = "_auth_user_id" in client.session
    return response


def fail(username: str, times: int, ip: str = "10.0.0.1", url: str = LOGIN) -> None:
    for _ in range(times):
        response = sign_in(username, "wrong password", ip, url)
        assert response.status_code == 200 and not response.signed_in


def test_after_n_failures_for_a_username_the_next_attempt_is_refused_unchecked(world, limits):
    fail("viewer", 3)
    with mock.patch("django.contrib.auth.forms.authenticate") as authenticate:
        refused = sign_in("viewer", PASSWORD)  # the right password, too late
    assert refused.status_code == 429 and not refused.signed_in
    assert not authenticate.called  # the password was not even looked at
    assert int(refused["Retry-After"]) == 300  # one attempt more per window / N
    assert "Too many failed sign-ins for this username" in refused.content.decode()
    assert "Try again in 5 minutes" in refused.content.decode()
    event = AuditEvent.objects.get(action="auth.login_throttled")
    assert event.details["username"] == "viewer" and event.details["limit"] == "username"
    assert event.ip_address == "10.0.0.1"
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_a_blocked_username_is_blocked_from_every_address_but_others_sign_in(world, limits):
    fail("viewer", 3, ip="10.0.0.1")
    assert sign_in("viewer", PASSWORD, ip="10.9.9.9").status_code == 429
    other_user = sign_in("operator", PASSWORD, ip="10.0.0.1")
    assert other_user.status_code == 302 and other_user.signed_in


def test_an_address_that_guesses_many_usernames_is_refused_but_others_are_not(world, limits):
    for name in ["a1", "a2", "a3", "a4", "a5", "a6"]:
        fail(name, 1, ip="10.0.0.1")
    refused = sign_in("operator", PASSWORD, ip="10.0.0.1")
    assert refused.status_code == 429 and not refused.signed_in
    assert "from your network" in refused.content.decode()
    assert AuditEvent.objects.get(action="auth.login_throttled").details["limit"] == "address"
    assert sign_in("operator", PASSWORD, ip="10.0.0.2").signed_in


def test_successful_sign_ins_do_not_use_up_an_offices_shared_address(world, limits):
    for _ in range(4):
        for name in ["admin", "operator", "viewer"]:
            assert sign_in(name, PASSWORD, ip="10.0.0.1").signed_in
    fail("viewer", 3, ip="10.0.0.1")  # the whole allowance is still there


def test_forms_that_never_reach_the_password_check_cost_nothing(world, limits):
    for _ in range(5):
        assert sign_in("viewer", "").status_code == 200
    fail("viewer", 3)


def test_a_right_password_the_form_refuses_still_counts(world, limits):
    """A non-staff account on the admin's form: giving the token back would tell a guesser
    that this attempt, of all of them, was the right one."""
    for _ in range(3):
        response = sign_in("viewer", PASSWORD, url=ADMIN_LOGIN)
        assert response.status_code == 200 and not response.signed_in
    assert sign_in("viewer", PASSWORD, url=ADMIN_LOGIN).status_code == 429


def test_the_admin_sign_in_form_shares_the_limits(world, limits):
    fail("admin", 2, url=ADMIN_LOGIN)
    fail("admin", 1, url=LOGIN)
    with mock.patch("django.contrib.auth.forms.authenticate") as authenticate:
        refused = sign_in("admin", PASSWORD, url=ADMIN_LOGIN)
    assert refused.status_code == 429 and not authenticate.called
    assert "Retry-After" in refused


def test_usernames_count_together_whatever_their_case(world, limits):
    fail("Viewer", 2)
    fail("VIEWER ", 1)
    assert sign_in("viewer", PASSWORD).status_code == 429


def test_the_window_lets_one_more_attempt_through_after_window_over_n(world, limits):
    clock = SimpleNamespace(now=1_000_000.0)
    fake_time = SimpleNamespace(time=lambda: clock.now, sleep=lambda s: None)
    with mock.patch.object(ratelimit, "time", fake_time):
        fail("viewer", 3)
        assert sign_in("viewer", PASSWORD).status_code == 429
        clock.now += 299
        assert sign_in("viewer", PASSWORD).status_code == 429
        clock.now += 2
        assert sign_in("viewer", PASSWORD).signed_in


def test_limits_live_in_the_database_without_usernames_in_clear(world, limits):
    fail("viewer", 3)
    keys = set(RateBucket.objects.values_list("key", flat=True))
    assert keys == {"login:ip:10.0.0.1/32", login_throttle.username_key("viewer")}
    assert not any("viewer" in key for key in keys)
    # Another process sees the same rows: nothing is kept in this one's memory.
    RateBucket.objects.filter(key__startswith="login:user:").delete()
    assert sign_in("viewer", PASSWORD).signed_in


def test_ipv6_clients_are_counted_per_slash_64(world, limits):
    for suffix in range(1, 7):
        fail(f"u{suffix}", 1, ip=f"2001:db8:1:2::{suffix}")
    assert sign_in("operator", PASSWORD, ip="2001:db8:1:2:ffff::9").status_code == 429
    assert sign_in("operator", PASSWORD, ip="2001:db8:1:3::1").signed_in


def test_a_forged_post_without_csrf_token_uses_up_nothing(world, limits):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR="10.0.0.1")
    for _ in range(10):
        response = client.post(LOGIN, {"username": "viewer", "password": "x"})
        assert response.status_code == 403
    assert not RateBucket.objects.exists()


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(world, limits):
    for n in range(3):
        response = sign_in(f"g{n}", "wrong", ip="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        assert response.status_code == 200
    fail("a", 3)  # six failures from 10.0.0.1 in all, whatever the header said
    assert sign_in("operator", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429


def test_behind_a_trusted_proxy_the_client_is_the_entry_the_proxy_added(world, limits):
    limits.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.254"
    # The client writes its own header; the proxy appends the address it saw. Spoofed
    # prefixes do not make new clients.
    for n in range(6):
        forged = f"198.51.100.{n}, 203.0.113.7"
        fail_response = sign_in(f"g{n}", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR=forged)
        assert fail_response.status_code == 200
    blocked = sign_in("operator", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert blocked.status_code == 429
    other = sign_in("operator", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.signed_in
    event = AuditEvent.objects.filter(action="auth.login").latest("pk")
    assert event.ip_address == "203.0.113.8"  # the audit log records the client, too


@pytest.mark.parametrize(
    "hops,header,remote,expected",
    [
        (0, "203.0.113.7", "10.0.0.1", "10.0.0.1"),
        (1, "203.0.113.7", "10.0.0.1", "203.0.113.7"),
        (1, "1.1.1.1, 203.0.113.7", "10.0.0.1", "203.0.113.7"),
        (2, "1.1.1.1, 203.0.113.7, 10.0.0.9", "10.0.0.1", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.1", "10.0.0.1"),  # fewer entries than proxies
        (1, "not-an-address", "10.0.0.1", "10.0.0.1"),
        (1, "", "10.0.0.1", "10.0.0.1"),
        (0, "", "garbage", None),
    ],
)
def test_client_ip(settings: Any, hops: int, header: str, remote: str, expected: str | None):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=header)
    assert client_ip(request) == expected


def test_throttled_answers_are_not_cached_and_keep_the_security_headers(world: World, limits):
    fail("viewer", 3)
    refused = sign_in("viewer", PASSWORD)
    assert refused["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in refused["Content-Security-Policy"]
