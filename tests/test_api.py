"""The API base: shapes, errors, API keys and the customers endpoints."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver

from portal.models import ApiKey, AuditEvent, Customer
from tests.conftest import World

CAMEL_FIELDS = {
    "id",
    "publicId",
    "organizationId",
    "name",
    "description",
    "contactEmail",
    "createdAt",
    "updatedAt",
}


def test_customers_list_is_camel_case_and_paginated(world: World):
    response = world.api("key_ro", "GET", "/api/customers?perPage=1")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and body["page"] == 1 and body["perPage"] == 1
    assert len(body["items"]) == 1
    assert set(body["items"][0]) == CAMEL_FIELDS
    second = world.api("key_ro", "GET", "/api/customers?perPage=1&page=2").json()
    assert {body["items"][0]["name"], second["items"][0]["name"]} == {"Northwind", "Contoso"}


def test_customer_detail_by_public_id_with_or_without_trailing_slash(world: World):
    for path in (f"/api/customers/{world.c1.public_id}", f"/api/customers/{world.c1.public_id}/"):
        body = world.api("admin", "GET", path).json()
        assert body["id"] == world.c1.pk
        assert body["publicId"] == str(world.c1.public_id)
        assert body["organizationId"] == world.org.pk


def test_search_filters_the_list(world: World):
    body = world.api("admin", "GET", "/api/customers?search=north").json()
    assert [c["name"] for c in body["items"]] == ["Northwind"]


@pytest.mark.parametrize(
    "query", ["perPage=0", "perPage=201", "perPage=x", "page=0", "organizationId=abc"]
)
def test_bad_query_parameters_are_field_errors(world: World, query: str):
    response = world.api("admin", "GET", f"/api/customers?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["statusCode"] == 400 and body["statusMessage"] == "Bad Request"
    assert query.split("=")[0] in body["errors"]


def test_invalid_body_gives_field_errors_and_changes_nothing(world: World):
    before = Customer.objects.count()
    response = world.api("key_rw", "POST", "/api/customers", {"name": "", "contactEmail": "no"})
    assert response.status_code == 400
    body = response.json()
    assert set(body["errors"]) == {"name", "contactEmail"}
    assert Customer.objects.count() == before


def test_malformed_json_is_a_400_in_the_same_shape(world: World):
    client = world.client("key_rw")
    response = client.post("/api/customers", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["statusMessage"] == "Bad Request"


def test_duplicate_customer_name_is_refused(world: World):
    response = world.api("key_rw", "POST", "/api/customers", {"name": "northwind"})
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_create_with_read_write_key_lands_in_the_keys_organization_and_is_audited(world: World):
    response = world.api(
        "key_rw", "POST", "/api/customers", {"name": "Initech", "contactEmail": "noc@initech.test"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["organizationId"] == world.org.pk and body["contactEmail"] == "noc@initech.test"
    event = AuditEvent.objects.get(action="customer.create", target_label="Initech")
    assert event.organization == world.org
    assert event.details["via_api_key_prefix"] == world.keys["key_rw"].prefix


def test_create_in_another_organization_by_id_is_refused(world: World):
    response = world.api(
        "key_rw", "POST", "/api/customers", {"name": "Sneaky", "organizationId": world.other_org.pk}
    )
    assert response.status_code == 400
    invisible = response.json()["errors"]["organizationId"]
    missing = world.api(
        "key_rw", "POST", "/api/customers", {"name": "Sneaky", "organizationId": 999999}
    ).json()["errors"]
    assert invisible == [
        m.replace("999999", str(world.other_org.pk)) for m in missing["organizationId"]
    ]
    assert not Customer.objects.filter(name="Sneaky").exists()


def test_organization_cannot_be_changed_by_patch(world: World):
    response = world.api(
        "admin",
        "PATCH",
        f"/api/customers/{world.c1.public_id}",
        {"organizationId": world.other_org.pk},
    )
    assert response.status_code == 400
    world.c1.refresh_from_db()
    assert world.c1.organization == world.org


def test_read_only_key_write_is_403_and_changes_nothing(world: World):
    response = world.api(
        "key_ro", "PATCH", f"/api/customers/{world.c1.public_id}", {"name": "Hacked"}
    )
    assert response.status_code == 403
    assert response.json()["statusCode"] == 403
    world.c1.refresh_from_db()
    assert world.c1.name == "Northwind"


def test_other_organizations_customer_is_404_for_reads_and_writes(world: World):
    path = f"/api/customers/{world.other_customer.public_id}"
    assert world.api("key_rw", "GET", path).status_code == 404
    assert world.api("key_rw", "DELETE", path).status_code == 404
    assert Customer.objects.filter(pk=world.other_customer.pk).exists()


def test_delete_answers_success_and_is_audited(world: World):
    spare = Customer.objects.create(organization=world.org, name="Spare")
    response = world.api("admin", "DELETE", f"/api/customers/{spare.public_id}")
    assert response.status_code == 200 and response.json() == {"success": True}
    assert not Customer.objects.filter(pk=spare.pk).exists()
    assert AuditEvent.objects.filter(action="customer.delete", target_label="Spare").exists()


def test_a_customer_with_devices_is_kept_with_a_409(world: World):
    response = world.api("admin", "DELETE", f"/api/customers/{world.c2.public_id}")
    assert response.status_code == 409
    assert response.json()["statusMessage"] == "Conflict"
    assert Customer.objects.filter(pk=world.c2.pk).exists()
    assert not AuditEvent.objects.filter(action="customer.delete").exists()


# --- errors are JSON everywhere under /api/ --------------------------------------------------


def test_unknown_api_path_is_json_404_even_in_debug(world: World, settings):
    settings.DEBUG = True
    response = world.api("admin", "GET", "/api/nope/nothing")
    assert response.status_code == 404
    assert response.json()["statusMessage"] == "Not Found"


def test_unauthenticated_is_401_with_bearer_challenge(db):
    from django.test import Client

    response = Client().get("/api/customers")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["statusMessage"] == "Unauthorized"


def test_unexpected_exception_is_json_500_not_html(world: World, settings):
    settings.DEBUG = True
    with mock.patch("portal.api.views.CustomerViewSet.get_queryset", side_effect=RuntimeError):
        client = world.client("admin")
        client.raise_request_exception = False
        response = client.get("/api/customers")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["statusCode"] == 500


def test_method_not_allowed_is_json(world: World):
    response = world.api("admin", "PUT", f"/api/customers/{world.c1.public_id}", {})
    assert response.status_code == 405
    assert response.json()["statusCode"] == 405


def test_session_writes_need_csrf(world: World):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["admin"])
    response = client.post("/api/customers", data={"name": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


def test_no_page_path_starts_with_api():
    """/api/ is resolved before the pages' includes and ends in a catch-all JSON 404: a page
    path under api/ would never be reached."""

    def walk(patterns: list, prefix: str = "") -> list[str]:
        found = []
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver) and route != "api/":
                found += walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.append(route)
        return found

    assert [route for route in walk(get_resolver().url_patterns) if route.startswith("api/")] == []


# --- API keys --------------------------------------------------------------------------------


def test_key_is_stored_as_prefix_and_hash_only(world: World):
    key = world.keys["key_rw"]
    plaintext = world.key_plaintexts["key_rw"]
    assert plaintext.startswith(f"pp_{key.prefix}_")
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert plaintext not in str(stored)
    assert key.key_hash == ApiKey.hash(plaintext)


@pytest.mark.parametrize(
    "header", ["Bearer pp_deadbeef_wrong", "Bearer nonsense", "Bearer ", "Bearer pp_", "Token abc"]
)
def test_bad_keys_are_401(world: World, header: str):
    from django.test import Client

    response = Client(HTTP_AUTHORIZATION=header).get("/api/customers")
    assert response.status_code == 401


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(world: World):
    from django.test import Client

    key = world.keys["key_rw"]
    response = Client(HTTP_AUTHORIZATION=f"Bearer pp_{key.prefix}_guess").get("/api/customers")
    assert response.status_code == 401


def test_revoked_key_stops_working(world: World):
    world.keys["key_rw"].revoke()
    assert world.api("key_rw", "GET", "/api/customers").status_code == 401
    assert world.keys["key_rw"].revoke() is False  # second revoke changes nothing


def test_last_used_is_recorded_at_most_once_a_minute(world: World):
    key = world.keys["key_ro"]
    assert key.last_used_at is None
    world.api("key_ro", "GET", "/api/customers")
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        world.api("key_ro", "GET", "/api/customers")
    assert not any("UPDATE" in q["sql"] and "last_used_at" in q["sql"] for q in queries)
    key.refresh_from_db()
    assert key.last_used_at == first


def test_keys_are_compared_in_constant_time(world: World):
    with mock.patch("portal.models.hmac.compare_digest", return_value=False) as compare:
        assert ApiKey.authenticate(world.key_plaintexts["key_rw"]) is None
        assert ApiKey.authenticate("pp_00000000_unknown") is None  # hashes even without a row
    assert compare.call_count == 2


def test_create_api_key_command_prints_a_working_key_once(world: World):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_key",
        "--organization",
        "acme",
        "--read-only",
        "--customer",
        str(world.c1.public_id),
        stdout=out,
        stderr=err,
    )
    plaintext = out.getvalue().strip()
    key = ApiKey.authenticate(plaintext)
    assert key is not None and key.read_only and key.customer == world.c1
    assert plaintext not in err.getvalue()
    from django.test import Client

    body = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}").get("/api/customers").json()
    assert [c["name"] for c in body["items"]] == ["Northwind"]
    assert AuditEvent.objects.filter(action="api_key.create", target_id=str(key.pk)).exists()


def test_create_api_key_command_rejects_unknown_names(world: World):
    with pytest.raises(CommandError, match="No organization"):
        call_command("create_api_key", "--organization", "nowhere")
    with pytest.raises(CommandError, match="publicId"):
        call_command("create_api_key", "--organization", "Acme Networks", "--customer", "x")
    with pytest.raises(CommandError, match="no customer"):
        call_command(
            "create_api_key",
            "--organization",
            "acme",
            "--customer",
            str(world.other_customer.public_id),
        )


# --- OpenAPI ---------------------------------------------------------------------------------


def test_schema_documents_the_customer_endpoints(db):
    from django.test import Client

    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/customers" in schema["paths"] or "/api/customers/" in schema["paths"]
    customer = schema["components"]["schemas"]["Customer"]
    assert {"id", "publicId", "organizationId"} <= set(customer["properties"])


def test_swagger_and_redoc_use_local_assets_only(db):
    from django.test import Client

    for path in ("/api/docs/", "/api/redoc/"):
        html = Client().get(path).content.decode()
        assert "cdn" not in html.lower() and "https://" not in html


def test_schema_generates_without_warnings_and_validates(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/customers" in (tmp_path / "s.yml").read_text()
