"""Sessions end when they should: a password change signs out the user's other sessions (the
session auth hash), keeps the one that made it; an admin setting a password signs out all of
that user's sessions; signing in starts a new session and signing out ends it server-side."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django.urls import reverse

from portal.models import AuditEvent
from tests.conftest import PASSWORD, World

NEW_PASSWORD = "a brand new passphrase 42"
PAGE = "/customers/"


def signed_in(world: World, actor: str) -> Client:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": world.users[actor].username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


def is_signed_in(client: Client) -> bool:
    response = client.get(PAGE)
    if response.status_code == 302:
        assert response["Location"].startswith("/accounts/login/")
        return False
    assert response.status_code == 200
    return True


def test_changing_ones_password_signs_out_the_other_sessions_only(world: World):
    here, elsewhere, colleague = (
        signed_in(world, "viewer"),
        signed_in(world, "viewer"),
        signed_in(world, "operator"),
    )
    response = here.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password/done/"
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)
    assert is_signed_in(colleague)
    assert AuditEvent.objects.filter(action="auth.password_change").count() == 1


def test_a_refused_password_change_keeps_every_session(world: World):
    here, elsewhere = signed_in(world, "viewer"), signed_in(world, "viewer")
    response = here.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert is_signed_in(here) and is_signed_in(elsewhere)


def test_an_admin_setting_a_password_signs_out_all_of_that_users_sessions(world: World):
    viewer_a, viewer_b = signed_in(world, "viewer"), signed_in(world, "viewer")
    root = signed_in(world, "superuser")
    url = reverse("admin:auth_user_password_change", args=[world.users["viewer"].pk])
    response = root.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not is_signed_in(viewer_a) and not is_signed_in(viewer_b)
    assert is_signed_in(root)
    world.users["viewer"].refresh_from_db()
    assert world.users["viewer"].check_password(NEW_PASSWORD)
    # Like every change made in the admin, it is in the portal's audit log (never the value).
    event = AuditEvent.objects.get(action="auth.password_set")
    assert event.target_id == str(world.users["viewer"].pk)
    assert event.actor == world.users["superuser"]
    assert NEW_PASSWORD not in str(event.details)


def test_signing_in_starts_a_new_session(world: World):
    client = Client()
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key
    client.post("/accounts/login/", {"username": "viewer", "password": PASSWORD})
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != before  # no fixation


def test_signing_out_ends_the_session_on_the_server(world: World):
    client = signed_in(world, "viewer")
    stolen = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.post("/accounts/logout/").status_code == 302
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    assert not is_signed_in(replay)
