"""CSRF on every form: each URL the resolver knows — pages, the admin and the API — refuses a
POST (and the API's PATCH / PUT / DELETE) from a signed-in browser session that carries no
valid CSRF token, and nothing changes. The superuser is the one signing in, so that the CSRF
check is the only thing that can refuse.

Only the inbound vendor webhooks take POSTs without a token: they are called by servers, not
browsers, and authenticate with their own secrets (tests/test_inbound_webhooks.py).
"""

from __future__ import annotations

from typing import Any

from django.test import Client

from tests import dbstate
from tests.conftest import World
from tests.test_access_matrix import ALL_URLS, CASES, _url, _url_of
from tests.test_inbound_webhooks import INBOUND

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def _methods(name: str) -> list[str]:
    """POST for every URL (a view that takes none must refuse it as well), plus whatever
    other unsafe method the access matrix lists for it."""
    listed = {c.method for c in CASES if c.name == name and c.method in UNSAFE}
    return sorted({"POST", *listed})


def _csrf_cookie(client: Client) -> str:
    # Any page with a form hands out the cookie; the password page is one every user has.
    client.get("/accounts/password/")
    return client.cookies["csrftoken"].value


def _send(client: Client, method: str, url: str, token: str = "", **extra: Any) -> Any:
    if url.startswith("/api/"):
        # JSON: the API parses nothing else, so a form-encoded forgery is refused (415) even
        # before the CSRF check; JSON is what would get through if the check were missing.
        return getattr(client, method.lower())(
            url, data={"name": "forged"}, content_type="application/json", **extra
        )
    if method == "POST":
        return client.post(url, {"name": "forged", "csrfmiddlewaretoken": token}, **extra)
    return getattr(client, method.lower())(url, **extra)


def _refused_for_csrf(response: Any) -> bool:
    return response.status_code == 403 and b"CSRF" in response.content


def test_every_url_refuses_unsafe_requests_without_a_valid_csrf_token(world: World):
    names = sorted({name for name, _ in ALL_URLS} - INBOUND)
    urls = {name: _url_of(name, world) for name in names}  # building some makes rows
    root = world.users["superuser"]
    tokenless = Client(enforce_csrf_checks=True)
    tokenless.force_login(root)
    forging = Client(enforce_csrf_checks=True)
    forging.force_login(root)
    cookie = _csrf_cookie(forging)
    forged = cookie[::-1] if cookie[::-1] != cookie else "x" * len(cookie)
    variants = [
        ("no token", tokenless, {}),
        ("wrong token", forging, {"token": forged, "HTTP_X_CSRFTOKEN": forged}),
    ]
    failures: list[str] = []
    checked = 0
    for name in names:
        for method in _methods(name):
            for variant, client, extra in variants:
                with dbstate.no_writes() as written:
                    response = _send(client, method, urls[name], **extra)
                checked += 1
                if not _refused_for_csrf(response) or written:
                    failures.append(
                        f"{method} {name} ({variant}): {response.status_code} "
                        f"{response.content[:120]!r} wrote={written[:2]}"
                    )
    assert not failures, "\n".join(failures)
    assert checked >= 2 * len(names)


def test_the_inbound_webhooks_are_the_only_exempt_urls_and_a_session_does_not_open_them(
    world: World,
):
    """A browser's session cookie gets nothing from them either: they ask for their own
    secrets, whoever is signed in."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["superuser"])
    for name in sorted(INBOUND):
        case = next(c for c in CASES if c.name == name)
        with dbstate.no_writes() as written:
            response = client.post(_url(case, world), {}, content_type="application/json")
        assert response.status_code in (400, 401, 403), (name, response.status_code)
        assert not written


def test_the_same_requests_pass_with_the_token(world: World):
    """The control: what the CSRF check refused above is accepted with a valid token, so the
    refusals are the check's doing and not something else's."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["admin"])
    token = _csrf_cookie(client)
    created = client.post("/customers/new/", {"name": "Real", "csrfmiddlewaretoken": token})
    assert created.status_code == 302
    patched = client.patch(
        f"/api/icmp-monitors/{world.monitor_c1.public_id}",
        data={"name": "Renamed"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert patched.status_code == 200
    refused = client.patch(
        f"/api/icmp-monitors/{world.monitor_c1.public_id}",
        data={"name": "Forged"},
        content_type="application/json",
    )
    assert _refused_for_csrf(refused)


def test_api_keys_need_no_csrf_token_because_browsers_never_send_them_by_themselves(
    world: World,
):
    key = world.key_plaintexts["key_rw"]
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.post("/api/customers", {"name": "By key"}, content_type="application/json")
    assert response.status_code == 201


def test_signing_in_needs_the_token_too(world: World):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "viewer", "password": "x"})
    assert _refused_for_csrf(response)
    assert "_auth_user_id" not in client.session
