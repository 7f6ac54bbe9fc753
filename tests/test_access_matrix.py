"""Every URL the resolver knows, for every actor, with the outcome that actor must get.

A URL that is not listed here fails `test_every_url_is_in_the_matrix`: whoever adds a view
must decide, here, who may reach it. Outcomes: 200/201 allowed, 302 to the login page (or the
page's own redirect after a successful write), 400 refused input, 401 API without credentials,
403 visible but not allowed, 404 not visible (another organization's) or missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver

from tests import dbstate
from tests.conftest import ACTORS, KEY_ACTORS, PASSWORD, World

GROUPS = {
    "all": ACTORS,
    "users": ["admin", "operator", "viewer", "customer", "supporter", "outsider", "superuser"],
    "members": ["admin", "operator", "viewer"],
    "keys": KEY_ACTORS,
    "nonstaff": ["anon", "operator", "viewer", "customer", *KEY_ACTORS],
}


def expect(spec: str) -> dict[str, int]:
    """'all=302 members=200 customer=403' → a code per actor; later words override earlier."""
    codes: dict[str, int] = {}
    for word in spec.split():
        who, code = word.split("=")
        for actor in GROUPS.get(who, [who]):
            assert actor in ACTORS, f"unknown actor {actor!r}"
            codes[actor] = int(code)
    missing = set(ACTORS) - set(codes)
    assert not missing, f"no expectation for {sorted(missing)} in {spec!r}"
    return codes


@dataclass
class Case:
    name: str
    method: str
    codes: dict[str, int]
    kwargs: Callable[[World], dict[str, Any]] = lambda w: {}
    data: Callable[[World], dict[str, Any]] | None = None
    label: str = ""
    json: bool = False
    id: str = field(init=False)

    def __post_init__(self) -> None:
        self.id = f"{self.name}-{self.method}{'-' + self.label if self.label else ''}"


def spare_c2(w: World) -> Any:
    """c2 without its device, ping and monitor, so that deleting it is allowed (they protect it)."""
    w.job_c2.delete()
    w.device_c2.delete()
    w.monitor_c2.delete()
    return w.c2.public_id


def c1(w: World) -> dict[str, Any]:
    return {"public_id": w.c1.public_id}


def status_page(w: World, customer: Any, mode: str = "off") -> Any:
    """The customer's status page (made on first use), switched to `mode`."""
    from monitors.models import StatusPage

    page, _ = StatusPage.objects.get_or_create(
        customer=customer, defaults={"slug": f"status-{customer.pk}"}
    )
    if page.mode != mode:
        page.mode = mode
        page.save()
    return page


def this_month(w: World) -> dict[str, Any]:
    from django.utils import timezone

    now = timezone.now()
    return {"public_id": w.c1.public_id, "year": now.year, "month": now.month}


PAGES = "all=302"
CRED = lambda w: {"pk": w.cred.pk}  # noqa: E731
DEV1 = lambda w: {"public_id": w.device_c1.public_id}  # noqa: E731
MON1 = lambda w: {"public_id": w.monitor_c1.public_id}  # noqa: E731
JOB1 = lambda w: {"public_id": w.job_c1.public_id}  # noqa: E731
SERIAL1 = lambda w: {"serial": str(w.device_c1.pk)}  # noqa: E731
JOB1_API = lambda w: {"serial": str(w.device_c1.pk), "ping_id": str(w.job_c1.pk)}  # noqa: E731
# Launching: read-only actors are refused up front (403), writers who cannot see the device
# get its 404, and those who may ping get the job (201) or, on pages, its page (302).
LAUNCH_API = (
    "all=201 anon=401 viewer=403 customer=403 supporter=403 key_ro=403 outsider=404 key_other=404"
)


def MONITOR_FORM(w: World) -> dict[str, Any]:
    return {
        "customer": w.c1.pk,
        "name": "Form monitor",
        "hostname": "127.0.0.5",
        "status": "active",
        "check_interval": 5,
        "timeout_seconds": 10,
        "count": 3,
        "packet_size": 56,
        "retries": 0,
        "degraded_loss_percent": 20,
    }  # pages need a login session: anonymous and API-key callers go to login


NEW_USER = {"username": "newbie", "email": "n@example.test", "password": PASSWORD}

