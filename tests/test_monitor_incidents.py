"""The incident state machine: retries, thresholds, escalation, recovery after the quiet
period, flapping folded into one incident, maintenance windows, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail

from monitors import incidents
from monitors.checks import run_batch
from monitors.engine import ProbeResult
from monitors.models import (
    CheckResult,
    Event,
    Health,
    Incident,
    IncidentState,
    Location,
    MaintenanceWindow,
    Monitor,
    MonitorStatus,
    Notification,
    NotificationStatus,
)
from tests.conftest import World

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
STEP = timedelta(minutes=1)


class Answers:
    """An engine stand-in answering `received` of `sent` echoes (every reply `rtt` ms)."""

    def __init__(self, received: int, sent: int = 4, rtt: float = 1.0) -> None:
        self.received, self.sent, self.rtt = received, sent, rtt

    def run(self, probes):
        return {
            p.key: ProbeResult(
                key=p.key,
                address="127.0.0.1",
                sent=self.sent,
                received=self.received,
                rtts=[self.rtt] * self.received + [None] * (self.sent - self.received),
            )
            for p in probes
        }


UP, LOSSY, DOWN = Answers(4), Answers(2), Answers(0)


def make_monitor(world: World, **fields) -> Monitor:
    fields.setdefault("check_interval_seconds", 60)
    fields.setdefault("notification_email", "noc@example.test")
    return Monitor.objects.create(
        customer=world.c1, name="Core router", hostname="127.0.0.9", **fields
    )


def play(monitor: Monitor, answers: list[Answers], start: datetime = T0) -> datetime:
    """One check per STEP from `start`; returns the time after the last."""
    at = start
    for answer in answers:
        run_batch(Location.default(), [(monitor.pk, at, 0)], answer)
        at += STEP
    return at


def events(monitor: Monitor) -> list[str]:
    return list(
        Notification.objects.filter(monitor=monitor).order_by("pk").values_list("event", flat=True)
    )


@pytest.fixture(autouse=True)
def _quiet_period(settings):
    settings.MONITOR_FLAP_QUIET_SECONDS = 180  # three checks


def test_all_lost_checks_within_the_retries_open_nothing(world: World):
    m = make_monitor(world, retries=2)
    play(m, [DOWN, DOWN])
    assert not Incident.objects.filter(monitor=m).exists()
    assert list(CheckResult.objects.filter(monitor=m).values_list("retrying", flat=True)) == [
        True,
        True,
    ]


def test_the_check_past_the_retries_opens_a_down_incident_that_started_with_the_first(
    world: World, django_capture_on_commit_callbacks
):
    m = make_monitor(world, retries=2)
    with django_capture_on_commit_callbacks(execute=True):
        play(m, [UP, DOWN, DOWN, DOWN])
    incident = Incident.objects.get(monitor=m)
    assert incident.state == IncidentState.OPEN and incident.severity == Health.DOWN
    assert incident.started_at == T0 + STEP and incident.opened_at == T0 + 3 * STEP
    assert incident.failed_checks == 1 and "No reply to 4 echo requests" in incident.last_error
    assert events(m) == [Event.OPENED]
    assert len(mail.outbox) == 1 and "Core router" in mail.outbox[0].subject


def test_loss_above_the_threshold_opens_a_degraded_incident_that_escalates_to_down(world: World):
    m = make_monitor(world, degraded_loss_percent=20)
    play(m, [LOSSY, LOSSY, DOWN])
    incident = Incident.objects.get(monitor=m)
    assert incident.severity == Health.DOWN and incident.failed_checks == 3
    assert incident.started_at == T0 and incident.opened_at == T0
    assert events(m) == [Event.OPENED, Event.ESCALATED]


def test_loss_at_the_threshold_is_still_up(world: World):
    m = make_monitor(world, degraded_loss_percent=50)
    play(m, [LOSSY])
    assert not Incident.objects.filter(monitor=m).exists()


def test_recovery_closes_once_the_quiet_period_has_passed_at_the_time_it_came_back(world: World):
    m = make_monitor(world)
    play(m, [DOWN, DOWN, UP, UP, UP])
    incident = Incident.objects.get(monitor=m)
    assert incident.state == IncidentState.RECOVERING  # up for two minutes, quiet is three
    play(m, [UP], start=T0 + 5 * STEP)
    incident.refresh_from_db()
    assert incident.state == IncidentState.CLOSED
    assert incident.closed_at == T0 + 2 * STEP and incident.duration() == 2 * STEP
    assert events(m) == [Event.OPENED, Event.RESOLVED]


def test_a_flapping_monitor_gives_one_incident_and_one_pair_of_notifications(world: World):
    m = make_monitor(world)
    play(m, [DOWN, UP, DOWN, UP, UP, DOWN, UP, UP, UP, UP])
    incident = Incident.objects.get(monitor=m)
    assert incident.state == IncidentState.CLOSED and incident.flaps == 2
    assert incident.failed_checks == 3
    assert incident.closed_at == T0 + 6 * STEP  # the last time it came back
    assert events(m) == [Event.OPENED, Event.RESOLVED]


def test_a_relapse_after_the_quiet_period_is_a_new_incident(world: World):
    m = make_monitor(world)
    play(m, [DOWN, UP, UP, UP, UP, DOWN])
    assert list(Incident.objects.filter(monitor=m).values_list("state", flat=True)) == [
        IncidentState.OPEN,
        IncidentState.CLOSED,
    ]
    assert events(m) == [Event.OPENED, Event.RESOLVED, Event.OPENED]


def test_without_a_quiet_period_the_first_good_check_closes(world: World, settings):
    settings.MONITOR_FLAP_QUIET_SECONDS = 0
    m = make_monitor(world)
    play(m, [DOWN, UP])
    assert Incident.objects.get(monitor=m).closed_at == T0 + STEP


def test_checks_in_a_maintenance_window_open_no_incident_and_count_as_maintenance(world: World):
    m = make_monitor(world)
    MaintenanceWindow.objects.create(
        customer=world.c1, starts_at=T0, ends_at=T0 + 3 * STEP, reason="Router swap"
    )
    play(m, [DOWN, DOWN, DOWN])
    assert not Incident.objects.filter(monitor=m).exists()
    assert all(CheckResult.objects.filter(monitor=m).values_list("maintenance", flat=True))
    play(m, [DOWN], start=T0 + 3 * STEP)  # the window has ended
    assert Incident.objects.get(monitor=m).opened_at == T0 + 3 * STEP


def test_a_weekly_window_covers_the_same_hour_every_week_in_its_time_zone(world: World):
    window = MaintenanceWindow.objects.create(
        customer=world.c1,
        weekday=0,
        start_time=time(11, 0),
        duration_minutes=30,
        time_zone="Europe/Berlin",  # 11:00 in Berlin is 10:00 UTC in November
    )
    for weeks in (0, 1, 52):
        at = T0 + timedelta(weeks=weeks)
        assert window.covers(at + timedelta(minutes=29))
        assert not window.covers(at + timedelta(minutes=30))
        assert not window.covers(at - timedelta(seconds=1))
    # In July Berlin is UTC+2: the window follows the wall clock.
    july = datetime(2027, 7, 5, 9, 0, tzinfo=UTC)  # a Monday
    assert window.covers(july) and not window.covers(july + timedelta(hours=1))


def test_a_monitor_in_maintenance_status_alerts_for_nothing(world: World):
    m = make_monitor(world, status=MonitorStatus.MAINTENANCE)
    play(m, [DOWN, DOWN])
    assert not Incident.objects.filter(monitor=m).exists()


def test_notifications_during_maintenance_are_recorded_as_suppressed(world: World):
    m = make_monitor(world)
    play(m, [DOWN])
    MaintenanceWindow.objects.create(
        customer=world.c1, monitor=m, starts_at=T0 + STEP, ends_at=T0 + 10 * STEP
    )
    play(m, [UP, UP, UP, UP], start=T0 + STEP)
    resolved = Notification.objects.get(monitor=m, event=Event.RESOLVED)
    assert resolved.status == NotificationStatus.SUPPRESSED
    assert "maintenance" in resolved.last_error


def test_the_sweep_closes_a_recovering_incident_when_no_further_check_comes(world: World):
    m = make_monitor(world)
    play(m, [DOWN, UP])
    assert incidents.close_quiet(T0 + 2 * STEP) == 0
    assert incidents.close_quiet(T0 + STEP + timedelta(seconds=180)) == 1
    incident = Incident.objects.get(monitor=m)
    assert incident.state == IncidentState.CLOSED and incident.closed_at == T0 + STEP
    assert events(m) == [Event.OPENED, Event.RESOLVED]


def test_pausing_a_monitor_closes_its_incident_without_a_recovery_notice(world: World):
    m = make_monitor(world)
    play(m, [DOWN])
    Monitor.objects.filter(pk=m.pk).update(status=MonitorStatus.DISABLED)
    assert incidents.close_quiet(T0 + STEP) == 1
    incident = Incident.objects.get(monitor=m)
    assert incident.state == IncidentState.CLOSED and incident.close_reason
    assert events(m) == [Event.OPENED]


def test_reminders_repeat_while_open_and_only_once_per_interval(world: World):
    m = make_monitor(world, reminder_minutes=10)
    play(m, [DOWN])
    assert incidents.remind(T0 + timedelta(minutes=9)) == 0
    assert incidents.remind(T0 + timedelta(minutes=10)) == 1
    assert incidents.remind(T0 + timedelta(minutes=11)) == 0
    assert incidents.remind(T0 + timedelta(minutes=20)) == 1
    assert events(m) == [Event.OPENED, Event.REMINDER, Event.REMINDER]


def test_no_channels_means_an_incident_without_notifications(world: World):
    m = make_monitor(world, notification_email="")
    play(m, [DOWN])
    assert Incident.objects.filter(monitor=m).count() == 1 and events(m) == []


def test_one_unclosed_incident_per_monitor_is_enforced_by_the_database(world: World):
    from django.db import IntegrityError, transaction

    m = make_monitor(world)
    play(m, [DOWN])
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(monitor=m, severity=Health.DOWN, started_at=T0, opened_at=T0)


def test_the_api_lists_incidents_and_uptime_in_its_own_shapes(world: World):
    m = make_monitor(world)
    start = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    play(m, [UP, UP, DOWN, DOWN, UP, UP, UP, UP], start=start)
    body = world.api("key_ro", "get", f"/api/icmp-monitors/{m.public_id}/incidents?limit=1").json()
    assert body["total"] == 1
    (incident,) = body["incidents"]
    assert incident["state"] == "closed" and incident["durationSeconds"] == 120
    assert incident["failedChecks"] == 2 and incident["lastError"].startswith("No reply")
    figures = world.api("customer", "get", f"/api/icmp-monitors/{m.public_id}/uptime").json()
    assert figures["24h"]["downSeconds"] == 120 and figures["24h"]["upSeconds"] == 360
    assert figures["24h"]["uptimePercent"] == 75.0
    bad = world.client("viewer").get(f"/api/icmp-monitors/{m.public_id}/incidents?limit=0")
    assert bad.status_code == 400
