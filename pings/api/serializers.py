"""JSON shapes of the Meraki-dialect API: a ping job as Meraki's live tools return it (plus the
portal's own fields beside Meraki's), and a device in Meraki's device shape."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from pings.models import PingJob, launcher_for
from vendors.models import Device, DeviceKind


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def results_json(job: PingJob) -> dict[str, Any] | None:
    """Meraki's `results`: only complete jobs have them; `replies` lists the answered echoes
    (Meraki's way); lost ones are the gaps in sequenceId."""
    if job.status != "complete":
        return None
    replies = list(job.replies.all())
    return {
        "sent": job.sent,
        "received": job.received,
        "loss": {"percentage": job.loss_percent},
        "latencies": {
            "minimum": job.rtt_min,
            "average": job.rtt_avg,
            "maximum": job.rtt_max,
            "stddev": job.rtt_stddev,
        },
        "replies": [
            {"sequenceId": r.sequence, "size": r.size, "latency": r.rtt_ms}
            for r in replies
            if r.rtt_ms is not None
        ],
    }


def job_json(job: PingJob, viewer: Any = None) -> dict[str, Any]:
    """The job in Meraki's shape; `viewer` (when given) decides how the launcher is shown."""
    device = job.device
    serial = device.reference
    request: dict[str, Any] = {"serial": serial, "count": job.count}
    if job.target:
        request = {"serial": serial, "target": job.target, "count": job.count}
    body: dict[str, Any] = {
        "pingId": job.ping_id,
        "url": f"/devices/{serial}/liveTools/{job.kind}/{job.ping_id}",
        "request": request,
        "status": job.status,
        "results": results_json(job),
    }
    if job.callback_url:
        body["callback"] = {
            "id": job.ping_id,
            "url": job.callback_url,
            "status": job.callback_status,
            "attempts": job.callback_attempts,
            "nextAttemptAt": _iso(job.callback_next_at),
        }
    # The portal's own fields, beside Meraki's.
    body.update(
        {
            "publicId": str(job.public_id),
            "device": {
                "id": device.pk,
                "publicId": str(device.public_id),
                "name": device.name,
                "kind": device.kind,
            },
            "customerId": str(job.customer.public_id),
            "vendor": job.vendor,
            "source": job.source,
            "vendorReference": job.vendor_reference,
            "via": job.via,
            "launchedBy": launcher_for(job, viewer) if viewer else job.launched_by_label,
            "createdAt": _iso(job.created_at),
            "startedAt": _iso(job.started_at),
            "finishedAt": _iso(job.finished_at),
            "error": {"kind": job.error_kind, "message": job.error} if job.error else None,
        }
    )
    return body


PRODUCT_TYPES = {
    DeviceKind.MERAKI_DEVICE: "appliance",
    DeviceKind.MONOGOTO_THING: "cellularGateway",
    DeviceKind.SIMOTEL_SERVER: "pbx",
    DeviceKind.HOST: "host",
}


def device_json(device: Device) -> dict[str, Any]:
    """Meraki's device shape (what its SDK's getDevice returns), with the portal's fields."""
    return {
        "serial": device.reference,
        "name": device.name,
        "model": device.model or device.get_kind_display(),
        "networkId": device.network_id or None,
        "organizationId": str(device.organization_id),
        "lanIp": device.host or None,
        "mac": None,
        "firmware": None,
        "tags": [],
        "address": "",
        "lat": None,
        "lng": None,
        "notes": device.notes,
        "productType": PRODUCT_TYPES[DeviceKind(device.kind)],
        "url": settings.PORTAL_BASE_URL
        + reverse("device_detail", kwargs={"public_id": device.public_id}),
        # The portal's own fields.
        "id": device.pk,
        "publicId": str(device.public_id),
        "kind": device.kind,
        "vendor": DeviceKind(device.kind).vendor or "local",
        "iccid": device.iccid or None,
        "customerId": str(device.customer.public_id),
        "customerName": device.customer.name,
    }
