"""No secret, key or password comes back out: not in pages, API answers, error answers, CSV
exports, the admin, response headers, log output, printed output or mail — and none is stored
in clear.

One walk through every flow that touches a secret — vendor credentials (create, edit, refused
edits, connection tests), API keys (made, used, wrong), monitors' webhook secrets, ping
callbacks' shared secrets, passwords (new accounts, sign-in, changes, the admin's password
form), the inbound webhooks, the exports, the audit log and the admin — with known values,
then a search for each value in everything that came back. The only places a secret may
appear are the two where the portal shows one once on purpose: a new API key's page and a
Simotel credential's webhook URL.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.conftest import DEAD_VENDOR, Receiver, World

SECRETS = {
    "meraki api key": "mk-SECRET-3b1f9e27c4d84a6f",
    "meraki api key via API": "mk-api-SECRET-77c0e5d9",
    "meraki api key, refused edit": "mk-refused-SECRET-1e4c",
    "monogoto password": "mono-SECRET-pw-7c2e91ab",
    "simotel api key": "sim-SECRET-key-58d0f3a1",
    "simotel basic password": "sim-SECRET-basic-1a9c7e",
    "simotel webhook password": "sim-SECRET-hook-4e8b2d",
    "monitor webhook secret": "mon-SECRET-hook-9f3a6c",
    "monitor webhook secret, refused": "mon-refused-SECRET-3d",
    "ping callback secret": "cb-SECRET-shared-2d7e5b",
    "ping callback secret, refused": "cb-refused-SECRET-8b",
    "new account password": "user-SECRET-pass-6a1f8c42",
    "refused account password": "refused-SECRET-pass-44e1",
    "mistyped password": "typo-SECRET-guess-5c9a",
    "changed password": "changed-SECRET-pass-0b7d3e",
    "password set by an admin": "adminset-SECRET-pass-91",
}


def body_of(response: Any) -> str:
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content or b""
    )
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    cookies = "\n".join(m.OutputString() for m in response.cookies.values())
    return f"{headers}\n{cookies}\n{content.decode(errors='replace')}"


@dataclass
class Watch:
    """Everything the portal answered, each with the secrets it may show on purpose."""

    seen: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)

    def __call__(self, label: str, response: Any, shows: tuple[str, ...] = ()) -> Any:
        text = body_of(response)
        self.seen.append((label, text, frozenset(shows)))
        response.watched = text
        return response


@pytest.fixture
def logs() -> Any:
    """All log output at every level, formatted as the console handler formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def credential_flows(world: World, watch: Watch, admin: Client) -> dict[str, Any]:
    from vendors.models import Credential

    found: dict[str, Any] = {}
    base = DEAD_VENDOR  # nothing listens: connection tests fail, with their error messages
    watch(
        "create meraki",
        admin.post(
            "/credentials/new/",
            {
                "vendor": "meraki",
                "name": "Leak Meraki",
                "base_url": f"{base}/meraki",
                "secret_api_key": SECRETS["meraki api key"],
            },
            follow=True,
        ),
    )
    watch(
        "create monogoto",
        admin.post(
            "/credentials/new/",
            {
                "vendor": "monogoto",
                "name": "Leak Monogoto",
                "base_url": f"{base}/monogoto",
                "secret_username": "mono-user",
                "secret_password": SECRETS["monogoto password"],
            },
            follow=True,
        ),
    )
    simotel = admin.post(
        "/credentials/new/",
        {
            "vendor": "simotel",
            "name": "Leak PBX",
            "base_url": f"{base}/simotel",
            "simotel_method": "PUT",
            "secret_api_key": SECRETS["simotel api key"],
            "secret_basic_user": "api-user",
            "secret_basic_password": SECRETS["simotel basic password"],
            "secret_webhook_user": "pbx-hook",
            "secret_webhook_password": SECRETS["simotel webhook password"],
        },
    )
    token = re.search(r"/hooks/simotel/([^/<\"\s]+)/", simotel.content.decode()).group(1)
    found["webhook token"] = token
    watch("create simotel (shows its webhook URL once)", simotel, shows=(token,))
    # Refused: a name that is taken; the secret typed with it must not come back.
    watch(
        "refused create",
        admin.post(
            "/credentials/new/",
            {
                "vendor": "meraki",
                "name": "Leak Meraki",
                "base_url": f"{base}/meraki",
                "secret_api_key": SECRETS["meraki api key, refused edit"],
            },
        ),
    )
    for credential in Credential.objects.filter(name__startswith="Leak "):
        pk = credential.pk
        watch(f"detail {pk}", admin.get(f"/credentials/{pk}/"))
        watch(f"edit page {pk}", admin.get(f"/credentials/{pk}/edit/"))
        watch(
            f"refused edit {pk}",
            admin.post(
                f"/credentials/{pk}/edit/",
                {
                    "name": "",
                    "base_url": "not a url",
                    "secret_api_key": SECRETS["meraki api key, refused edit"],
                    "secret_password": SECRETS["meraki api key, refused edit"],
                },
            ),
        )
        watch(f"test {pk}", admin.post(f"/credentials/{pk}/test/", follow=True))
        watch(f"test (htmx) {pk}", admin.post(f"/credentials/{pk}/test/", HTTP_HX_REQUEST="true"))
        watch(f"detail after test {pk}", admin.get(f"/credentials/{pk}/"))
    pbx = Credential.objects.get(name="Leak PBX")
    renewed = admin.post(f"/credentials/{pbx.pk}/webhook-url/")
    new_token = re.search(r"/hooks/simotel/([^/<\"\s]+)/", renewed.content.decode()).group(1)
    found["renewed webhook token"] = new_token
    watch("new webhook URL (shown once)", renewed, shows=(new_token,))
    watch("credential list", admin.get("/credentials/"))
    # The inbound webhook: wrong password, retired token, the right one.
    hook = f"/hooks/simotel/{new_token}/"
    wrong = basic("pbx-hook", SECRETS["mistyped password"])
    right = basic("pbx-hook", SECRETS["simotel webhook password"])
    for label, url, auth in [
        ("webhook, wrong password", hook, wrong),
        ("webhook, retired token", f"/hooks/simotel/{token}/", right),
        ("webhook", hook, right),
    ]:
        watch(
            label,
            Client().post(
                url,
                {"event_name": "Ping"},
                content_type="application/json",
                HTTP_AUTHORIZATION=auth,
            ),
        )
    return found