CASES: list[Case] = [
    Case(
        "home",
        "GET",
        expect(f"{PAGES} members=200 outsider=200 customer=302 supporter=302 superuser=302"),
    ),
    Case("login", "GET", expect("all=302 anon=200 keys=200")),
    Case("logout", "POST", expect("all=302")),
    Case("password_change", "GET", expect(f"{PAGES} users=200")),
    Case("password_change_done", "GET", expect(f"{PAGES} users=200")),
    Case("organization_list", "GET", expect(f"{PAGES} users=200 customer=403")),
    Case(
        "organization_switch",
        "POST",
        expect(f"{PAGES} users=302 customer=404 outsider=404"),
        data=lambda w: {"organization": w.org.pk},
    ),
    Case("customer_list", "GET", expect(f"{PAGES} users=200")),
    Case("customer_create", "GET", expect(f"{PAGES} users=403 admin=200 outsider=200")),
    Case(
        "customer_create",
        "POST",
        expect(f"{PAGES} users=403 admin=302 outsider=302"),
        data=lambda w: {"name": "Fresh customer"},
    ),
    Case("customer_detail", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=c1),
    Case(
        "customer_detail",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.c2.public_id},
        label="unbound-customer",
    ),
    Case(
        "customer_detail",
        "GET",
        expect(f"{PAGES} users=404 supporter=200 superuser=200 outsider=200"),
        kwargs=lambda w: {"public_id": w.other_customer.public_id},
        label="other-org",
    ),
    Case(
        "customer_edit",
        "GET",
        expect(f"{PAGES} users=403 admin=200 superuser=200 outsider=404"),
        kwargs=c1,
    ),
    Case(
        "customer_edit",
        "POST",
        expect(f"{PAGES} users=403 admin=302 superuser=302 outsider=404"),
        kwargs=c1,
        data=lambda w: {"name": "Renamed"},
    ),
    Case(
        "customer_delete",
        "POST",
        expect(f"{PAGES} users=403 admin=302 superuser=302 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": spare_c2(w)},
    ),
    Case(
        "customer_user_add",
        "POST",
        expect(f"{PAGES} users=403 admin=302 superuser=302 outsider=404"),
        kwargs=c1,
        data=lambda w: NEW_USER,
    ),
    # A customer user cannot even see who else has access: 404, not 403.
    Case(
        "customer_user_remove",
        "POST",
        expect(f"{PAGES} users=403 admin=302 superuser=302 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.c1.public_id, "access_id": w.own_access.pk},
    ),
    Case(
        "customer_user_remove",
        "POST",
        expect(f"{PAGES} users=404 supporter=403 outsider=302 superuser=302"),
        kwargs=lambda w: {"public_id": w.other_customer.public_id, "access_id": w.other_access.pk},
        label="other-org",
    ),
    Case(
        "member_list",
        "GET",
        expect(f"{PAGES} members=200 outsider=200 customer=403 supporter=302 superuser=302"),
    ),
    Case(
        "member_add",
        "POST",
        expect(f"{PAGES} users=403 admin=302 outsider=302"),
        data=lambda w: {**NEW_USER, "role": "readonly"},
    ),
    Case(
        "member_role",
        "POST",
        expect(f"{PAGES} users=403 admin=302 superuser=302 outsider=404"),
        kwargs=lambda w: {"pk": w.memberships["operator"].pk},
        data=lambda w: {"role": "readonly"},
    ),
    Case(
        "member_remove",
        "POST",
        expect(f"{PAGES} users=403 admin=302 superuser=302 outsider=404"),
        kwargs=lambda w: {"pk": w.memberships["viewer"].pk},
    ),
    Case(
        "member_remove",
        "POST",
        expect(f"{PAGES} users=404 customer=403 supporter=403 superuser=302 outsider=302"),
        kwargs=lambda w: {"pk": w.memberships["outsider"].pk},
        label="other-org-last-admin",
    ),
    Case(
        "api_key_list",
        "GET",
        expect(f"{PAGES} users=403 admin=200 outsider=200 supporter=302 superuser=302"),
    ),
    Case(
        "api_key_create",
        "POST",
        expect(f"{PAGES} users=403 admin=200 outsider=200"),
        data=lambda w: {"name": "ci", "read_only": "on"},
    ),
    Case(
        "api_key_revoke",
        "POST",
        expect(f"{PAGES} users=404 customer=403 supporter=403 admin=302 superuser=302"),
        kwargs=lambda w: {"pk": w.keys["key_rw"].pk},
    ),
    Case(
        "audit_list",
        "GET",
        expect(f"{PAGES} members=200 outsider=200 customer=403 supporter=302 superuser=302"),
    ),
    # --- vendors: credentials are admin business; devices follow customers -----------------
    Case(
        "credential_list",
        "GET",
        expect(f"{PAGES} users=403 admin=200 outsider=200 supporter=302 superuser=302"),
    ),
    Case(
        "credential_create",
        "GET",
        expect(f"{PAGES} users=403 admin=200 outsider=200 supporter=302 superuser=302"),
    ),
    Case(
        "credential_create",
        "POST",
        expect(f"{PAGES} users=403 admin=302 outsider=302"),
        data=lambda w: {
            "vendor": "meraki",
            "name": "New Meraki",
            "base_url": "http://127.0.0.1:9/m",
            "secret_api_key": "k" * 30,
        },
    ),
    Case(
        "credential_detail",
        "GET",
        expect(f"{PAGES} users=404 customer=403 admin=200 supporter=200 superuser=200"),
        kwargs=CRED,
    ),
    Case(
        "credential_edit",
        "GET",
        expect(f"{PAGES} users=404 customer=403 supporter=403 admin=200 superuser=200"),
        kwargs=CRED,
    ),
    Case(
        "credential_edit",
        "POST",
        expect(f"{PAGES} users=404 customer=403 supporter=403 admin=302 superuser=302"),
        kwargs=CRED,
        data=lambda w: {"name": "Renamed", "base_url": "http://127.0.0.1:9/m"},
    ),
    Case(
        "credential_delete",
        "POST",
        expect(f"{PAGES} users=404 customer=403 supporter=403 admin=302 superuser=302"),
        kwargs=CRED,
    ),
    Case(
        "credential_test",
        "POST",
        expect(f"{PAGES} users=404 customer=403 supporter=403 admin=302 superuser=302"),
        kwargs=CRED,
    ),
    Case(
        "credential_test_status",
        "GET",
        expect(f"{PAGES} users=404 customer=403 supporter=302 admin=302 superuser=302"),
        kwargs=lambda w: {"pk": w.cred.pk, "test_pk": w.conn_test.pk},
    ),
    Case(
        "credential_webhook_token",
        "POST",
        expect(f"{PAGES} users=404 customer=403 supporter=403 admin=200 superuser=200"),
        kwargs=lambda w: {"pk": w.simotel_cred.pk},
    ),
    # The PBX's webhook: public URL with a secret token, plus the Basic auth it was given.
    Case(
        "simotel_webhook",
        "POST",
        expect("all=401"),
        kwargs=lambda w: {"token": w.webhook_token},
        data=lambda w: {"event_name": "Ping"},
        json=True,
    ),
    Case(
        "simotel_webhook_event",
        "POST",
        expect("all=401"),
        kwargs=lambda w: {"token": w.webhook_token, "event": "Ping"},
    ),
    # Meraki's callback: public, authenticated by the per-job shared secret in the body.
    Case(
        "meraki_callback",
        "POST",
        expect("all=403"),
        kwargs=lambda w: {"callback_id": w.callback.public_id},
        data=lambda w: {"sharedSecret": "wrong", "message": {}},
        json=True,
    ),
    Case("device_list", "GET", expect(f"{PAGES} users=200")),
    Case(
        "device_create",
        "GET",
        expect(f"{PAGES} users=403 admin=200 operator=200 outsider=200 superuser=200"),
    ),
    Case(
        "device_create",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=400 superuser=302"),
        data=lambda w: {
            "customer": w.c1.pk,
            "kind": "host",
            "name": "New host",
            "host": "127.0.0.9",
        },
    ),
    Case(
        "device_import",
        "GET",
        expect(f"{PAGES} users=403 admin=200 operator=200 outsider=200 superuser=200"),
    ),
    Case(
        "device_import",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=400 superuser=302"),
        data=lambda w: {
            "confirm": "yes",
            "text": f"customer,kind,name,host\n{w.c1.public_id},host,Imported,127.0.0.8\n",
        },
    ),
    Case("device_detail", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=DEV1),
    Case(
        "device_detail",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.device_c2.public_id},
        label="unbound-customer",
    ),
    Case(
        "device_edit",
        "GET",
        expect(f"{PAGES} users=403 admin=200 operator=200 outsider=404 superuser=200"),
        kwargs=DEV1,
    ),
    Case(
        "device_edit",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=404 superuser=302"),
        kwargs=DEV1,
        data=lambda w: {
            "customer": w.c1.pk,
            "kind": "host",
            "name": "Renamed",
            "host": "127.0.0.4",
        },
    ),
    Case(
        "device_delete",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=404 customer=404 superuser=302"),
        kwargs=lambda w: {"public_id": w.device_c2.public_id},
    ),
    # --- API -------------------------------------------------------------------------------
    Case("api-schema", "GET", expect("all=200")),
    Case("api-docs", "GET", expect("all=200")),
    Case("api-redoc", "GET", expect("all=200")),
    Case("api-not-found", "GET", expect("all=404"), kwargs=lambda w: {}, label="any"),
    Case("customer-list", "GET", expect("all=200 anon=401"), json=True),
    Case(
        "customer-list",
        "POST",
        expect("all=403 anon=401 admin=201 outsider=201 key_rw=201 key_other=201 superuser=400"),
        data=lambda w: {"name": "Made by API"},
        json=True,
    ),
    # Naming another organization: one the caller cannot see does not exist for it (400).
    Case(
        "customer-list",
        "POST",
        expect(
            "all=403 anon=401 admin=201 key_rw=201 superuser=201 "
            "outsider=400 key_other=400 key_customer=400"
        ),
        data=lambda w: {"name": "Into Acme", "organizationId": w.org.pk},
        json=True,
        label="into-other-org",
    ),
    Case(
        "customer-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=lambda w: {"publicId": w.c1.public_id},
        json=True,
    ),
    Case(
        "customer-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404 customer=404 key_customer=404"),
        kwargs=lambda w: {"publicId": w.c2.public_id},
        json=True,
        label="unbound-customer",
    ),
    Case(
        "customer-detail",
        "PATCH",
        expect("all=403 anon=401 admin=200 superuser=200 key_rw=200 outsider=404 key_other=404"),
        kwargs=lambda w: {"publicId": w.c1.public_id},
        data=lambda w: {"description": "x"},
        json=True,
    ),
    # Read-only actors are refused any write up front (403); actors that can write somewhere
    # but cannot see this customer get 404.
    Case(
        "customer-detail",
        "DELETE",
        expect(
            "all=403 anon=401 admin=200 superuser=200 key_rw=200 outsider=404 "
            "key_other=404 key_customer=404"
        ),
        kwargs=lambda w: {"publicId": spare_c2(w)},
        json=True,
    ),
    # --- monitor pages -------------------------------------------------------------------------
    Case("monitor_list", "GET", expect(f"{PAGES} users=200")),
    Case(
        "monitor_create",
        "GET",
        expect(f"{PAGES} users=403 admin=200 operator=200 outsider=200 superuser=200"),
    ),
    Case(
        "monitor_create",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=400 superuser=302"),
        data=MONITOR_FORM,
    ),
    Case("monitor_detail", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=MON1),
    Case(
        "monitor_detail",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.monitor_c2.public_id},
        label="unbound-customer",
    ),
    # The chart follows the monitor: its section (swapped in by the range tabs) and its image.
    Case("monitor_chart", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=MON1),
    Case("monitor_chart_svg", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=MON1),
    Case(
        "monitor_chart_svg",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.monitor_c2.public_id},
        label="unbound-customer",
    ),
    Case(
        "monitor_edit",
        "GET",
        expect(f"{PAGES} users=403 admin=200 operator=200 outsider=404 superuser=200"),
        kwargs=MON1,
    ),
    Case(
        "monitor_edit",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=404 superuser=302"),
        kwargs=MON1,
        data=MONITOR_FORM,
    ),
    # Read-only members may pause and resume (the API lets them PATCH the status).
    Case(
        "monitor_pause",
        "POST",
        expect(f"{PAGES} users=302 customer=403 supporter=403 outsider=404"),
        kwargs=MON1,
    ),
    Case(
        "monitor_delete",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=404 superuser=302"),
        kwargs=MON1,
    ),
    Case("favicon", "GET", expect("all=302")),
    Case("healthz", "GET", expect("all=200")),
    # --- monitor history: incidents, maintenance, exports ------------------------------------
    Case("monitor_incidents", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=MON1),
    Case(
        "incident_detail",
        "GET",
        expect(f"{PAGES} users=200 outsider=404"),
        kwargs=lambda w: {"pk": w.incident_c1.pk},
    ),
    Case(
        "incident_detail",
        "GET",
        expect(f"{PAGES} users=404 outsider=200 superuser=200 supporter=200"),
        kwargs=lambda w: {"pk": w.other_incident.pk},
        label="other-org",
    ),
    Case("monitor_maintenance", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=MON1),
    Case(
        "monitor_maintenance",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=404 superuser=302"),
        kwargs=MON1,
        data=lambda w: {
            "kind": "weekly",
            "weekday": "6",
            "start_time": "02:00",
            "duration_minutes": "60",
            "time_zone": "UTC",
        },
    ),
    Case("customer_maintenance", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=c1),
    Case(
        "customer_maintenance",
        "POST",
        expect(f"{PAGES} users=403 admin=400 operator=400 outsider=404 superuser=400"),
        kwargs=c1,
        data=lambda w: {"kind": "once", "time_zone": "UTC"},
        label="refused",
    ),
    Case(
        "maintenance_delete",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 outsider=404 superuser=302"),
        kwargs=lambda w: {"pk": w.window_c1.pk},
    ),
    Case(
        "maintenance_delete",
        "POST",
        expect(f"{PAGES} users=404 outsider=302 supporter=403 superuser=302"),
        kwargs=lambda w: {"pk": w.other_window.pk},
        label="other-org",
    ),
    Case(
        "monitor_export",
        "GET",
        expect(f"{PAGES} users=200 outsider=404"),
        kwargs=lambda w: {"public_id": w.monitor_c1.public_id, "what": "checks"},
    ),
    Case(
        "customer_export",
        "GET",
        expect(f"{PAGES} users=200 outsider=404"),
        kwargs=lambda w: {"public_id": w.c1.public_id, "what": "incidents"},
    ),
    # --- customer pages: monitors, monthly report, status page ------------------------------
    Case("customer_monitors", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=c1),
    Case(
        "customer_monitors",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.c2.public_id},
        label="unbound-customer",
    ),
    Case("customer_report", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=this_month),
    Case(
        "customer_report",
        "GET",
        expect(f"{PAGES} users=404"),
        kwargs=lambda w: {"public_id": w.c1.public_id, "year": 2024, "month": 13},
        label="no-such-month",
    ),
    # Only organization admins may change the status page; customer users see, not change.
    Case(
        "customer_status_page",
        "POST",
        expect(f"{PAGES} users=403 admin=302 superuser=302 outsider=404"),
        kwargs=c1,
        data=lambda w: {"mode": "public", "title": "", "slug": "northwind-status"},
    ),
    Case(
        "customer_status_page",
        "POST",
        expect(f"{PAGES} users=404 supporter=403 outsider=302 superuser=302"),
        kwargs=lambda w: {"public_id": w.other_customer.public_id},
        data=lambda w: {"mode": "secret", "title": "", "slug": "globex-status"},
        label="other-org",
    ),
    # Status pages need no login; off (or the wrong mode) is the same 404 as no page at all.
    Case(
        "status_page_public",
        "GET",
        expect("all=200"),
        kwargs=lambda w: {"slug": status_page(w, w.c1, "public").slug},
    ),
    Case(
        "status_page_public",
        "GET",
        expect("all=404"),
        kwargs=lambda w: {"slug": status_page(w, w.c1, "secret").slug},
        label="secret-mode",
    ),
    Case(
        "status_page_secret",
        "GET",
        expect("all=200"),
        kwargs=lambda w: {"token": status_page(w, w.c1, "secret").token},
    ),
    Case(
        "status_page_secret",
        "GET",
        expect("all=404"),
        kwargs=lambda w: {"token": status_page(w, w.c1, "off").token},
        label="off",
    ),
    # --- ICMP monitors (the seed's API) ---------------------------------------------------
    Case("icmp-monitor-list", "GET", expect("all=200 anon=401"), json=True),
    Case(
        "icmp-monitor-list",
        "POST",
        expect(
            "all=201 anon=401 viewer=403 customer=403 supporter=403 key_ro=403 "
            "outsider=404 key_other=404"
        ),
        data=lambda w: {"customerId": w.c1.pk, "name": "New", "hostname": "127.0.0.1"},
        json=True,
    ),
    Case(
        "icmp-monitor-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=MON1,
        json=True,
    ),
    Case(
        "icmp-monitor-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404 customer=404 key_customer=404"),
        kwargs=lambda w: {"public_id": w.monitor_c2.public_id},
        json=True,
        label="unbound-customer",
    ),
    Case(
        "icmp-monitor-detail",
        "PATCH",
        expect(
            "all=200 anon=401 viewer=403 customer=403 supporter=403 key_ro=403 "
            "outsider=404 key_other=404"
        ),
        kwargs=MON1,
        data=lambda w: {"name": "Renamed"},
        json=True,
    ),
    Case(
        "icmp-monitor-detail",
        "DELETE",
        expect(
            "all=200 anon=401 viewer=403 customer=403 supporter=403 key_ro=403 "
            "outsider=404 key_other=404"
        ),
        kwargs=MON1,
        json=True,
    ),
    Case(
        "icmp-monitor-check-history",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=MON1,
        json=True,
    ),
    Case(
        "icmp-monitor-incidents",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=MON1,
        json=True,
    ),
    Case(
        "icmp-monitor-uptime",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=MON1,
        json=True,
    ),
    Case(
        "icmp-monitor-alert-history",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=MON1,
        json=True,
    ),
    Case(
        "icmp-monitor-chart",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=MON1,
        json=True,
    ),
    Case(
        "icmp-monitor-chart",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404 customer=404 key_customer=404"),
        kwargs=lambda w: {"public_id": w.monitor_c2.public_id},
        json=True,
        label="unbound-customer",
    ),
    # --- pings: pages ----------------------------------------------------------------------
    Case("device_pings", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=DEV1),
    Case(
        "device_pings",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.device_c2.public_id},
        label="unbound-customer",
    ),
    Case(
        "device_pings",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 superuser=302 outsider=404 customer=403"),
        kwargs=DEV1,
        data=lambda w: {"count": 1},
    ),
    Case("ping_history", "GET", expect(f"{PAGES} users=200")),
    Case("ping_history_csv", "GET", expect(f"{PAGES} users=200")),
    Case(
        "ping_bulk",
        "POST",
        expect(f"{PAGES} users=403 admin=302 operator=302 superuser=302 outsider=400"),
        data=lambda w: {"devices": [str(w.device_c1.public_id)]},
    ),
    # A batch belongs to the organization, not to a customer: customer users never see one.
    Case(
        "ping_batch",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.batch.public_id},
    ),
    Case("ping_detail", "GET", expect(f"{PAGES} users=200 outsider=404"), kwargs=JOB1),
    Case(
        "ping_detail",
        "GET",
        expect(f"{PAGES} users=200 outsider=404 customer=404"),
        kwargs=lambda w: {"public_id": w.job_c2.public_id},
        label="unbound-customer",
    ),
    Case(
        "ping_detail",
        "GET",
        expect(f"{PAGES} users=404 supporter=200 superuser=200 outsider=200"),
        kwargs=lambda w: {"public_id": w.other_job.public_id},
        label="other-org",
    ),
    # --- pings: the Meraki-dialect API -------------------------------------------------------
    Case("device-list", "GET", expect("all=200 anon=401"), json=True),
    Case(
        "device-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=SERIAL1,
        json=True,
    ),
    Case(
        "device-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404 customer=404 key_customer=404"),
        kwargs=lambda w: {"serial": str(w.device_c2.pk)},
        json=True,
        label="unbound-customer",
    ),
    Case(
        "live-tools-ping",
        "POST",
        expect(LAUNCH_API),
        kwargs=SERIAL1,
        data=lambda w: {"target": "127.0.0.1", "count": 1},
        json=True,
    ),
    Case(
        "live-tools-ping",
        "POST",
        expect(LAUNCH_API + " key_customer=404"),
        kwargs=lambda w: {"serial": str(w.device_c2.pk)},
        data=lambda w: {"target": "127.0.0.1", "count": 1},
        json=True,
        label="unbound-customer",
    ),
    Case(
        "live-tools-ping-device",
        "POST",
        expect(LAUNCH_API),
        kwargs=SERIAL1,
        data=lambda w: {"count": 1},
        json=True,
    ),
    Case(
        "live-tools-ping-job",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=JOB1_API,
        json=True,
    ),
    Case(
        "live-tools-ping-device-job",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=JOB1_API,
        json=True,
    ),
    Case("ping-list", "GET", expect("all=200 anon=401"), json=True),
    # The device is named in the body: one that is not visible is a field error (400).
    Case(
        "ping-list",
        "POST",
        expect(LAUNCH_API + " outsider=400 key_other=400"),
        data=lambda w: {"device": w.device_c1.pk, "count": 1},
        json=True,
    ),
    Case(
        "ping-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404"),
        kwargs=lambda w: {"ping_id": str(w.job_c1.pk)},
        json=True,
    ),
    Case(
        "ping-detail",
        "GET",
        expect("all=200 anon=401 outsider=404 key_other=404 customer=404 key_customer=404"),
        kwargs=lambda w: {"ping_id": str(w.job_c2.pk)},
        json=True,
        label="unbound-customer",
    ),
    Case("credential-list", "GET", expect("all=200 anon=401"), json=True),
    Case(
        "credential-list",
        "POST",
        expect("all=403 anon=401 admin=201 outsider=201 key_rw=201 key_other=201 superuser=400"),
        data=lambda w: {"vendor": "meraki", "name": "API Meraki", "secrets": {"api_key": "a" * 30}},
        json=True,
    ),
    # Credentials are visible to admins (and admin-level keys) only: 404 to everyone else.
    Case(
        "credential-detail",
        "GET",
        expect("all=404 anon=401 admin=200 supporter=200 superuser=200 key_rw=200"),
        kwargs=lambda w: {"pk": w.cred.pk},
        json=True,
    ),
    Case(
        "credential-detail",
        "PATCH",
        expect(
            "all=404 anon=401 viewer=403 customer=403 supporter=403 key_ro=403 "
            "admin=200 superuser=200 key_rw=200"
        ),
        kwargs=lambda w: {"pk": w.cred.pk},
        data=lambda w: {"name": "Renamed by API"},
        json=True,
    ),
]


