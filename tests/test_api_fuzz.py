"""API fuzzing: schemathesis generates requests from the portal's own OpenAPI schema and sends
them to the Django app in-process, as an organization's read-write (admin) API key, a read-only
key and with no key. Every answer must be documented: no 5xx, a documented status code and
content type, a body that matches the documented schema. And every operation under /api/ that
the URL resolver knows must be in the schema.

Determinism: Hypothesis is derandomized (the examples depend only on the schema and this file)
and keeps no example database, so CI sees the same requests every run.

Safety: launches are queued but no worker runs them (`launching.enqueue` is replaced), every
`requests` call meets an empty `responses` mock (an unmocked call fails at once), and name
resolution answers only for loopback, so nothing the fuzzer sends can reach a vendor or the
outside network.
"""

from __future__ import annotations

import functools
import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import responses
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from portal.models import AuditEvent
from tests.conftest import DEAD_VENDOR, World, make_world


def camel_case_error_keys(ctx: Any, response: Any, case: Any) -> bool | None:
    """Field errors name fields as the request spells them (camelCase); DRF's own
    `non_field_errors` once leaked through (fixed by NON_FIELD_ERRORS_KEY)."""
    assert "non_field_errors" not in response.text, "snake_case error key in the answer"
    return None


# The checks the issue asks for: no 5xx, and status code, content type, headers and body as
# documented; and the error envelope's own convention.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    camel_case_error_keys,
]

# Who calls: an organization's read-write key (what an admin issues), a read-only key, nobody.
IDENTITIES = {"admin_key": "key_rw", "readonly_key": "key_ro", "no_key": None}

# Examples per operation and identity. Without a key every request ends at the same 401, so a
# few suffice; reads by the read-only key run the same code as the admin's.
EXAMPLES = {"admin_key": 40, "readonly_key": 15, "no_key": 4}

# Paths that are not API operations (see test_every_api_operation_is_in_the_schema).
NOT_OPERATIONS = {
    # The schema itself and its two viewers (Swagger UI, Redoc): documentation, not the API.
    "api/schema/",
    "api/docs/",
    "api/redoc/",
    # The catch-all that answers a JSON 404 for any other path under /api/.
    "api/^.*$",
}


