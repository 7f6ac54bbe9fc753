"""Launching a ping: the options each vendor takes, the per-device limit, and the job that a
django-q2 worker then runs. Pages, the bulk launcher and the API all come through here, so a
ping is validated, limited, audited and queued the same way whoever asks."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from pings.models import JobVendor, PingBatch, PingJob, Status
from portal import access, audit
from portal.validators import is_ip, normalize_host
from vendors import ratelimit
from vendors.models import Device, DeviceKind

logger = logging.getLogger(__name__)

# The portal's own limit per device, as Meraki's live tools have it: 1 per 5 s, burst 5.
DEVICE_LIMIT = (1 / 5, 5)
# A job no worker has started by then is timed out by the sweep.
QUEUE_DEADLINE = timedelta(minutes=10)

MERAKI_COUNT = (1, 5)
LOCAL_COUNT = (1, 100)
LOCAL_PACKET_SIZE = (0, 65500)
LOCAL_INTERVAL = (0.2, 10.0)
LOCAL_TIMEOUT = (0.2, 30.0)
LOCAL_LONGEST = 100.0  # seconds one local ping may run (count * interval + timeout)


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"This device was pinged 5 times in the last 25 s; wait {math.ceil(retry_after)} s "
            "(at most 1 ping per 5 s, burst 5)."
        )


@dataclass
class PingOptions:
    target: str = ""
    count: int | None = None
    packet_size: int | None = None
    interval: float | None = None
    timeout: float | None = None
    callback_url: str = ""
    callback_secret: str = field(default="", repr=False)


def vendor_of(device: Device) -> str:
    return DeviceKind(device.kind).vendor or JobVendor.LOCAL


# What each kind of device accepts (pages show only these fields).
SUPPORTED = {
    DeviceKind.MERAKI_DEVICE: {"target", "count"},
    DeviceKind.MONOGOTO_THING: {"target"},
    DeviceKind.SIMOTEL_SERVER: set(),
    DeviceKind.HOST: {"target", "count", "packet_size", "interval", "timeout"},
}
NOT_SUPPORTED = {
    DeviceKind.MERAKI_DEVICE: "Meraki's live tools take only a target and a count.",
    DeviceKind.MONOGOTO_THING: "Monogoto's Thing ping takes only a target IP address.",
    DeviceKind.SIMOTEL_SERVER: "A Simotel server is checked as itself: no target, count or size.",
}


def _number(value: Any, kind: type, low: float, high: float, errors: dict, name: str) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors[name] = ["Must be a number."]
        return None
    try:
        number = kind(value) if kind is float else _whole(value)
    except (TypeError, ValueError):
        errors[name] = ["Must be a whole number." if kind is int else "Must be a number."]
        return None
    if not (low <= number <= high) or (kind is float and not math.isfinite(number)):
        errors[name] = [f"Must be from {low:g} to {high:g}."]
        return None
    return number


def _whole(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise ValueError
    return int(text)


def clean_options(device: Device, data: dict[str, Any], *, api: bool = False) -> PingOptions:
    """Validate `data` (target, count, packet_size, interval, timeout) for this device's vendor.
    Raises ValidationError with a message list per field. The API speaks Meraki's dialect, so
    there `count` is 1 to 5 for every device."""
    kind = DeviceKind(device.kind)
    supported = SUPPORTED[kind]
    errors: dict[str, list[str]] = {}
    given = {k for k, v in data.items() if v not in (None, "")}
    for name in sorted(given - supported):
        if name in ("target", "count", "packet_size", "interval", "timeout"):
            errors[name] = [NOT_SUPPORTED[kind]]
    options = PingOptions()
    if "target" in supported and data.get("target") not in (None, ""):
        raw = data["target"]
        if not isinstance(raw, str):
            errors["target"] = ["Must be a hostname or an IP address."]
        elif len(raw) > 253:
            errors["target"] = ["At most 253 characters."]
        else:
            try:
                options.target = normalize_host(raw)
            except ValidationError as exc:
                errors["target"] = exc.messages
            else:
                if kind is DeviceKind.MONOGOTO_THING and not is_ip(options.target):
                    errors["target"] = ["Monogoto pings an IP address, not a name."]
    if "count" in supported:
        meraki_rules = api or kind is DeviceKind.MERAKI_DEVICE
        low, high = MERAKI_COUNT if meraki_rules else LOCAL_COUNT
        options.count = _number(data.get("count"), int, low, high, errors, "count")
        if options.count is None and "count" not in errors:
            options.count = 5 if meraki_rules else 4  # Meraki's default; the page's for hosts
    if kind is DeviceKind.HOST:
        options.packet_size = _number(
            data.get("packet_size"), int, *LOCAL_PACKET_SIZE, errors, "packet_size"
        )
        options.interval = _number(data.get("interval"), float, *LOCAL_INTERVAL, errors, "interval")
        options.timeout = _number(data.get("timeout"), float, *LOCAL_TIMEOUT, errors, "timeout")
        if not errors:
            longest = options.count * (options.interval or 1.0) + (options.timeout or 2.0)
            if longest > LOCAL_LONGEST:
                errors[NON_FIELD_ERRORS] = [
                    f"This ping would run up to {longest:g} s; keep count * interval + timeout "
                    f"under {LOCAL_LONGEST:g} s."
                ]
    if errors:
        raise ValidationError(errors)
    return options


def _bucket(device: Device) -> str:
    return f"ping-launch:device:{device.pk}"


def has_token(device: Device) -> bool:
    """Whether a launch would pass the device's limit now (without taking anything)."""
    return ratelimit.peek(_bucket(device), *DEVICE_LIMIT) == 0.0