def _patterns(resolvers: list[Any], namespace: str = "") -> list[tuple[str, str]]:
    found = []
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += _patterns(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern):
            if entry.name is None and namespace == "admin:":
                # Django admin's unnamed patterns only redirect to its named views (an old
                # object URL to its change page, the catch-all to login), covered below.
                continue
            assert entry.name, f"unnamed URL pattern {entry.pattern} cannot be listed"
            found.append((f"{namespace}{entry.name}", str(entry.pattern)))
    return found


ALL_URLS = _patterns(get_resolver().url_patterns)


def _url(case: Case, world: World) -> str:
    from django.urls import reverse

    if case.name == "api-not-found":
        return "/api/no/such/endpoint"
    return reverse(case.name, kwargs=case.kwargs(world))


def _request(client: Any, method: str, url: str, data: Any, as_json: bool) -> Any:
    if as_json and data is not None:
        return getattr(client, method.lower())(url, data=data, content_type="application/json")
    if method in ("GET", "HEAD"):
        return client.get(url)
    return getattr(client, method.lower())(url, data=data or {})


UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


def refused(code: int, actor: str) -> bool:
    """Whether an expected answer is a refusal: an error, or (for those without a session) the
    way to the login page. A signed-in user's 302 is a write's success."""
    return code in (400, 401, 403, 404, 405) or (code == 302 and actor in ("anon", *KEY_ACTORS))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("actor", ACTORS)