def _load_schema() -> dict[str, Any]:
    """The schema exactly as /api/schema/ serves it (rendered to JSON and read back, so that
    lazy strings and tuples become what a client sees)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(raw))


SCHEMA = _load_schema()


@functools.cache
def _schemathesis_schema() -> Any:
    return schemathesis.openapi.from_dict(SCHEMA)


OPERATIONS = [
    (path, method.upper())
    for path, item in SCHEMA["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
]


# --- the world the fuzzer works in -----------------------------------------------------------


def _fuzz_world() -> World:
    """The shared test world plus what the operations need to reach their real code paths:
    a device of every kind (vendor ones on a dead loopback port), a customer with nothing
    attached (deletable), a running job with a callback, a failed job, notifications."""
    from monitors.models import Notification, NotificationAttempt
    from pings.models import PingJob
    from portal.models import Customer
    from vendors.models import Credential, Device, DeviceKind, Vendor

    world = make_world()
    org = world.org
    world.spare_customer = Customer.objects.create(organization=org, name="Spare")
    monogoto = Credential(
        organization=org, vendor=Vendor.MONOGOTO, name="Acme SIMs", base_url=DEAD_VENDOR
    )
    monogoto.set_secrets(username="demo", password="demo-password")
    monogoto.save()
    world.meraki_device = Device.objects.create(
        customer=world.c1,
        kind=DeviceKind.MERAKI_DEVICE,
        name="Clinic MX68",
        serial="Q2AB-CDEF-0001",
        credential=world.cred,
    )
    world.thing = Device.objects.create(
        customer=world.c1,
        kind=DeviceKind.MONOGOTO_THING,
        name="Truck SIM",
        iccid="8988303000000000001",
        credential=monogoto,
    )
    world.pbx = Device.objects.create(
        customer=world.c2,
        kind=DeviceKind.SIMOTEL_SERVER,
        name="Office PBX",
        credential=world.simotel_cred,
    )
    now = timezone.now()
    world.running_job = PingJob(
        organization=org,
        customer=world.c1,
        device=world.meraki_device,
        vendor="meraki",
        launched_by_label="API key ci",
        via="api",
        target="127.0.0.1",
        count=3,
        status="running",
        created_at=now,
        started_at=now,
        deadline_at=now + timedelta(minutes=5),
    )
    world.running_job.set_callback("http://127.0.0.1:9/hook", "shared-secret-1234")
    world.running_job.save()
    world.failed_job = PingJob.objects.create(
        organization=org,
        customer=world.c1,
        device=world.thing,
        vendor="monogoto",
        launched_by_label="operator",
        via="page",
        count=1,
        status="failed",
        created_at=now,
        finished_at=now,
        deadline_at=now,
        error="The vendor could not be reached",
        error_kind="unreachable",
    )
    sent = Notification.objects.create(
        incident=world.incident_c1,
        monitor=world.monitor_c1,
        event="opened",
        channel="webhook",
        destination="http://127.0.0.1:9/alerts",
        status="sent",
        attempts=1,
    )
    NotificationAttempt.objects.create(
        notification=sent, monitor=world.monitor_c1, number=1, at=now, ok=True
    )
    Notification.objects.create(
        incident=world.incident_c1,
        monitor=world.monitor_c1,
        event="opened",
        channel="email",
        destination="noc@example.test",
        status="pending",
    )
    return world


def _field_values(world: World) -> dict[str, list[Any]]:
    """Real values for the query and body fields that name objects (as ids or publicIds)."""
    customers = (world.c1, world.other_customer)
    return {
        "customerId": [c.pk for c in customers] + [str(c.public_id) for c in customers],
        "device": [world.meraki_device.serial, str(world.device_c1.pk), world.thing.iccid],
        "organizationId": [world.org.pk, world.other_org.pk],
    }


def _path_values(world: World) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """Real values for each path parameter: the organization's own objects (the real code
    paths) and the other organization's, returned apart too (they must answer 404)."""
    own_jobs = [world.job_c1, world.job_c2, world.running_job, world.failed_job]
    own = {
        "publicId": [str(c.public_id) for c in (world.c1, world.spare_customer)],
        "id": [world.cred.pk, world.simotel_cred.pk],
        "public_id": [str(m.public_id) for m in (world.monitor_c1, world.monitor_c2)],
        "serial": [
            str(world.device_c1.pk),
            world.meraki_device.serial,
            world.thing.iccid,
            str(world.pbx.pk),
        ],
        "ping_id": [str(j.pk) for j in own_jobs],
    }
    foreign = {
        "publicId": str(world.other_customer.public_id),
        "id": world.other_cred.pk,
        "public_id": str(world.other_monitor.public_id),
        "serial": str(world.other_device.pk),
        "ping_id": str(world.other_job.pk),
    }
    values = {name: [*own[name], foreign[name]] for name in own}
    return values, {name: str(value) for name, value in foreign.items()}


# --- safety and plumbing ---------------------------------------------------------------------


@pytest.fixture
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Launches are queued for no worker, `requests` meets an empty `responses` mock, and
    names resolve for loopback only."""
    from pings import launching

    monkeypatch.setattr(launching, "enqueue", lambda job: None)
    real_getaddrinfo = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in ("localhost", "127.0.0.1", "::1") or name.startswith("127."):
            return real_getaddrinfo(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, f"fuzzing resolves no outside names ({name})")

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        yield


@pytest.fixture
def wsgi_app() -> Iterator[WSGIHandler]:
    """Django's WSGI application, used in-process inside the test's transaction. Like Django's
    test client, it must not close the database connection at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(db: Any, settings: Any, no_outside_network: None) -> World:
    # Callback URLs on loopback are fine here (and judging other names would need DNS).
    settings.PING_CALLBACKS_TO_PRIVATE_NETWORKS = True
    settings.ALERT_WEBHOOKS_TO_PRIVATE_NETWORKS = True
    return _fuzz_world()


