from __future__ import annotations

import ipaddress

import pytest
from django.core.management import CommandError, call_command

from portal.models import Customer, CustomerAccess, Membership, Organization, Role, User


def test_demo_is_idempotent_and_creates_the_documented_users(db, settings):
    settings.DEBUG = True
    call_command("demo")
    counts = [m.objects.count() for m in (Organization, Customer, User, Membership, CustomerAccess)]
    call_command("demo")
    assert [
        m.objects.count() for m in (Organization, Customer, User, Membership, CustomerAccess)
    ] == counts
    org = Organization.objects.get(name="Demo")
    assert org.customers.count() == 2
    roles = dict(Membership.objects.filter(organization=org).values_list("user__username", "role"))
    assert roles == {"admin": Role.ADMIN, "operator": Role.OPERATOR, "viewer": Role.READONLY}
    assert User.objects.get(username="supporter").is_global_supporter
    assert CustomerAccess.objects.filter(user__username="customer").count() == 1
    for name in ("admin", "operator", "viewer", "customer", "supporter"):
        assert User.objects.get(username=name).check_password("demo")


def test_demo_restores_a_changed_demo_password(db, settings):
    settings.DEBUG = True
    call_command("demo")
    user = User.objects.get(username="viewer")
    user.set_password("something else entirely")
    user.save()
    call_command("demo")
    user.refresh_from_db()
    assert user.check_password("demo")


def test_demo_refuses_to_run_with_debug_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo")
    assert not Organization.objects.exists()


def test_every_address_in_demo_data_is_loopback(db, settings):
    """Later issues add devices and monitors to the demo; all of them must stay in 127/8."""
    settings.DEBUG = True
    call_command("demo")
    from django.apps import apps

    checked: set[str] = set()
    for model in apps.get_models():
        if model._meta.app_label not in {"portal", "vendors", "pings", "monitors"}:
            continue
        for field in model._meta.get_fields():
            if getattr(field, "get_internal_type", lambda: "")() == "GenericIPAddressField" or (
                field.name in {"hostname", "host", "ip", "ip_address", "target", "address"}
            ):
                checked.add(f"{model.__name__}.{field.name}")
                for value in model.objects.exclude(**{f"{field.name}__isnull": True}).values_list(
                    field.name, flat=True
                ):
                    if value:
                        assert ipaddress.ip_address(value) in ipaddress.ip_network("127.0.0.0/8")
    assert {"Device.host", "Monitor.hostname"} <= checked  # the check looked where it matters


def test_demo_credentials_point_at_the_loopback_simulator(db, settings):
    from urllib.parse import urlparse

    from vendors.models import Credential, Device

    settings.DEBUG = True
    call_command("demo")
    credentials = Credential.objects.all()
    assert {c.vendor for c in credentials} == {"meraki", "monogoto", "simotel"}
    for credential in credentials:
        assert urlparse(credential.base_url).hostname == "127.0.0.1"
    assert Device.objects.count() == 5
    call_command("demo")
    assert Device.objects.count() == 5 and Credential.objects.count() == 3


def test_demo_monitors_are_scheduled_on_loopback(db, settings):
    from monitors.models import Monitor

    settings.DEBUG = True
    call_command("demo")
    monitors = Monitor.objects.all()
    assert monitors.count() == 4
    assert all(m.next_check_at is not None and m.hostname.startswith("127.") for m in monitors)


def test_demo_monitors_come_with_a_year_of_made_up_history_once(db, settings):
    from monitors.models import Incident, Monitor, Period, Rollup, StatusPage
    from monitors.series import chart_series, parse_range
    from monitors.uptime import uptimes

    settings.DEBUG = True
    call_command("demo")
    rows = Rollup.objects.count()
    call_command("demo")
    assert Rollup.objects.count() == rows  # loaded once, never doubled
    monitor = Monitor.objects.get(name="Warehouse gateway")
    assert Rollup.objects.filter(monitor=monitor, period=Period.DAY).count() == 365
    assert Incident.objects.filter(monitor=monitor).count() == 4
    year = chart_series(monitor, parse_range("1y"))
    assert len(year.points) >= 360 and year.incidents
    figures = uptimes([monitor.pk])[monitor.pk]
    assert 99.0 < figures["90d"].percent < 100.0  # a few outages, otherwise up
    page = StatusPage.objects.get(customer=monitor.customer)
    assert page.mode == "public" and page.slug == "northwind"