def test_url_answers_each_actor_as_listed(world: World, case: Case, actor: str) -> None:
    data = case.data(world) if case.data else None
    url = _url(case, world)
    client = world.client(actor)  # signing in writes: before the watch starts
    with dbstate.no_writes() as written:
        response = _request(client, case.method, url, data, case.json)
    expected = case.codes[actor]
    assert response.status_code == expected, (
        f"{actor} {case.method} {case.name}: got {response.status_code}, expected {expected}"
    )
    if case.method in UNSAFE and refused(expected, actor):
        assert not written, f"{actor} {case.method} {case.name} was refused but wrote {written}"
    if (
        expected == 302
        and actor in ("anon", *KEY_ACTORS)
        and case.name not in ("logout", "favicon")
    ):
        assert response["Location"].startswith("/accounts/login/")
    if case.name.startswith(
        (
            "customer-",
            "credential-",
            "icmp-monitor",
            "api-not-found",
            "simotel_webhook",
            "meraki_callback",
            "device-",
            "live-tools-",
            "ping-list",
            "ping-detail",
        )
    ):
        assert response["Content-Type"].startswith("application/json")


# --- The admin: generated from the admin registry, with the outcomes spelled out per model ---

STAFF = ["admin", "supporter", "outsider", "superuser"]