def api_flows(world: World, watch: Watch, receiver: Receiver) -> None:
    key = world.client("key_rw")
    made = watch(
        "API create credential",
        key.post(
            "/api/credentials",
            {
                "vendor": "meraki",
                "name": "Leak API Meraki",
                "secrets": {"api_key": SECRETS["meraki api key via API"]},
            },
            content_type="application/json",
        ),
    )
    assert made.status_code == 201, made.watched
    pk = made.json()["id"]
    watch("API credential list", key.get("/api/credentials"))
    watch("API credential", key.get(f"/api/credentials/{pk}"))
    watch(
        "API refused credential change",
        key.patch(
            f"/api/credentials/{pk}",
            {"secrets": {"api_key": SECRETS["meraki api key, refused edit"], "nope": "x"}},
            content_type="application/json",
        ),
    )
    monitor = watch(
        "API create monitor",
        key.post(
            "/api/icmp-monitors",
            {
                "customerId": world.c1.pk,
                "name": "Leak monitor",
                "hostname": "127.0.0.1",
                "notificationWebhookUrl": receiver.url,
                "notificationWebhookSecret": SECRETS["monitor webhook secret"],
            },
            content_type="application/json",
        ),
    )
    assert monitor.status_code == 201, monitor.watched
    public_id = monitor.json()["publicId"]
    watch("API monitor", key.get(f"/api/icmp-monitors/{public_id}"))
    watch("API monitor list", key.get("/api/icmp-monitors"))
    watch(
        "API refused monitor change",
        key.patch(
            f"/api/icmp-monitors/{public_id}",
            {
                "notificationWebhookSecret": SECRETS["monitor webhook secret, refused"],
                "checkInterval": -5,
            },
            content_type="application/json",
        ),
    )
    admin = world.client("admin")
    watch("monitor page", admin.get(f"/monitors/{public_id}/"))
    watch("monitor edit page", admin.get(f"/monitors/{public_id}/edit/"))
    watch(
        "refused monitor edit",
        admin.post(
            f"/monitors/{public_id}/edit/",
            {
                "customer": world.c1.pk,
                "name": "",
                "hostname": "",
                "notification_webhook_secret": SECRETS["monitor webhook secret, refused"],
            },
        ),
    )
    for what in ("checks", "incidents"):
        watch(f"{what}.csv", admin.get(f"/monitors/{public_id}/{what}.csv"))
        watch(
            f"customer {what}.csv", admin.get(f"/customers/{world.c1.public_id}/monitor-{what}.csv")
        )
    device = world.device_c1.pk
    job = watch(
        "API ping with callback",
        key.post(
            f"/api/devices/{device}/liveTools/ping",
            {
                "target": "127.0.0.1",
                "count": 1,
                "callback": {"url": receiver.url, "sharedSecret": SECRETS["ping callback secret"]},
            },
            content_type="application/json",
        ),
    )
    assert job.status_code == 201, job.watched
    ping_id = job.json()["pingId"]
    watch("API ping", key.get(f"/api/devices/{device}/liveTools/ping/{ping_id}"))
    watch("API pings", key.get("/api/pings"))
    watch(
        "API refused ping",
        key.post(
            "/api/pings",
            {
                "device": device,
                "count": 99,
                "callback": {
                    "url": "nope",
                    "sharedSecret": SECRETS["ping callback secret, refused"],
                },
            },
            content_type="application/json",
        ),
    )
    from pings.models import PingJob

    public = PingJob.objects.get(pk=int(ping_id)).public_id
    watch("ping page", admin.get(f"/pings/{public}/"))
    watch("ping history", admin.get("/pings/"))
    watch("ping history CSV", admin.get("/pings/export.csv"))


