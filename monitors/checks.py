"""Running a batch of checks through the engine and recording what came back."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from monitors import rollups
from monitors.engine import Engine, Probe, ProbeResult
from monitors.incidents import Book
from monitors.maintenance import in_maintenance, windows_for
from monitors.models import CheckResult, Health, Location, Monitor
from portal.bulkwrite import insert_rows, update_fields

PACKET_INTERVAL = 0.2  # seconds between the echoes of one check
# Every column but the id: results are written as plain rows (see portal/bulkwrite.py) and
# nothing reads their ids back.
RESULT_FIELDS = [f.attname for f in CheckResult._meta.concrete_fields if not f.primary_key]
_engine: Engine | None = None


def engine() -> Engine:
    """One engine (and so one socket per address family) per worker process."""
    global _engine
    if _engine is None:
        _engine = Engine()
    return _engine


def evaluate(monitor: Monitor, probe: ProbeResult) -> tuple[str, bool, str]:
    """(this check's status, whether it is a retry below the down threshold, the monitor's
    health afterwards). All lost (or not sent) is down only after `retries` such checks."""
    failed = bool(probe.error) or probe.received == 0
    if failed:
        in_a_row = monitor.failures_in_a_row + 1
        retrying = in_a_row <= monitor.retries
        health = monitor.health if retrying else Health.DOWN
        return Health.DOWN, retrying, health
    degraded = (probe.loss_percent or 0) > monitor.degraded_loss_percent or (
        monitor.degraded_rtt_ms is not None and (probe.rtt_avg or 0) > monitor.degraded_rtt_ms
    )
    status = Health.DEGRADED if degraded else Health.UP
    return status, False, status


def probe_for(monitor: Monitor, due: datetime | None = None) -> Probe:
    # timeoutSeconds bounds the whole check: the last echo still gets at least half a second.
    per_packet = max(0.5, monitor.timeout_seconds - (monitor.count - 1) * PACKET_INTERVAL)
    return Probe(
        key=monitor.pk,
        host=monitor.hostname,
        count=monitor.count,
        payload_size=monitor.packet_size,
        timeout=per_packet,
        interval=PACKET_INTERVAL,
        # Claimed ahead of its slot (see scheduler.tick): the first echo waits for the slot.
        not_before=due.timestamp() if due else 0.0,
    )


def run_batch(
    location: Location, items: list[tuple[int, datetime, int]], engine_: Engine | None = None
) -> list[CheckResult]:
    monitors = Monitor.objects.in_bulk([monitor_id for monitor_id, _, _ in items])
    todo = [(monitors[m], due, missed) for m, due, missed in items if m in monitors]
    outcomes = (engine_ or engine()).run(probe_for(m, due) for m, due, _ in todo)
    windows = windows_for((m for m, _, _ in todo), since=min((d for _, d, _ in todo), default=None))
    now = timezone.now()
    with transaction.atomic():
        # Locked first: the incidents of these monitors (see monitors/rollups.py for the rest).
        book = Book.load(m.pk for m, _, _ in todo)
        results, changed = [], []
        for monitor, due, missed in todo:
            probe = outcomes[monitor.pk]
            result = record(monitor, location, due, missed, probe, windows[monitor.pk], now)
            book.step(monitor, result, monitor.health)
            results.append(result)
            changed.append(monitor)
        insert_rows(
            CheckResult, RESULT_FIELDS, [[getattr(r, f) for f in RESULT_FIELDS] for r in results]
        )
        update_fields(
            changed,
            [
                "failures_in_a_row",
                "health",
                "last_checked_at",
                "last_rtt_ms",
                "last_loss_percent",
                "last_error",
            ],
        )
        rollups.absorb(results, {m.pk: m for m in changed})
        book.save()
    return results


def record(
    monitor: Monitor,
    location: Location,
    due: datetime,
    missed: int,
    probe: ProbeResult,
    windows: list,
    now: datetime,
) -> CheckResult:
    """The check's result row (unsaved), and the monitor's state moved on by it."""
    status, retrying, health = evaluate(monitor, probe)
    sent_at = datetime.fromtimestamp(probe.first_sent_at, tz=UTC) if probe.first_sent_at else None
    monitor.failures_in_a_row = monitor.failures_in_a_row + 1 if status == Health.DOWN else 0
    monitor.health = health
    monitor.last_checked_at = now
    monitor.last_rtt_ms = probe.rtt_avg
    monitor.last_loss_percent = probe.loss_percent
    monitor.last_error = probe.error[:300]
    return CheckResult(
        monitor=monitor,
        location=location,
        due_at=due,
        sent_at=sent_at,
        sent=probe.sent,
        received=probe.received,
        loss_percent=probe.loss_percent,
        rtt_min=probe.rtt_min,
        rtt_avg=probe.rtt_avg,
        rtt_max=probe.rtt_max,
        rtt_stddev=probe.rtt_stddev,
        rtts=probe.rtts,
        status=status,
        retrying=retrying,
        missed_slots=missed,
        error=probe.error[:300],
        maintenance=in_maintenance(monitor, due, windows),
    )