@dataclass
class AdminRule:
    """Who among the staff actors may do what to the *own* organization's object."""

    own: Callable[[World], Any] | None
    other: Callable[[World], Any] | None
    view: str = "admin supporter outsider superuser"  # changelist access
    add: str = ""
    change: str = ""
    delete: str = ""


ORG_ADMINS = "admin outsider superuser"
ADMIN_RULES: dict[str, AdminRule] = {
    "portal.organization": AdminRule(
        lambda w: w.org,
        lambda w: w.other_org,
        add="superuser",
        change="admin superuser",
        delete="superuser",
    ),
    "portal.customer": AdminRule(
        lambda w: w.c1,
        lambda w: w.other_customer,
        add=ORG_ADMINS,
        change="admin superuser",
        delete="admin superuser",
    ),
    "portal.membership": AdminRule(
        lambda w: w.memberships["viewer"],
        lambda w: w.memberships["outsider"],
        add=ORG_ADMINS,
        change="admin superuser",
        delete="admin superuser",
    ),
    "portal.customeraccess": AdminRule(
        lambda w: w.own_access,
        lambda w: w.other_access,
        add=ORG_ADMINS,
        change="admin superuser",
        delete="admin superuser",
    ),
    "portal.apikey": AdminRule(
        lambda w: w.keys["key_rw"],
        lambda w: w.keys["key_other"],
        change="admin superuser",
        delete="admin superuser",
    ),
    "portal.auditevent": AdminRule(lambda w: w.own_event, lambda w: w.other_event),
    "portal.user": AdminRule(
        lambda w: w.users["viewer"],
        lambda w: w.users["outsider"],
        add="superuser",
        change="superuser",
        delete="superuser",
    ),
    "vendors.credential": AdminRule(
        lambda w: w.cred, lambda w: w.other_cred, change="admin superuser", delete="admin superuser"
    ),
    "vendors.device": AdminRule(
        lambda w: w.device_c1,
        lambda w: w.other_device,
        add=ORG_ADMINS,
        change="admin superuser",
        delete="admin superuser",
    ),
    "vendors.merakicallback": AdminRule(
        lambda w: w.callback, lambda w: w.other_callback, delete="admin superuser"
    ),
    "vendors.connectiontest": AdminRule(
        lambda w: w.conn_test, lambda w: w.other_conn_test, delete="admin superuser"
    ),
    "monitors.monitor": AdminRule(
        lambda w: w.monitor_c1,
        lambda w: w.other_monitor,
        add=ORG_ADMINS,
        change="admin superuser",
        delete="admin superuser",
    ),
    "monitors.checkresult": AdminRule(
        lambda w: w.result_c1, lambda w: w.other_result, delete="admin superuser"
    ),
    "monitors.location": AdminRule(None, None, view="superuser", add="superuser"),
    "monitors.incident": AdminRule(
        lambda w: w.incident_c1, lambda w: w.other_incident, delete="admin superuser"
    ),
    "monitors.maintenancewindow": AdminRule(
        lambda w: w.window_c1,
        lambda w: w.other_window,
        add=ORG_ADMINS,
        change="admin superuser",
        delete="admin superuser",
    ),
    "monitors.statuspage": AdminRule(
        lambda w: status_page(w, w.c1),
        lambda w: status_page(w, w.other_customer),
        add=ORG_ADMINS,
        change="admin superuser",
        delete="admin superuser",
    ),
    # Records of what happened: nobody adds or edits them; admins may delete.
    "pings.pingjob": AdminRule(lambda w: w.job_c1, lambda w: w.other_job, delete="admin superuser"),
    "pings.pingbatch": AdminRule(
        lambda w: w.batch, lambda w: w.other_batch, delete="admin superuser"
    ),
    # Outside the tenancy: superusers only. Nothing is created, so object pages are 404s.
    "vendors.ratebucket": AdminRule(None, None, view="superuser", add="superuser"),
    "auth.group": AdminRule(None, None, view="superuser", add="superuser"),
    "django_q.success": AdminRule(None, None, view="superuser"),
    "django_q.failure": AdminRule(None, None, view="superuser"),
    "django_q.schedule": AdminRule(None, None, view="superuser", add="superuser"),
    "django_q.ormq": AdminRule(None, None, view="superuser"),
}


