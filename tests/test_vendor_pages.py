"""Credentials, devices and the Simotel webhook as admins and operators meet them."""

from __future__ import annotations

import base64
import logging
import time

import pytest
import requests
from django.db import connection
from django.test import Client

from portal.models import AuditEvent
from tests.conftest import World
from vendors.models import ConnectionTest, Credential, Device, DeviceKind

MERAKI_KEY = "meraki-key-9f8e7d6c5b4a3210"


def raw_secret_column(credential: Credential) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secrets_encrypted FROM vendors_credential WHERE id = %s", [credential.pk]
        )
        return cursor.fetchone()[0]


def create_meraki(
    client: Client,
    name: str = "Meraki EU",
    key: str = MERAKI_KEY,
    base_url: str = "https://api.meraki.test/api/v1",
):
    return client.post(
        "/credentials/new/",
        {"vendor": "meraki", "name": name, "base_url": base_url, "secret_api_key": key},
    )


# --- secrets ----------------------------------------------------------------------------------


def test_secret_is_encrypted_at_rest_and_never_rendered(world: World, caplog):
    caplog.set_level(logging.DEBUG)
    client = world.client("admin")
    response = create_meraki(client)
    credential = Credential.objects.get(name="Meraki EU")
    assert response["Location"] == f"/credentials/{credential.pk}/"
    assert credential.secrets["api_key"] == MERAKI_KEY
    assert MERAKI_KEY not in raw_secret_column(credential)
    pages = [
        client.get(url).content.decode()
        for url in (
            f"/credentials/{credential.pk}/",
            f"/credentials/{credential.pk}/edit/",
            "/credentials/",
            f"/admin/vendors/credential/{credential.pk}/change/",
            "/audit/",
        )
    ]
    api = client.get(f"/api/credentials/{credential.pk}").content.decode()
    for text in [*pages, api, caplog.text, str(list(AuditEvent.objects.values()))]:
        assert MERAKI_KEY not in text
    assert "…3210" in pages[0]  # at most the last 4 characters
    assert client.get(f"/api/credentials/{credential.pk}").json()["secretStatus"] == {
        "api_key": "set · …3210"
    }


def test_a_form_error_does_not_echo_the_secret(world: World):
    response = create_meraki(world.client("admin"), name="", key=MERAKI_KEY)
    assert response.status_code == 400
    assert MERAKI_KEY not in response.content.decode()


def test_blank_secret_keeps_the_stored_one_and_a_new_one_replaces_it(world: World):
    client = world.client("admin")
    cred = world.cred
    client.post(
        f"/credentials/{cred.pk}/edit/",
        {"name": "Acme Meraki", "base_url": cred.base_url, "secret_api_key": ""},
    )
    cred.refresh_from_db()
    assert cred.secrets["api_key"] == "meraki-secret-0123456789abcdef"
    client.post(
        f"/credentials/{cred.pk}/edit/",
        {
            "name": "Acme Meraki",
            "base_url": cred.base_url,
            "secret_api_key": "replacement-key-000000",
        },
    )
    cred = Credential.objects.get(pk=cred.pk)
    assert cred.secrets["api_key"] == "replacement-key-000000"
    event = AuditEvent.objects.filter(action="credential.update").latest("id")
    assert event.details["changed"] == ["api_key"]  # names only, never values


def test_each_vendor_needs_its_secrets(world: World):
    client = world.client("admin")
    response = client.post(
        "/credentials/new/",
        {
            "vendor": "monogoto",
            "name": "M",
            "base_url": "https://console.monogoto.test",
            "secret_username": "alice",
        },
    )
    assert response.status_code == 400 and "A password is required" in response.content.decode()
    response = client.post(
        "/credentials/new/", {"vendor": "simotel", "name": "S", "base_url": "http://pbx.test"}
    )
    assert "API key, a Basic auth user, or both" in response.content.decode()
    assert not Credential.objects.filter(name__in=["M", "S"]).exists()


