"""JSON shapes of the Meraki-dialect API: a ping job as Meraki's live tools return it (plus the
portal's own fields beside Meraki's), and a device in Meraki's device shape."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from pings.models import PingJob, launched_through_api, launcher_shown
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


def job_record(job: PingJob) -> dict[str, Any]:
    """What of a job's JSON is the job's own — not its device's, not the viewer's — and whose it
    is (organization, customer and device ids): what pings.jobcache keeps of a finished job."""
    return {
        "id": job.pk,
        "organization": job.organization_id,
        "customer": job.customer_id,
        "device": job.device_id,
        "kind": job.kind,
        "target": job.target,
        "count": job.count,
        "status": job.status,
        "results": results_json(job),
        "callback": {
            "id": job.ping_id,
            "url": job.callback_url,
            "status": job.callback_status,
            "attempts": job.callback_attempts,
            "nextAttemptAt": _iso(job.callback_next_at),
        }
        if job.callback_url
        else None,
        "publicId": str(job.public_id),
        "customerId": str(job.customer.public_id),
        "vendor": job.vendor,
        "source": job.source,
        "vendorReference": job.vendor_reference,
        "via": job.via,
        "launchedByLabel": job.launched_by_label,
        "byApi": launched_through_api(job),
        "createdAt": _iso(job.created_at),
        "startedAt": _iso(job.started_at),
        "finishedAt": _iso(job.finished_at),
        "error": {"kind": job.error_kind, "message": job.error} if job.error else None,
    }


def job_json(job: PingJob, viewer: Any = None) -> dict[str, Any]:
    """The job in Meraki's shape; `viewer` (when given) decides how the launcher is shown."""
    return record_json(job_record(job), job.device, viewer)


def record_json(record: dict[str, Any], device: Device, viewer: Any = None) -> dict[str, Any]:
    """A job's JSON from its `job_record` and its device (read fresh by every request)."""
    serial = device.reference
    ping_id = str(record["id"])
    request: dict[str, Any] = {"serial": serial, "count": record["count"]}
    if record["target"]:
        request = {"serial": serial, "target": record["target"], "count": record["count"]}
    body: dict[str, Any] = {
        "pingId": ping_id,
        "url": f"/devices/{serial}/liveTools/{record['kind']}/{ping_id}",
        "request": request,
        "status": record["status"],
        "results": record["results"],
    }
    if record["callback"] is not None:
        body["callback"] = record["callback"]
    # The portal's own fields, beside Meraki's.
    body.update(
        {
            "publicId": record["publicId"],
            "device": {
                "id": device.pk,
                "publicId": str(device.public_id),
                "name": device.name,
                "kind": device.kind,
            },
            "customerId": record["customerId"],
            "vendor": record["vendor"],
            "source": record["source"],
            "vendorReference": record["vendorReference"],
            "via": record["via"],
            "launchedBy": launcher_shown(record["launchedByLabel"], record["byApi"], viewer)
            if viewer
            else record["launchedByLabel"],
            "createdAt": record["createdAt"],
            "startedAt": record["startedAt"],
            "finishedAt": record["finishedAt"],
            "error": record["error"],
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