def _admin_cases() -> list[tuple[str, str, str, dict[str, int]]]:
    """(url name, object selector, label, codes) for every model URL of the admin."""
    cases = []
    non_staff = " ".join(f"{a}=302" for a in GROUPS["nonstaff"])
    for model in admin.site._registry:
        label = model._meta.label_lower
        rule = ADMIN_RULES[label]
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"

        def codes(allowed: str, *, own_404_for: str = "", default: int = 403) -> dict[str, int]:
            parts = [non_staff] + [f"{a}={default}" for a in STAFF]
            parts += [f"{a}=200" for a in allowed.split()]
            parts += [f"{a}=404" for a in own_404_for.split()]
            return expect(" ".join(parts))

        viewers = rule.view
        cases.append((f"{base}_changelist", "", "list", codes(viewers)))
        cases.append((f"{base}_add", "", "add", codes(rule.add)))
        if rule.own is None:
            # No rows: staff are refused before the lookup, superusers get the 404; the
            # history page looks the object up first, so everyone on the staff gets the 404.
            for suffix in ("change", "delete"):
                cases.append(
                    (f"{base}_{suffix}", "missing", suffix, codes("", own_404_for="superuser"))
                )
            cases.append(
                (f"{base}_history", "missing", "history", codes("", own_404_for=" ".join(STAFF)))
            )
            continue
        # On the own organization's object, the outsider (another org's admin) gets a 404
        # wherever its role would otherwise pass the model-level check.
        outsider_404 = "outsider" if "outsider" in viewers else ""
        see_own = " ".join(a for a in viewers.split() if a != "outsider")
        cases.append((f"{base}_change", "own", "change", codes(see_own, own_404_for=outsider_404)))
        cases.append(
            (f"{base}_history", "own", "history", codes(see_own, own_404_for=outsider_404))
        )
        deleters = rule.delete
        # Org admins may delete these rows in their own organization, so the outsider passes
        # the model-level check and then cannot find ours.
        outsider_delete_404 = "outsider" if "admin" in rule.delete.split() else ""
        cases.append(
            (f"{base}_delete", "own", "delete", codes(deleters, own_404_for=outsider_delete_404))
        )
        cases.append(
            (
                f"{base}_change",
                "other",
                "change-other",
                codes(
                    " ".join(a for a in viewers.split() if a != "admin")
                    + " outsider supporter superuser",
                    own_404_for="admin",
                ),
            )
        )
    return cases