def account_flows(world: World, watch: Watch) -> dict[str, str]:
    admin = world.client("admin")
    watch(
        "add member",
        admin.post(
            "/members/add/",
            {
                "username": "leaky",
                "email": "leaky@example.test",
                "password": SECRETS["new account password"],
                "role": "readonly",
            },
            follow=True,
        ),
    )
    watch(
        "refused member",
        admin.post(
            "/members/add/",
            {
                "username": "leaky2",
                "email": "not an email",
                "password": SECRETS["refused account password"],
                "role": "readonly",
            },
        ),
    )
    watch(
        "refused customer user",
        admin.post(
            f"/customers/{world.c1.public_id}/users/",
            {"username": "leaky3", "email": "bad", "password": SECRETS["refused account password"]},
            follow=True,
        ),
    )
    leaky = Client()
    watch(
        "mistyped sign-in",
        leaky.post(
            "/accounts/login/", {"username": "leaky", "password": SECRETS["mistyped password"]}
        ),
    )
    watch(
        "sign-in",
        leaky.post(
            "/accounts/login/",
            {"username": "leaky", "password": SECRETS["new account password"]},
            follow=True,
        ),
    )
    watch(
        "refused password change",
        leaky.post(
            "/accounts/password/",
            {
                "old_password": SECRETS["mistyped password"],
                "new_password1": SECRETS["changed password"],
                "new_password2": SECRETS["changed password"],
            },
        ),
    )
    watch(
        "password change",
        leaky.post(
            "/accounts/password/",
            {
                "old_password": SECRETS["new account password"],
                "new_password1": SECRETS["changed password"],
                "new_password2": SECRETS["changed password"],
            },
            follow=True,
        ),
    )
    root = world.client("superuser")
    url = reverse("admin:auth_user_password_change", args=[world.users["viewer"].pk])
    watch(
        "admin: refused password",
        root.post(url, {"password1": SECRETS["password set by an admin"], "password2": "other"}),
    )
    watch(
        "admin: password set",
        root.post(
            url,
            {
                "password1": SECRETS["password set by an admin"],
                "password2": SECRETS["password set by an admin"],
            },
            follow=True,
        ),
    )
    made = admin.post("/api-keys/new/", {"name": "leak key", "read_only": ""})
    plaintext = re.search(r'<code id="new-key">([^<]+)</code>', made.content.decode()).group(1)
    watch("new API key (shown once)", made, shows=(plaintext,))
    watch("API key list", admin.get("/api-keys/"))
    for actor in ("key_rw", "key_ro", "key_customer"):
        watch(f"API with {actor}", world.client(actor).get("/api/customers"))
    watch("API with the new key", Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}").get("/api/"))
    wrong = plaintext[:-4] + "XXXX"
    watch("API with a wrong key", Client(HTTP_AUTHORIZATION=f"Bearer {wrong}").get("/api/pings"))
    return {"new API key": plaintext, "wrong API key": wrong}


