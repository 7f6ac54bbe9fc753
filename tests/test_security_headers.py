"""Security headers and cookie flags on real responses, under the production settings (DEBUG
off, read in a fresh process as a deployment reads them) and in development."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import World
from tests.test_settings import PRODUCTION, django_code, run

# Requests made inside a production-settings process. Static URLs are resolved from the app
# folders instead of collectstatic's manifest (which a test must not write into the working
# tree); nothing else is changed.
PROBE = django_code("""
    import json
    from django.core.management import call_command
    from django.test import Client, override_settings
    from portal.models import User

    call_command("migrate", verbosity=0)
    User.objects.create_user("alice", "a@example.test", "a long enough passphrase 7")
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    def described(response):
        cookies = {
            name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]),
                   "samesite": m["samesite"]}
            for name, m in response.cookies.items()
        }
        return {"status": response.status_code, "headers": dict(response.headers),
                "cookies": cookies, "body": response.content.decode(errors="replace")[:3000]}

    out = {}
    with override_settings(STORAGES=storages):
        client = Client(HTTP_HOST="portal.example.test")
        out["plain_http"] = described(client.get("/accounts/login/"))
        out["login_page"] = described(client.get("/accounts/login/", secure=True))
        out["signed_in"] = described(client.post(
            "/accounts/login/",
            {"username": "alice", "password": "a long enough passphrase 7"},
            secure=True,
        ))
        out["page"] = described(client.get("/organizations/", secure=True))
        out["api"] = described(client.get("/api/customers", secure=True))
        out["missing"] = described(client.get("/no/such/page/", secure=True))
        out["api_missing"] = described(client.get("/api/no/such", secure=True))
        out["healthz"] = described(client.get("/healthz", secure=True))
        out["forged_post"] = described(
            Client(HTTP_HOST="portal.example.test", enforce_csrf_checks=True).post(
                "/accounts/login/", {"username": "alice", "password": "x"}, secure=True
            )
        )
    print("RESULT" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("production")
    env = {**PRODUCTION, "VAR_DIR": str(tmp), "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}"}
    result = run(env, code=PROBE)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.split("RESULT", 1)[1])


ANSWERS = ["login_page", "signed_in", "page", "api", "missing", "api_missing", "healthz"]


def test_plain_http_is_redirected_to_https(production):
    answer = production["plain_http"]
    assert answer["status"] == 301
    assert answer["headers"]["Location"] == "https://portal.example.test/accounts/login/"


@pytest.mark.parametrize("name", ANSWERS)
def test_every_answer_carries_the_security_headers(production, name):
    headers = production[name]["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    directives = [part.partition(" ") for part in headers["Content-Security-Policy"].split("; ")]
    policy = {name: value for name, _, value in directives}
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline or foreign scripts at all
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'" and policy["form-action"] == "'self'"


def test_cookies_are_secure_http_only_and_same_site(production):
    csrf = production["login_page"]["cookies"]["csrftoken"]
    session = production["signed_in"]["cookies"]["sessionid"]
    for cookie in (csrf, session):
        assert cookie == {"secure": True, "httponly": True, "samesite": "Lax"}


def test_signing_in_works_over_https_with_those_cookies(production):
    assert production["signed_in"]["status"] == 302
    assert production["page"]["status"] == 200


def test_errors_say_nothing_about_the_internals(production):
    missing, api_missing = production["missing"], production["api_missing"]
    assert missing["status"] == 404 and api_missing["status"] == 404
    for body in (missing["body"], api_missing["body"]):
        assert "Traceback" not in body and "urlpatterns" not in body
        assert "portal.urls" not in body and "DEBUG" not in body


def test_a_forged_post_is_refused_in_production(production):
    assert production["forged_post"]["status"] == 403


# --- development: the same headers, without the HTTPS-only ones -------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/healthz", "/api/customers"])
def test_development_answers_carry_the_headers_too(client: Any, path: str, world: World):
    response = client.get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response  # plain http in development