ADMIN_CASES = _admin_cases()
ADMIN_SITE_CASES = {
    "admin:index": expect(f"all=302 {' '.join(f'{a}=200' for a in STAFF)}"),
    "admin:login": expect(f"all=200 {' '.join(f'{a}=302' for a in STAFF)}"),
    "admin:logout": expect("all=302"),  # POST
    "admin:password_change": expect(f"all=302 {' '.join(f'{a}=200' for a in STAFF)}"),
    "admin:password_change_done": expect(f"all=302 {' '.join(f'{a}=200' for a in STAFF)}"),
    "admin:jsi18n": expect(f"all=302 {' '.join(f'{a}=200' for a in STAFF)}"),
    "admin:autocomplete": expect(f"all=302 {' '.join(f'{a}=403' for a in STAFF)}"),
    "admin:app_list": expect(f"all=302 {' '.join(f'{a}=200' for a in STAFF)}"),
    "admin:view_on_site": expect(f"all=302 {' '.join(f'{a}=404' for a in STAFF)}"),
    # Setting another account's password: superusers only (viewer's account here).
    "admin:auth_user_password_change": expect(
        f"all=302 {' '.join(f'{a}=403' for a in STAFF)} superuser=200"
    ),
}


def _admin_url(name: str, selector: str, world: World) -> str:
    from django.urls import reverse

    if name == "admin:app_list":
        return reverse(name, kwargs={"app_label": "portal"})
    if name == "admin:auth_user_password_change":
        return reverse(name, args=[world.users["viewer"].pk])
    if name == "admin:view_on_site":
        return reverse(name, kwargs={"content_type_id": 999999, "object_id": "1"})
    if not selector:
        return reverse(name)
    label = name.split(":")[1].rsplit("_", 1)[0]
    app, model = (
        label.split("_", 1)
        if not label.startswith("django_q")
        else ("django_q", label[len("django_q_") :])
    )
    if selector == "missing":
        return reverse(name, args=["999999"])
    rule = ADMIN_RULES[f"{app}.{model}"]
    obj = (rule.own if selector == "own" else rule.other)(world)
    return reverse(name, args=[obj.pk])


@pytest.mark.parametrize(
    "name,selector,label,codes", ADMIN_CASES, ids=[f"{n}-{lbl}" for n, _, lbl, _ in ADMIN_CASES]
)
@pytest.mark.parametrize("actor", ACTORS)
def test_admin_url_answers_each_actor_as_listed(
    world: World, name: str, selector: str, label: str, codes: dict[str, int], actor: str
) -> None:
    response = world.client(actor).get(_admin_url(name, selector, world))
    assert response.status_code == codes[actor], (
        f"{actor} GET {name} ({label}): got {response.status_code}, expected {codes[actor]}"
    )


@pytest.mark.parametrize("name", sorted(ADMIN_SITE_CASES))
@pytest.mark.parametrize("actor", ACTORS)
def test_admin_site_url_answers_each_actor_as_listed(world: World, name: str, actor: str) -> None:
    url = _admin_url(name, "", world)
    client = world.client(actor)
    response = client.post(url) if name == "admin:logout" else client.get(url)
    assert response.status_code == ADMIN_SITE_CASES[name][actor], (
        f"{actor} {name}: got {response.status_code}"
    )


def test_every_url_is_in_the_matrix() -> None:
    listed = {c.name for c in CASES} | {n for n, *_ in ADMIN_CASES} | set(ADMIN_SITE_CASES)
    unlisted = sorted(f"{name} ({pattern})" for name, pattern in ALL_URLS if name not in listed)
    assert not unlisted, f"URLs without access expectations: {unlisted}"


def test_every_admin_model_has_a_rule() -> None:
    registered = {m._meta.label_lower for m in admin.site._registry}
    assert registered == set(ADMIN_RULES)


# --- Writes: every URL that accepts one refuses outsiders, and refusals change nothing --------
#
# A URL accepts writes unless its view says it takes only safe methods: a 405 (or an Allow
# header) to OPTIONS listing nothing but GET / HEAD / OPTIONS. Views that do not say (most
# function views, Django's admin) count as accepting writes. Each must then be listed above
# with an unsafe-method case that refuses an anonymous caller, a read-only member and another
# organization's admin (and, in the API, a read-only key and another organization's key) —
# or be named below with the reason it may not. The refusals themselves, and that they write
# nothing, are checked by test_url_answers_each_actor_as_listed.

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
REQUIRED_REFUSALS = ["anon", "viewer", "outsider"]
API_REQUIRED_REFUSALS = [*REQUIRED_REFUSALS, "key_ro", "key_other"]

# Signing in and out, and changing one's own password, act on the caller's own account only.
OWN_ACCOUNT = {
    "login": "signs the caller in (CSRF-checked and throttled: test_login_throttle)",
    "logout": "ends the caller's own session",
    "password_change": "changes the caller's own password, which it must give",
    "admin:login": "signs the caller in (throttled like the portal's form)",
    "admin:logout": "ends the caller's own session",
    "admin:password_change": "changes the caller's own password, which it must give",
}
# Views that answer any method but never write (Django's admin pages, the API's docs and its
# JSON 404); checked: a superuser's POST to each writes nothing.
READ_ONLY_VIEWS = {
    "api-docs",
    "api-not-found",
    "admin:index",
    "admin:app_list",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:password_change_done",
}
# Writes an actor of REQUIRED_REFUSALS may make, and why that is no hole.
ALLOWED_WRITES = {
    ("organization_switch", "viewer"): "switches to its own organization: the session only",
    ("monitor_pause", "viewer"): "read-only members may pause and resume (the seed's API lets "
    "them PATCH status); audited",
    **{
        (name, "outsider"): "creates in the caller's current organization, and another "
        "organization cannot be made current (organization_switch answers it 404)"
        for name in ["customer_create", "member_add", "api_key_create", "credential_create"]
    },
    **{
        ("credential-list", actor): "creates in the one organization the caller manages; "
        "the body cannot name another"
        for actor in ["outsider", "key_other"]
    },
}