def _case_strategy(operation: Any, world: World) -> st.SearchStrategy[tuple[Any, bool]]:
    """Valid and invalid requests for `operation`, each with whether its path names another
    organization's object. Path parameters, and query or body fields that name objects, are
    often swapped for real ids, so that requests reach more than the 404 or the "not found"
    field error."""
    modes = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    (path_values, foreign), field_values = _path_values(world), _field_values(world)

    def swap(draw: Callable[..., Any], values: Any, known: dict[str, list[Any]]) -> None:
        if not isinstance(values, dict):
            return
        for name in [n for n in values if known.get(n)]:
            choice = draw(st.sampled_from([*known[name], None]))
            if choice is not None:
                values[name] = choice

    @st.composite
    def cases(draw: Callable[..., Any]) -> tuple[Any, bool]:
        case = draw(st.one_of(*modes))
        swap(draw, case.path_parameters, path_values)
        swap(draw, case.query, {k: [str(v) for v in vs] for k, vs in field_values.items()})
        swap(draw, case.body, field_values)
        names_foreign = any(
            str(value) == foreign.get(name) for name, value in (case.path_parameters or {}).items()
        )
        return case, names_foreign

    return cases()


@pytest.mark.parametrize("identity", list(IDENTITIES))
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_operation_answers_as_documented(
    fuzz_world: World, wsgi_app: WSGIHandler, path: str, method: str, identity: str
) -> None:
    world = fuzz_world
    actor = IDENTITIES[identity]
    headers = {"Authorization": f"Bearer {world.key_plaintexts[actor]}"} if actor else {}
    operation = _schemathesis_schema()[path][method]
    strategy = _case_strategy(operation, world)
    statuses: set[int] = set()

    @hypothesis_settings(
        max_examples=EXAMPLES[identity],
        derandomize=True,
        database=None,
        deadline=None,
        # Generation time depends on the machine's load (CI shares two cores).
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(drawn=strategy)
    def fuzz(drawn: tuple[Any, bool]) -> None:
        case, names_foreign = drawn
        # Each example starts from the same world: its writes are rolled back.
        with transaction.atomic():
            events_before = AuditEvent.objects.count()
            response = case.call(app=wsgi_app, headers=headers, base_url="http://testserver")
            case.validate_response(response, checks=CHECKS)
            status = response.status_code
            statuses.add(status)
            if identity == "no_key":
                # Nothing is public; only input no request may carry is refused before that.
                assert status == 401 or _refused_nul(response), response.text
            if identity == "readonly_key" and method != "GET":
                assert status >= 400, response.text
                assert AuditEvent.objects.count() == events_before, "a read-only key changed"
            if names_foreign and identity == "admin_key":
                # Another organization's object does not exist for us (a 400 may come first:
                # it says nothing about the object).
                assert status in (400, 404), response.text
            transaction.set_rollback(True)

    fuzz()
    if identity == "admin_key":
        # The fuzzer got past validation and lookups at least once: the fixtures and the
        # schema's documented inputs reach the operation's real work.
        assert any(200 <= s < 300 for s in statuses), f"never succeeded: {sorted(statuses)}"


def _refused_nul(response: Any) -> bool:
    return response.status_code == 400 and "NUL characters" in response.json()["message"]


# --- every operation is documented ------------------------------------------------------------


def _api_patterns() -> list[tuple[str, Any]]:
    """(route, view) for every URL pattern under /api/, as the resolver nests them."""
    found: list[tuple[str, Any]] = []

    def walk(entries: list[Any], prefix: str) -> None:
        for entry in entries:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/"):
                found.append((route, entry.callback))

    walk(get_resolver().url_patterns, "")
    return found


def _methods(view: Any) -> set[str]:
    """The HTTP methods a view really answers (not OPTIONS/HEAD, which DRF adds to all)."""
    cls = getattr(view, "cls", None)
    assert cls is not None, f"{view} is not a DRF view: the API has only DRF views"
    allowed = {m for m in cls.http_method_names if m not in ("options", "head")}
    actions = getattr(view, "actions", None)
    if actions:  # a viewset: the router's method → action map, minus what the class refuses
        return {m.upper() for m in actions if m in allowed and hasattr(cls, actions[m])}
    return {m.upper() for m in allowed if hasattr(cls, m)}


def _shape(path: str) -> str:
    """A path with its parameters unnamed: `/api/credentials/{pk}` and the schema's
    `/api/credentials/{id}` are the same operation to a client."""
    return re.sub(r"\{\w+\}", "{}", path)


def _template(route: str) -> str:
    """`api/^icmp-monitors/(?P<public_id>[^/]+)/?$` → `/api/icmp-monitors/{}`."""
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    route = route.replace("/?", "").rstrip("/")
    return _shape("/" + route)


def _documented() -> set[tuple[str, str]]:
    # As the contracts write paths: without the trailing slash (which the routes also accept).
    return {(_shape(path), method) for path, method in OPERATIONS}


def test_every_api_operation_is_in_the_schema() -> None:
    served = {
        (_template(route), method)
        for route, view in _api_patterns()
        if route not in NOT_OPERATIONS
        for method in _methods(view)
    }
    assert served, "no API URL patterns found"
    missing = sorted(served - _documented())
    assert not missing, f"operations missing from the OpenAPI schema: {missing}"
    # And the schema promises nothing that is not served.
    assert not sorted(_documented() - served), "the schema documents operations nobody serves"


def test_the_excluded_paths_exist() -> None:
    """The exclusions above name real patterns (a renamed one would silently widen them)."""
    routes = {route for route, _ in _api_patterns()}
    assert routes >= NOT_OPERATIONS


# --- what the fuzzer found, kept as plain regression tests ----------------------------------

# "²" passes str.isdigit() but not int(): each of these answered 500.
SUPERSCRIPT_TWO = "%C2%B2"


@pytest.mark.parametrize(
    "url",
    [
        f"/api/pings/{SUPERSCRIPT_TWO}",
        f"/api/devices/{SUPERSCRIPT_TWO}",
        f"/api/devices/1/liveTools/ping/{SUPERSCRIPT_TWO}",
        f"/api/customers?organizationId={SUPERSCRIPT_TWO}",
        f"/api/icmp-monitors?organizationId={SUPERSCRIPT_TWO}",
        f"/api/icmp-monitors?customerId={SUPERSCRIPT_TWO}",
        f"/api/pings?before={SUPERSCRIPT_TWO}",
        f"/api/devices?customerId={SUPERSCRIPT_TWO}",
    ],
)
def test_unicode_digits_are_not_taken_for_ids(world: World, url: str) -> None:
    response = world.api("key_rw", "GET", url)
    assert response.status_code in (400, 404), response.content


@pytest.mark.parametrize("path", ["check-history", "incidents", "alert-history"])
def test_a_unicode_digit_limit_is_a_400(world: World, path: str) -> None:
    url = f"/api/icmp-monitors/{world.monitor_c1.public_id}/{path}?limit={SUPERSCRIPT_TWO}"
    response = world.api("key_rw", "GET", url)
    assert response.status_code == 400
    assert response.json()["errors"] == {"limit": ["A number from 1 to 200."]}


def test_the_ping_history_page_ignores_a_unicode_digit_cursor(world: World) -> None:
    # The page shares the API's pingId parser for its keyset cursors.
    response = world.client("operator").get(f"/pings/?before={SUPERSCRIPT_TWO}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/customers?search=a%00b", None),  # a 500 on PostgreSQL
        ("GET", "/api/devices/Q2AB%00", None),
        ("GET", "/api/pings?launchedBy=%00", None),
        ("POST", "/api/icmp-monitors", {"customerId": 1, "name": "a\x00", "hostname": "127.0.0.1"}),
        ("PATCH", "/api/icmp-monitors/{monitor}", {"icmpConfig": {"note\x00": 1}}),
    ],
)
def test_a_nul_character_anywhere_is_a_400_in_the_path_s_envelope(
    world: World, method: str, url: str, body: Any
) -> None:
    url = url.format(monitor=world.monitor_c1.public_id)
    response = world.api("key_rw", method, url, body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["message"] == "Text may not contain NUL characters."
    if url.startswith(("/api/devices", "/api/pings")):
        assert answer["errors"] == ["Text may not contain NUL characters."]


def test_an_escaped_backslash_before_u0000_is_text_not_nul(world: World) -> None:
    body = {"customerId": world.c1.pk, "name": "C:\\u0000", "hostname": "127.0.0.1"}
    response = world.api("key_rw", "POST", "/api/icmp-monitors", body)
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "C:\\u0000"


def test_a_serializer_s_non_field_error_is_camel_case(world: World) -> None:
    response = world.api("key_rw", "POST", "/api/customers", ["not", "an", "object"])
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"nonFieldErrors"}
