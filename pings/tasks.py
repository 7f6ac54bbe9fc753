"""What the django-q2 workers run for pings: the job itself, the sweep that ends jobs whose
worker died, and the delivery of callers' callbacks with retries.

Every state change is a compare-and-swap on `status` (healthchecks' claim pattern), so a task
that django-q2 delivers twice, or a late worker racing the sweep, never ends a job twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pings.launching import run_budget
from pings.models import (
    CallbackAttempt,
    CallbackStatus,
    JobVendor,
    PingJob,
    PingReply,
    Status,
)
from vendors.adapters import for_credential
from vendors.adapters.base import PingOutcome, Reply, VendorError
from vendors.adapters.local_icmp import LocalIcmpAdapter

logger = logging.getLogger(__name__)

# Seconds after a failed callback before the next try; after the last, the portal gives up.
CALLBACK_BACKOFF = [30, 120, 600, 1800, 7200]
CALLBACK_TIMEOUT = (5.0, 10.0)
SIGNATURE_HEADER = "X-Portal-Signature"
TIMESTAMP_HEADER = "X-Portal-Timestamp"


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
        for name, key in (("interval", "interval"), ("timeout", "timeout")):
            if getattr(job, name) is not None:
                options[key] = getattr(job, name)
        if job.packet_size is not None:
            options["payload_size"] = job.packet_size
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
        _callback_soon(job.pk)
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
            _callback_soon(job.pk)
    return ended


def maintain() -> dict[str, int]:
    """The every-minute schedule: sweep, then retry callbacks that are due."""
    return {"timed_out": sweep(), "callbacks": deliver_due_callbacks()}


# --- callbacks ------------------------------------------------------------------------------


def _callback_soon(job_id: int) -> None:
    if PingJob.objects.filter(pk=job_id, callback_status=CallbackStatus.PENDING).exists():
        from django_q.tasks import async_task

        async_task("pings.tasks.deliver_callback", job_id, group="ping-callbacks")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of "{timestamp}.{body}" keyed with the caller's shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def callback_body(job: PingJob) -> dict[str, Any]:
    """What Meraki sends to a callback URL: the job under "message", the shared secret as a
    plain field (Meraki's way); the signature headers are the portal's addition."""
    from pings.api.serializers import job_json

    return {
        "organization": {"id": str(job.organization_id), "name": job.organization.name},
        "network": None,
        "sentAt": timezone.now().isoformat().replace("+00:00", "Z"),
        "callbackId": job.ping_id,
        "message": job_json(job),
        "sharedSecret": job.callback_secret,
    }


def deliver_callback(job_id: int) -> str:
    """One delivery attempt; schedules the next on failure (see CALLBACK_BACKOFF)."""
    job = (
        PingJob.objects.select_related("organization", "device", "customer")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.is_active:
        return "not ready"
    if job.callback_status not in (CallbackStatus.PENDING, CallbackStatus.RETRYING):
        return "nothing to deliver"
    number = job.callback_attempts + 1
    # Claim this attempt: two sweeps or a duplicate task cannot both send it.
    claimed = PingJob.objects.filter(
        pk=job.pk, callback_attempts=job.callback_attempts, callback_status=job.callback_status
    ).update(callback_attempts=number, callback_next_at=None)
    if not claimed:
        return "taken by another worker"
    body = json.dumps(callback_body(job), separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ping-portal-callback/1",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(job.callback_secret, timestamp, body),
    }
    attempt = CallbackAttempt(job=job, number=number)
    started = time.monotonic()
    try:
        response = requests.post(
            job.callback_url,
            data=body,
            headers=headers,
            timeout=CALLBACK_TIMEOUT,
            allow_redirects=False,
        )
        attempt.status_code = response.status_code
        attempt.ok = 200 <= response.status_code < 300
        if not attempt.ok:
            attempt.error = f"The receiver answered HTTP {response.status_code}"
    except requests.Timeout:
        attempt.error = f"No answer within {sum(CALLBACK_TIMEOUT):g} s"
    except requests.RequestException as exc:
        attempt.error = f"Could not connect ({type(exc).__name__})"
    attempt.elapsed_ms = int((time.monotonic() - started) * 1000)
    if attempt.ok:
        status, next_at = CallbackStatus.DELIVERED, None
    elif number <= len(CALLBACK_BACKOFF):
        status = CallbackStatus.RETRYING
        next_at = timezone.now() + timedelta(seconds=CALLBACK_BACKOFF[number - 1])
    else:
        status, next_at = CallbackStatus.FAILED, None
    changes: dict[str, Any] = {"callback_status": status, "callback_next_at": next_at}
    if status in (CallbackStatus.DELIVERED, CallbackStatus.FAILED):
        changes["callback_secret_encrypted"] = ""  # no longer needed: do not keep it
    with transaction.atomic():
        attempt.save()
        PingJob.objects.filter(pk=job.pk).update(**changes)
    return status


def deliver_due_callbacks(now: Any = None) -> int:
    due = list(
        PingJob.objects.filter(
            callback_status=CallbackStatus.RETRYING, callback_next_at__lte=now or timezone.now()
        ).values_list("pk", flat=True)[:500]
    )
    for job_id in due:
        deliver_callback(job_id)
    return len(due)