def _url_of(name: str, world: World) -> str:
    """A URL for `name`, with the arguments its first case (or admin rule) uses."""
    case = next((c for c in CASES if c.name == name), None)
    if case is not None:
        return _url(case, world)
    if name in ADMIN_SITE_CASES:
        return _admin_url(name, "", world)
    selector = next((sel for n, sel, *_ in ADMIN_CASES if n == name), None)
    assert selector is not None, f"{name} is not in the matrix (test_every_url_is_in_the_matrix)"
    return _admin_url(name, selector, world)


def _accepts_writes(client: Any, url: str) -> bool:
    response = client.options(url)
    allow = {m.strip().upper() for m in response.get("Allow", "").split(",") if m.strip()}
    if response.status_code == 405 or allow:
        return not allow <= SAFE_METHODS
    return True  # the view does not say: assume it writes


def _admin_write_names() -> set[str]:
    names = {"admin:auth_user_password_change"}
    for model in admin.site._registry:
        base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        names |= {f"{base}_add", f"{base}_change", f"{base}_delete", f"{base}_changelist"}
    return names


def test_every_url_that_accepts_writes_refuses_outsiders(world: World) -> None:
    root = world.client("superuser")
    admin_writes = _admin_write_names()
    problems: list[str] = []
    write_urls = 0
    for name in sorted({n for n, _ in ALL_URLS}):
        url = _url_of(name, world)
        if not _accepts_writes(root, url) or name in OWN_ACCOUNT:
            continue
        write_urls += 1
        if name in READ_ONLY_VIEWS or (name.startswith("admin:") and name.endswith("_history")):
            with dbstate.no_writes() as written:
                root.post(url, {"name": "x"})
            if written:
                problems.append(f"{name} is listed as read-only but a POST wrote {written[:1]}")
            continue
        if name.startswith("admin:"):
            if name not in admin_writes:
                problems.append(f"{name}: an admin URL no admin write test covers")
            continue
        cases = [c for c in CASES if c.name == name and c.method in UNSAFE]
        if not cases:
            problems.append(f"{name} ({url}) accepts writes but has no write case")
            continue
        actors = API_REQUIRED_REFUSALS if url.startswith("/api/") else REQUIRED_REFUSALS
        for actor in actors:
            if (name, actor) in ALLOWED_WRITES:
                continue
            if not any(refused(c.codes[actor], actor) for c in cases):
                problems.append(f"{name}: no case shows {actor} refused")
    assert not problems, "\n".join(problems)
    assert write_urls > 50  # the probe found the forms, the API and the admin


def test_allowed_writes_and_exceptions_name_real_urls() -> None:
    names = {n for n, _ in ALL_URLS}
    listed = {n for n, _ in ALLOWED_WRITES} | set(OWN_ACCOUNT) | READ_ONLY_VIEWS
    assert listed <= names, sorted(listed - names)


def _admin_write_requests(world: World, label: str) -> list[tuple[str, str, dict[str, Any]]]:
    """POSTs that would add, change, delete (one by one, and by the bulk action) the own
    organization's row of `label` in the admin, with data that names the own organization."""
    from django.urls import reverse

    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    base = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    forged = {
        "organization": world.org.pk,
        "customer": world.c1.pk,
        "name": "Forged",
        "user": world.users["viewer"].pk,
        "role": "admin",
    }
    found = [("add", reverse(f"{base}_add"), forged)]
    rule = ADMIN_RULES[label]
    if rule.own is not None:
        obj = rule.own(world)
        found += [
            ("change", reverse(f"{base}_change", args=[obj.pk]), forged),
            ("delete", reverse(f"{base}_delete", args=[obj.pk]), {"post": "yes"}),
            (
                "bulk-delete",
                reverse(f"{base}_changelist"),
                {"action": "delete_selected", "index": "0", "_selected_action": [obj.pk]},
            ),
        ]
    return found


ADMIN_REFUSED = ["anon", "viewer", "customer", "supporter", "outsider", "key_ro"]


@pytest.mark.parametrize("label", sorted(ADMIN_RULES))
def test_admin_writes_refuse_outsiders_and_change_nothing(world: World, label: str) -> None:
    """Whoever may not write a row gets no write through the admin: non-staff go to the admin's
    login, staff get 403 or (another organization's row) 404, or a form / list that did
    nothing."""
    failures = []
    for actor in ADMIN_REFUSED:
        client = world.client(actor)
        for what, url, data in _admin_write_requests(world, label):
            with dbstate.no_writes() as written:
                response = client.post(url, data)
            code = response.status_code
            if actor in ("anon", "viewer", "customer", "key_ro"):
                ok = code == 302 and response["Location"].startswith("/admin/login/")
            else:
                # 200: the add form again, with errors, or the list again (the action is not
                # offered to the caller); 302: the list, nothing selected in the caller's scope.
                ok = code in (403, 404) or (what, code) in (
                    ("add", 200),
                    ("bulk-delete", 200),
                    ("bulk-delete", 302),
                )
            if not ok or written:
                failures.append(f"{actor} {what}: {code} wrote {written[:1]}")
    assert not failures, f"{label}: " + "; ".join(failures)


@pytest.mark.parametrize("actor", ["anon", "viewer", "outsider", "supporter", "admin"])
def test_nobody_but_superusers_sets_anothers_password_in_the_admin(
    world: World, actor: str
) -> None:
    url = _admin_url("admin:auth_user_password_change", "", world)
    new = {"password1": "another long passphrase 9", "password2": "another long passphrase 9"}
    client = world.client(actor)
    with dbstate.no_writes() as written:
        response = client.post(url, new)
    assert response.status_code in (302, 403) and not written
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/login/")