def take_token(device: Device) -> None:
    """One launch of this device's bucket (shared by every process), or RateLimited."""
    wait = ratelimit.try_take(_bucket(device), *DEVICE_LIMIT)
    if wait > 0:
        raise RateLimited(wait)


def launch(
    actor: Any,
    device: Device,
    options: PingOptions,
    *,
    via: str,
    request: Any = None,
    batch: PingBatch | None = None,
) -> PingJob:
    """Create the job (audited) and queue it, after checking that `actor` may change `device`
    and taking a token of the device's limit."""
    access.require(actor, access.CHANGE, device)
    take_token(device)
    now = timezone.now()
    api_key = getattr(actor, "api_key", None)
    job = PingJob(
        organization_id=device.organization_id,
        customer_id=device.customer_id,
        device=device,
        batch=batch,
        vendor=vendor_of(device),
        launched_by=None if api_key else (actor if actor.is_authenticated else None),
        api_key=api_key,
        launched_by_label=audit.actor_label(actor)[:150],
        via=via,
        target=options.target,
        count=options.count,
        packet_size=options.packet_size,
        interval=options.interval,
        timeout=options.timeout,
        created_at=now,
        deadline_at=now + QUEUE_DEADLINE,
    )
    if options.callback_url:
        job.set_callback(options.callback_url, options.callback_secret)
    with transaction.atomic():
        job.save()
        audit.record(
            actor,
            "ping.launch",
            job,
            request=request,
            device=device.name,
            vendor=job.vendor,
            via=via,
            ping_target=job.target,
            count=job.count,
            callback=bool(job.callback_url),
        )
    enqueue(job)
    return job


def enqueue(job: PingJob) -> None:
    """Hand the job to a django-q2 worker (tests run it inline: Q_CLUSTER sync). When the
    broker cannot take it, the job fails at once with the reason rather than waiting for the
    sweep."""
    from django_q.tasks import async_task

    try:
        async_task("pings.tasks.run_job", job.pk, task_name=f"ping-{job.pk}", group="pings")
    except Exception:
        logger.exception("Could not queue ping job %s", job.pk)
        PingJob.objects.filter(pk=job.pk, status=Status.QUEUED).update(
            status=Status.FAILED,
            finished_at=timezone.now(),
            error="The portal's job queue did not take this ping; try again in a moment.",
            error_kind="queue",
        )


def run_budget() -> timedelta:
    """How long a started job may take before the sweep calls it dead: the task time limit
    django-q2 enforces, plus a margin for the worker to write the result."""
    return timedelta(
        seconds=settings.Q_CLUSTER.get("timeout", 120) + settings.PING_RESULT_GRACE_SECONDS
    )
