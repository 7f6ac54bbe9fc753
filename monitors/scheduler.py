"""Claims due monitors and hands them to the workers in batches.

Claiming is safe with several scheduler loops on one database: on PostgreSQL the due rows are
locked with FOR UPDATE SKIP LOCKED (a second loop skips them); on SQLite the claim runs in an
IMMEDIATE transaction, which holds the database's write lock from its first statement. Either
way a claimed monitor's next_check_at moves past `now` before the transaction ends, so no slot is
handed out twice. After downtime a monitor is checked once and the skipped slots are recorded
with that check, never replayed in a burst.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from monitors.models import Location, Monitor
from portal.bulkwrite import update_fields

logger = logging.getLogger(__name__)
BATCH_SIZE = 500
CLAIM_LIMIT = 20_000  # monitors per claim (one transaction)


@dataclass(frozen=True)
class Claim:
    monitor_id: int
    due_at: datetime
    missed: int
    location_id: int


def claim_due(
    until: datetime | None = None, limit: int = CLAIM_LIMIT, now: datetime | None = None
) -> list[Claim]:
    """Claim the monitors due by `until` (by default now; later to claim ahead of slots).
    Slots missed are counted up to `now` only: a slot claimed ahead is not a missed one."""
    until = until or timezone.now()
    now = min(now or until, until)
    locations = list(Location.objects.filter(is_active=True).order_by("code"))
    if not locations:
        locations = [Location.default()]
    claims: list[Claim] = []
    with transaction.atomic():
        due = Monitor.objects.checked().filter(next_check_at__lte=until).order_by("next_check_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        monitors = list(
            due.only(
                "id",
                "next_check_at",
                "check_interval",
                "check_interval_seconds",
                "allowed_check_country_codes",
            )[:limit]
        )
        for monitor in monitors:
            allowed = [loc for loc in locations if monitor.checks_at(loc)]
            following, missed = monitor.next_slot_after(monitor.next_check_at, now)
            if allowed:
                # Rotate through the allowed locations slot by slot.
                slot = int(monitor.next_check_at.timestamp() // monitor.interval.total_seconds())
                location = allowed[slot % len(allowed)]
                claims.append(Claim(monitor.pk, monitor.next_check_at, missed, location.pk))
            monitor.next_check_at = following
        # One executemany UPDATE (bulk_update's CASE WHEN per row took most of the scheduler's
        # CPU at 100,000 monitors; see portal/bulkwrite.py).
        update_fields(monitors, ["next_check_at"])
    return claims


def dispatch(claims: list[Claim]) -> int:
    """Queue the claims as django-q2 tasks, per location on that location's cluster."""
    by_location: dict[int, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_location[claim.location_id].append(claim)
    clusters = dict(Location.objects.filter(pk__in=by_location).values_list("pk", "cluster"))
    queued = 0
    for location_id, items in by_location.items():
        cluster = clusters.get(location_id) or settings.Q_CLUSTER["name"]
        for start in range(0, len(items), BATCH_SIZE):
            batch = [
                (c.monitor_id, c.due_at.isoformat(), c.missed)
                for c in items[start : start + BATCH_SIZE]
            ]
            async_task(
                "monitors.tasks.run_checks",
                location_id,
                batch,
                cluster=cluster,
                task_name=f"checks:{location_id}:{batch[0][1]}",
                # A batch's results are its checks' rows; django-q2 keeping each successful
                # batch too (its arguments pickled) cost its monitor process a core's seventh
                # at 100,000 monitors, mostly unpickling the kept ones to prune them. Failures
                # are still kept.
                save=False,
            )
            queued += 1
    return queued


def pause_after(claimed: int, now: datetime) -> float:
    """How long the loop sleeps after a tick that claimed `claimed` checks: until the next slot
    enters the claim-ahead window, at most 1 s; with a window, at least a quarter of it (up to
    0.25 s), so that each tick gathers that much of the stream of slots into its batches."""
    ahead = settings.MONITOR_CLAIM_AHEAD_SECONDS
    if claimed >= CLAIM_LIMIT:
        return 0.0  # more is due than one claim takes
    gather = min(0.25, ahead / 4) if ahead > 0 else 0.05
    return max(gather, next_due(now + timedelta(seconds=ahead)))


def next_due(now: datetime) -> float:
    """Seconds until the earliest monitor is due (for the loop's sleep), at most 1."""
    earliest = (
        Monitor.objects.checked()
        .exclude(next_check_at=None)
        .order_by("next_check_at")
        .values_list("next_check_at", flat=True)
        .first()
    )
    if earliest is None:
        return 1.0
    return max(0.0, min(1.0, (earliest - now).total_seconds()))


def tick(now: datetime | None = None) -> int:
    """Claim and queue what is due now, and what falls due within MONITOR_CLAIM_AHEAD_SECONDS:
    the engine holds each check until its slot, so a batch gathers the slots of a moment
    instead of the one or two monitors due at this instant (small batches kept workers busy
    waiting out their echoes; bench/soak.py), and the slack covers the queue's delivery."""
    now = now or timezone.now()
    ahead = timedelta(seconds=settings.MONITOR_CLAIM_AHEAD_SECONDS)
    # With the database as django-q2's broker the queued tasks commit with the claim, so a
    # scheduler killed in between neither loses a claimed slot unrecorded nor queues it twice.
    # Redis cannot join the transaction: there a crash in that instant loses the slot's check.
    joined = settings.Q_CLUSTER.get("orm") == "default"
    with transaction.atomic() if joined else nullcontext():
        claims = claim_due(now + ahead, now=now)
        if claims:
            dispatch(claims)
    return len(claims)