def test_api_secrets_are_write_only(world: World):
    client = world.client("key_rw")
    response = client.post(
        "/api/credentials",
        {
            "vendor": "simotel",
            "name": "PBX via API",
            "baseUrl": "http://127.0.0.1:9/pbx",
            "secrets": {"api_key": "simotel-api-key-777777"},
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert "secrets" not in body and body["secretStatus"]["api_key"] == "set · …7777"
    assert "simotel-api-key-777777" not in response.content.decode()
    bad = client.post(
        "/api/credentials",
        {"vendor": "meraki", "name": "x", "secrets": {"password": "p"}},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "secrets" in bad.json()["errors"]


def test_rotating_keys_keeps_secrets_readable(world: World, settings):
    from cryptography.fernet import Fernet

    from portal import crypto

    old_token = world.cred.secrets_encrypted
    settings.SECRETS_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.SECRETS_ENCRYPTION_KEYS,
    ]
    rotated = crypto.rotate(old_token)
    assert rotated != old_token
    assert crypto.decrypt_json(rotated)["api_key"] == "meraki-secret-0123456789abcdef"
    settings.SECRETS_ENCRYPTION_KEYS = settings.SECRETS_ENCRYPTION_KEYS[:1]  # old key dropped
    assert crypto.decrypt_json(rotated)["api_key"] == "meraki-secret-0123456789abcdef"
    with pytest.raises(crypto.SecretsUnreadable) as caught:
        crypto.decrypt_json(old_token)
    assert "meraki" not in str(caught.value)


def test_repr_and_str_of_a_credential_carry_no_secret(world: World):
    assert "meraki-secret" not in repr(world.cred) + str(world.cred)


# --- test connection ----------------------------------------------------------------------------


def test_test_connection_against_the_simulator_is_shown_and_audited(world: World, sim):
    client = world.client("admin")
    create_meraki(
        client, name="Sim Meraki", key="sim-meraki-key-0001", base_url=f"{sim.base}/meraki/api/v1"
    )
    cred = Credential.objects.get(name="Sim Meraki")
    html = client.post(f"/credentials/{cred.pk}/test/", HTTP_HX_REQUEST="true").content.decode()
    assert "Connection works" in html and "API answered in" in html
    # The page's "Recent tests" list comes along out of band: no reload to see the new test.
    assert 'id="recent-tests" hx-swap-oob="true"' in html and "Not tested yet" not in html
    test = ConnectionTest.objects.get(credential=cred)
    assert test.ok and test.api_ms is not None
    assert AuditEvent.objects.filter(action="credential.test", details__ok=True).exists()


def test_failed_test_shows_the_vendor_message_in_plain_words(world: World, sim):
    client = world.client("admin")
    create_meraki(
        client, name="Wrong key", key="not-the-right-key-000", base_url=f"{sim.base}/meraki/api/v1"
    )
    cred = Credential.objects.get(name="Wrong key")
    html = client.post(f"/credentials/{cred.pk}/test/", HTTP_HX_REQUEST="true").content.decode()
    assert "Connection failed" in html and "Meraki refused the API key: Invalid API key" in html
    assert "not-the-right-key" not in html


def test_unreachable_vendor_is_reported_not_crashed(world: World):
    html = (
        world.client("admin")
        .post(f"/credentials/{world.cred.pk}/test/", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "could not be reached" in html


@pytest.mark.django_db(transaction=True)
def test_simotel_api_time_and_webhook_arrival_are_shown(live_server, sim, settings):
    from tests.conftest import make_world

    world = make_world()
    settings.PORTAL_BASE_URL = live_server.url
    client = world.client("admin")
    page = client.post(
        "/credentials/new/",
        {
            "vendor": "simotel",
            "name": "Sim PBX",
            "base_url": f"{sim.base}/simotel",
            "simotel_method": "PUT",
            "secret_api_key": "sim-simotel-key",
            "secret_webhook_user": "pbx",
            "secret_webhook_password": "hook-pw-1234567",
        },
    ).content.decode()
    url = page.split('id="webhook-url">')[1].split("<")[0]
    assert url.startswith(f"{live_server.url}/hooks/simotel/")
    requests.post(
        f"{sim.base}/_sim/simotel/webhook",
        timeout=5,
        json={
            "api_key": "sim-simotel-key",
            "url": url,
            "user": "pbx",
            "password": "hook-pw-1234567",
        },
    )
    cred = Credential.objects.get(name="Sim PBX")
    html = client.post(f"/credentials/{cred.pk}/test/", HTTP_HX_REQUEST="true").content.decode()
    assert "waiting for the Ping webhook" in html
    test = ConnectionTest.objects.get(credential=cred)
    for _ in range(50):
        test.refresh_from_db()
        if test.webhook_ms is not None:
            break
        time.sleep(0.1)
    status = client.get(f"/credentials/{cred.pk}/test/{test.pk}/", HTTP_HX_REQUEST="true")
    assert f"API answered in {test.api_ms} ms; webhook arrived after {test.webhook_ms} ms" in (
        status.content.decode()
    )


def test_webhook_checks_basic_auth_and_ignores_repeats(world: World):
    ConnectionTest.objects.create(credential=world.simotel_cred, ok=True, api_ms=12)
    url = f"/hooks/simotel/{world.webhook_token}/"
    good = "Basic " + base64.b64encode(b"pbx:hook-secret-123456").decode()
    bad = "Basic " + base64.b64encode(b"pbx:guess").decode()
    client = Client()
    assert (
        client.post(
            url, {"event_name": "Ping"}, content_type="application/json", HTTP_AUTHORIZATION=bad
        ).status_code
        == 401
    )
    first = client.post(
        url, {"event_name": "Ping"}, content_type="application/json", HTTP_AUTHORIZATION=good
    )
    assert first.json() == {"ok": True, "matched": True}
    again = client.post(
        url, {"event_name": "Ping"}, content_type="application/json", HTTP_AUTHORIZATION=good
    )
    assert again.json() == {"ok": True, "matched": False}
    assert (
        client.post(
            "/hooks/simotel/unknown-token/", {}, content_type="application/json"
        ).status_code
        == 404
    )


def test_webhook_accepts_the_rest4_format_with_the_event_in_the_url(world: World):
    ConnectionTest.objects.create(credential=world.simotel_cred, ok=True, api_ms=12)
    good = "Basic " + base64.b64encode(b"pbx:hook-secret-123456").decode()
    response = Client().post(
        f"/hooks/simotel/{world.webhook_token}/Ping/",
        data=b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=good,
    )
    assert response.json()["matched"] is True


# --- devices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "monogoto_thing", "iccid": "8912372646888991", "credential": "monogoto"},
        {"kind": "meraki_device", "serial": "Q234-ABCD-5678", "credential": "meraki"},
        {"kind": "simotel_server", "credential": "simotel"},
        {"kind": "host", "host": "127.0.0.5"},
        {"kind": "host", "host": "::1"},
        {"kind": "host", "host": "gateway.example.test"},
    ],
)
def test_operator_adds_each_kind_of_device(world: World, fields: dict):
    from vendors.models import Vendor

    creds = {"meraki": world.cred, "simotel": world.simotel_cred}
    if fields.get("credential") == "monogoto":
        cred = Credential(
            organization=world.org,
            vendor=Vendor.MONOGOTO,
            name="Mono",
            base_url="http://127.0.0.1:9/m",
        )
        cred.set_secrets(username="u", password="p")
        cred.save()
        creds["monogoto"] = cred
    data = {"customer": world.c1.pk, "name": "New device", **fields}
    if "credential" in fields:
        data["credential"] = creds[fields["credential"]].pk
    response = world.client("operator").post("/devices/new/", data)
    device = Device.objects.get(name="New device")
    assert response["Location"] == f"/devices/{device.public_id}/"
    assert device.organization == world.org and device.kind == fields["kind"]


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"kind": "monogoto_thing", "iccid": "89-12"}, "iccid", "15 to 22 digits"),
        ({"kind": "meraki_device", "serial": "ABC"}, "serial", "Q234-ABCD-5678"),
        ({"kind": "host", "host": "https://router.test/ping"}, "host", "without a scheme"),
        ({"kind": "host", "host": "router.test/ping"}, "host", "without a path"),
        ({"kind": "host", "host": "two words"}, "host", "bare hostname"),
        ({"kind": "host", "host": ""}, "host", "Enter an IP address or a hostname"),
        ({"kind": "host", "host": "a" * 300}, "host", "at most 253 characters"),
        ({"kind": "host", "host": "-bad-.example"}, "host", "valid hostname"),
        ({"kind": "host", "host": "999.1.1.1"}, "host", "valid IPv4"),
        ({"kind": "meraki_device", "serial": "Q234-ABCD-5678"}, "credential", "needs a"),
    ],
)
def test_device_garbage_gets_field_errors(world: World, fields, field, message):
    response = world.client("operator").post(
        "/devices/new/", {"customer": world.c1.pk, "name": "Bad", **fields}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Device.objects.filter(name="Bad").exists()


def test_device_with_the_wrong_vendors_credential_is_refused(world: World):
    response = world.client("operator").post(
        "/devices/new/",
        {
            "customer": world.c1.pk,
            "name": "Bad",
            "kind": "meraki_device",
            "serial": "Q234-ABCD-5678",
            "credential": world.simotel_cred.pk,
        },
    )
    assert response.status_code == 400 and "Pick a Meraki credential" in response.content.decode()


def test_device_with_another_organizations_credential_is_refused(world: World):
    response = world.client("operator").post(
        "/devices/new/",
        {
            "customer": world.c1.pk,
            "name": "Bad",
            "kind": "meraki_device",
            "serial": "Q234-ABCD-5678",
            "credential": world.other_cred.pk,
        },
    )
    assert response.status_code == 400
    assert not Device.objects.filter(name="Bad").exists()


def test_customer_user_sees_only_their_devices(world: World):
    html = world.client("customer").get("/devices/").content.decode()
    assert "Gateway" in html and "Router" not in html and "Globex host" not in html


def test_device_list_filters(world: World):
    client = world.client("viewer")
    html = client.get(f"/devices/?customer={world.c2.public_id}", HTTP_HX_REQUEST="true")
    assert "Router" in html.content.decode() and "Gateway" not in html.content.decode()
    assert "Gateway" in client.get("/devices/?q=127.0.0.1").content.decode()


# --- CSV import ---------------------------------------------------------------------------------

GOOD_CSV = """customer,kind,name,credential,iccid,serial,host
Northwind,monogoto_thing,SIM 1,,8912372646888991,,
Northwind,host,Router 9,,,,127.0.0.9
Contoso,meraki_device,MX 1,Acme Meraki,,Q234-ABCD-5678,
"""


def test_import_dry_run_lists_rows_and_creates_nothing(world: World):
    from vendors.models import Vendor

    mono = Credential(
        organization=world.org, vendor=Vendor.MONOGOTO, name="Mono", base_url="http://127.0.0.1:9/m"
    )
    mono.save()
    csv_text = GOOD_CSV.replace("SIM 1,,", "SIM 1,Mono,")
    client = world.client("operator")
    before = Device.objects.count()
    response = client.post("/devices/import/", {"text": csv_text})
    html = response.content.decode()
    assert response.status_code == 200 and html.count("will be created") == 3
    assert Device.objects.count() == before
    response = client.post("/devices/import/", {"text": csv_text, "confirm": "yes"})
    assert response.status_code == 302
    assert Device.objects.count() == before + 3
    assert AuditEvent.objects.filter(action="device.import", details__created=3).exists()


def test_import_reports_every_rows_error_and_creates_nothing(world: World):
    csv_text = """customer,kind,name,serial,host,iccid
Northwind,host,Fine,,127.0.0.9,
Nowhere,host,No customer,,127.0.0.9,
Northwind,laptop,Bad kind,,,
Northwind,host,Bad host,,http://x/y,
Contoso,meraki_device,No credential,Q234-ABCD-5678,,
Globex,host,Other org,,127.0.0.1,
"""
    client = world.client("operator")
    before = Device.objects.count()
    response = client.post("/devices/import/", {"text": csv_text, "confirm": "yes"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "5 with problems" in html and "Nowhere" in html and "use one of" in html
    assert "without a scheme" in html and "needs a" in html
    assert Device.objects.count() == before


def test_import_refuses_unknown_columns_and_duplicates(world: World):
    client = world.client("operator")
    html = client.post("/devices/import/", {"text": "customer,kind,name,colour\n"}).content
    assert b"Unknown column" in html
    dupes = (
        "customer,kind,name,iccid,credential\n"
        "Northwind,monogoto_thing,A,8912372646888991,\n"
        "Northwind,monogoto_thing,B,8912372646888991,\n"
    )
    html = client.post("/devices/import/", {"text": dupes}).content.decode()
    assert "needs a" in html  # no credential given: each row says so


def test_import_upload_file(world: World):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("d.csv", b"customer,kind,name,host\nNorthwind,host,Up,127.0.0.7\n")
    response = world.client("admin").post("/devices/import/", {"file": upload})
    assert "will be created" in response.content.decode()


def test_device_kind_labels_are_complete():
    assert {k.vendor for k in DeviceKind} == {"monogoto", "meraki", "simotel", None}


def test_rotate_secrets_command_moves_everything_to_the_newest_key(world: World, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old_keys = list(settings.SECRETS_ENCRYPTION_KEYS)
    settings.SECRETS_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    call_command("rotate_secrets", stdout=__import__("io").StringIO())
    settings.SECRETS_ENCRYPTION_KEYS = settings.SECRETS_ENCRYPTION_KEYS[:1]  # old key gone
    for credential in Credential.objects.all():
        assert credential.secrets  # still readable with the new key alone
    assert AuditEvent.objects.filter(action="secrets.rotate").exists()
