"""Delivering a finished job to its caller's callback URL, as Meraki does (the job under
"message", the shared secret as a plain field) and signed beyond Meraki: X-Portal-Timestamp and
X-Portal-Signature, an HMAC-SHA256 of "{timestamp}.{body}" keyed with the shared secret. Failed
deliveries are retried with backoff; every attempt is recorded on the job."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pings.models import CallbackAttempt, CallbackStatus, PingJob
from portal import webhooks
from portal.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, Refused, signature

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Refused", "signature"]  # re-exported

logger = logging.getLogger(__name__)

# Seconds after a failed callback before the next try; after the last, the portal gives up.
CALLBACK_BACKOFF = [30, 120, 600, 1800, 7200]
CALLBACK_TIMEOUT = (5.0, 10.0)


def check_destination(url: str) -> None:
    """Unless PING_CALLBACKS_TO_PRIVATE_NETWORKS, a callback may not reach the portal's own
    networks (loopback, private, link-local...): callers must not use the portal to probe them."""
    webhooks.check_destination(url, settings.PING_CALLBACKS_TO_PRIVATE_NETWORKS, noun="callback")


def callback_soon(job_id: int) -> None:
    """Queue the first delivery; if the queue will not take it, the every-minute maintenance
    delivers it instead."""
    if not PingJob.objects.filter(pk=job_id, callback_status=CallbackStatus.PENDING).exists():
        return
    from django_q.tasks import async_task

    try:
        async_task("pings.callbacks.deliver_callback", job_id, group="ping-callbacks")
    except Exception:
        logger.exception("Could not queue the callback of ping job %s", job_id)
        PingJob.objects.filter(pk=job_id, callback_status=CallbackStatus.PENDING).update(
            callback_status=CallbackStatus.RETRYING,
            callback_next_at=timezone.now() + timedelta(seconds=CALLBACK_BACKOFF[0]),
        )


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
    attempt = CallbackAttempt(job=job, number=number)
    started = time.monotonic()
    try:
        check_destination(job.callback_url)
        attempt.ok, attempt.status_code, attempt.error = webhooks.post_signed(
            job.callback_url,
            body,
            job.callback_secret,
            user_agent="ping-portal-callback/1",
            timeout=CALLBACK_TIMEOUT,
        )
    except Refused as exc:
        attempt.error = str(exc)
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