def admin_and_audit_pages(world: World, watch: Watch) -> None:
    from vendors.models import Credential

    root = world.client("superuser")
    admin = world.client("admin")
    watch("audit log", admin.get("/audit/"))
    for model in apps.get_models():
        if model not in __import__("django.contrib.admin").contrib.admin.site._registry:
            continue
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        watch(f"admin list {base}", root.get(reverse(f"{base}_changelist")))
    for credential in Credential.objects.all():
        watch(
            f"admin credential {credential.pk}",
            root.get(reverse("admin:vendors_credential_change", args=[credential.pk])),
        )
    for key in world.keys.values():
        watch(f"admin key {key.pk}", root.get(reverse("admin:portal_apikey_change", args=[key.pk])))
    for monitor in apps.get_model("monitors", "Monitor").objects.all():
        watch(
            f"admin monitor {monitor.pk}",
            root.get(reverse("admin:monitors_monitor_change", args=[monitor.pk])),
        )
    for job in apps.get_model("pings", "PingJob").objects.all():
        watch(f"admin job {job.pk}", root.get(reverse("admin:pings_pingjob_change", args=[job.pk])))


def stored_in_clear(values: dict[str, str]) -> list[str]:
    found = []
    for model in apps.get_models():
        for row in model._base_manager.values_list():
            text = repr(row)
            found += [f"{name} in {model._meta.label}" for name, v in values.items() if v in text]
    return found


def test_no_secret_comes_back_out_anywhere(
    world: World, receiver: Receiver, logs: Any, capsys: Any
) -> None:
    watch = Watch()
    tokens = credential_flows(world, watch, world.client("admin"))
    api_flows(world, watch, receiver)
    keys = account_flows(world, watch)
    admin_and_audit_pages(world, watch)

    secrets = {
        **SECRETS,
        **tokens,
        **keys,
        "world's simotel webhook token": world.webhook_token,
        "world's simotel webhook password": "hook-secret-123456",
        **{f"API key {name}": value for name, value in world.key_plaintexts.items()},
    }
    printed = capsys.readouterr()
    outputs = {
        "log output": logs.getvalue(),
        "printed output": printed.out + printed.err,
        "mail": "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox),
    }
    leaks = [
        f"{name} in {label}"
        for name, value in secrets.items()
        for label, text, shows in watch.seen
        if value in text and value not in shows
    ]
    leaks += [
        f"{name} in {where}"
        for name, value in secrets.items()
        for where, text in outputs.items()
        if value in text
    ]
    assert not leaks, leaks
    # At rest: passwords are hashed, every other secret encrypted or hashed.
    assert not stored_in_clear(secrets)
    # The walk reached what it meant to: the shown-once pages showed, the logs were written.
    assert len(watch.seen) > 60
    assert any(keys["new API key"] in text for _, text, _ in watch.seen)
    assert "Unauthorized" in outputs["log output"]  # the webhook's wrong password was logged
    from portal.models import User
    from vendors.models import Credential

    assert Credential.objects.filter(name__startswith="Leak ").count() == 4
    assert User.objects.get(username="leaky").check_password(SECRETS["changed password"])
    world.users["viewer"].refresh_from_db()
    assert world.users["viewer"].check_password(SECRETS["password set by an admin"])


def test_secret_url_tokens_are_redacted_in_request_logs(world: World, logs: Any) -> None:
    from monitors.models import StatusPage

    page = StatusPage.objects.create(customer=world.c1, slug="leak-status", mode="off")
    Client().post(f"/hooks/simotel/{world.webhook_token}/", {}, content_type="application/json")
    Client().get(f"/status/s/{page.token}/")
    output = logs.getvalue()
    assert world.webhook_token not in output and page.token not in output
    assert "/hooks/simotel/[redacted]/" in output and "/status/s/[redacted]/" in output


def test_refusals_log_one_line_without_a_traceback(world: World, logs: Any) -> None:
    """A 404 or 403 is the portal working as meant: one line, no traceback (they drowned the real
    errors), and printed once (Django's own console handler on "django" doubled every line)."""
    assert logging.getLogger("django").handlers == []
    Client().get("/api/icmp-monitors/no-such-monitor", HTTP_AUTHORIZATION="Bearer pp_x_y")
    client = Client()
    client.force_login(world.users["viewer"])
    client.get(f"/monitors/{world.other_monitor.public_id}/")  # another organization's: 404
    client.post(f"/monitors/{world.monitor_c1.public_id}/edit/", {"name": "x"})  # read-only: 403
    output = logs.getvalue()
    assert "Not Found: /monitors/" in output and "Unauthorized: /api/" in output
    assert "Forbidden (Permission denied): /monitors/" in output
    assert "Traceback" not in output
