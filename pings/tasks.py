"""What the django-q2 workers run for pings: the job itself and the sweep that ends jobs whose
worker died (callbacks: pings/callbacks.py).

Every state change is a compare-and-swap on `status` (healthchecks' claim pattern), so a task
that django-q2 delivers twice, or a late worker racing the sweep, never ends a job twice.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pings.callbacks import callback_soon, deliver_due_callbacks
from pings.launching import run_budget
from pings.models import JobVendor, PingJob, PingReply, Status
from vendors.adapters import for_credential
from vendors.adapters.base import PingOutcome, Reply, VendorError
from vendors.adapters.local_icmp import LocalIcmpAdapter

logger = logging.getLogger(__name__)


# --- running a job --------------------------------------------------------------------------


def run_job(job_id: int) -> str:
    """Claim the job (queued → running), ping through its vendor, record the outcome."""
    now = timezone.now()
    claimed = PingJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=now, deadline_at=now + run_budget()
    )
    if not claimed:
        return "not queued (already taken, finished or swept)"
    job = PingJob.objects.select_related("device__credential", "customer").get(pk=job_id)
    try:
        outcome = _ping(job)
    except VendorError as exc:
        _finish(job, Status.FAILED, error=exc.plain, error_kind=exc.kind)
    except Exception:
        logger.exception("Ping job %s failed inside the portal", job_id)
        _finish(
            job,
            Status.FAILED,
            error="The portal failed while running this ping; the error has been logged.",
            error_kind="internal",
        )
    else:
        _finish(job, Status.COMPLETE, outcome=outcome)
    return PingJob.objects.values_list("status", flat=True).get(pk=job_id)


def _ping(job: PingJob) -> PingOutcome:
    device = job.device
    if job.vendor == JobVendor.LOCAL:

        def record(reply: Reply) -> None:
            # Replies land as they arrive so that the page can show them while it runs.
            PingReply.objects.update_or_create(
                job=job,
                sequence=reply.sequence,
                defaults={"rtt_ms": reply.rtt_ms, "size": reply.size, "ttl": reply.ttl},
            )

        options: dict[str, Any] = {"on_reply": record}
        asked = {"interval": job.interval, "timeout": job.timeout, "payload_size": job.packet_size}
        options.update({k: v for k, v in asked.items() if v is not None})
        return LocalIcmpAdapter().ping(
            device, target=job.target or None, count=job.count, **options
        )
    if device.credential is None:
        raise VendorError("The device has no vendor credential")
    options = {}
    if job.vendor == JobVendor.MERAKI:
        options["on_started"] = lambda ping_id: PingJob.objects.filter(pk=job.pk).update(
            vendor_reference=ping_id[:80]
        )
        if settings.MERAKI_CALLBACKS:
            options["callback_base_url"] = settings.PORTAL_BASE_URL
    return for_credential(device.credential).ping(
        device, target=job.target or None, count=job.count, **options
    )


def _finish(
    job: PingJob,
    status: str,
    *,
    outcome: PingOutcome | None = None,
    error: str = "",
    error_kind: str = "",
) -> bool:
    """Write the end of a running job once; False when the sweep got there first."""
    fields: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "error": error,
        "error_kind": error_kind,
    }
    if outcome is not None:
        fields.update(
            sent=outcome.sent,
            received=outcome.received,
            loss_percent=outcome.loss_percent,
            rtt_min=outcome.rtt_min,
            rtt_avg=outcome.rtt_avg,
            rtt_max=outcome.rtt_max,
            rtt_stddev=outcome.rtt_stddev,
            source=outcome.source[:40],
            raw=_jsonable(outcome.raw),
        )
    with transaction.atomic():
        ended = PingJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(**fields)
        if ended and outcome is not None:
            # The final word on every sequence replaces what arrived live.
            PingReply.objects.filter(job_id=job.pk).delete()
            PingReply.objects.bulk_create(
                PingReply(
                    job_id=job.pk, sequence=r.sequence, rtt_ms=r.rtt_ms, size=r.size, ttl=r.ttl
                )
                for r in outcome.replies
            )
    if ended:
        callback_soon(job.pk)
    return bool(ended)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return {"unserializable": repr(value)[:2000]}
    return value


# --- the sweep ------------------------------------------------------------------------------


def sweep(now: Any = None) -> int:
    """End jobs that are past their deadline: no worker took them, or the worker died."""
    now = now or timezone.now()
    ended = 0
    for job in PingJob.objects.overdue(now).only("pk", "status", "started_at"):
        if job.status == Status.QUEUED:
            reason = "No worker started this ping in time; is the job cluster running?"
        else:
            reason = (
                "The worker running this ping stopped without a result "
                f"(nothing for {int((now - job.started_at).total_seconds())} s)."
            )
        swapped = PingJob.objects.filter(pk=job.pk, status=job.status).update(
            status=Status.TIMED_OUT, finished_at=now, error=reason, error_kind="timed_out"
        )
        if swapped:
            ended += 1
            logger.warning("Ping job %s timed out while %s", job.pk, job.status)
            callback_soon(job.pk)
    return ended


def maintain() -> dict[str, int]:
    """The every-minute schedule: sweep, then retry callbacks that are due."""
    return {"timed_out": sweep(), "callbacks": deliver_due_callbacks()}
