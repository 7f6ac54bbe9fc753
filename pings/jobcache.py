"""Finished ping jobs' JSON, kept in the "api" cache for PING_JOB_CACHE_SECONDS.

Clients poll a job (Meraki's SDK does, and scripts written for it) and go on asking for it
after it ended; reading it again cost two queries and a model instance per reply. Once a job
has ended and its callback (if any) is settled, nothing in the portal writes to it any more:
workers and the sweep change only queued or running jobs (compare-and-swap on the status),
callbacks only pending or retrying ones, and the admin cannot change jobs. It can delete them:
a deleted job leaves the shared cache at once (`forget_deleted`), and the job GET asks in its
device lookup whether the job is still there before it reads any cache, so a deleted job is
never answered from a cache, this process's own copies included (`get(..., exists=True)`).

What is kept is `job_record`: the job's own fields and whose it is, not its device's fields
(every request reads the device, which also proves the caller may see it) nor how the launcher
is shown (that depends on the caller). The key holds the device's public id, a random UUID,
so one database's entry cannot answer for another's (scratch databases reuse ids), and the view
checks the record's organization and customer against the caller's grants on every request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from pings.models import TERMINAL, CallbackStatus, PingJob
from portal import rowcache
from vendors.models import Device

logger = logging.getLogger(__name__)

SETTLED_CALLBACKS = (CallbackStatus.NONE, CallbackStatus.DELIVERED, CallbackStatus.FAILED)


def is_final(job: PingJob) -> bool:
    """Whether the job's JSON can no longer change: ended, and no callback delivery to come
    (its status and attempts are part of the JSON)."""
    return job.status in TERMINAL and job.callback_status in SETTLED_CALLBACKS


def _key(device_public_id: Any, job_id: int) -> str:
    return f"pingjob:1:{device_public_id}:{job_id}"


# Per process, in front of the "api" cache, for callers that have just read that the job
# exists (`exists=True`): a record of a deleted job is then never served from here, and a Redis
# round trip is saved per poll (bench/api_load.py --redis). A record is a few KB: ~15 MB at most.
_local = rowcache.RowCache(max_entries=5000, max_age=settings.PING_JOB_CACHE_SECONDS)


def get(device: Device, job_id: int, exists: bool = False) -> dict[str, Any] | None:
    """The cached record of job `job_id` of `device`, or None. The caller still has to check
    that the actor may see it (its organization and customer are in the record). `exists`:
    the caller read in this request that the job is there, so this process's own copy of the
    record may answer."""
    if settings.PING_JOB_CACHE_SECONDS <= 0:
        return None
    key = _key(device.public_id, job_id)
    if exists and (record := _local.get(key, None)) is not None:
        return record
    try:
        record = caches["api"].get(key)
    except Exception:  # Redis away: the database answers, as it did before the cache
        logger.warning("The api cache could not be read", exc_info=True)
        return None
    if record is None or record["device"] != device.pk or record["id"] != job_id:
        return None
    _local.put(key, None, record)
    return record


def clear() -> None:
    """Forget this process's own copies (the shared cache is not touched)."""
    _local.clear()


def put(device: Device, job: PingJob, record: dict[str, Any]) -> None:
    """Keep `record` (the `job_record` of `job`) if the job is final."""
    if settings.PING_JOB_CACHE_SECONDS <= 0 or not is_final(job) or job.device_id != device.pk:
        return
    key = _key(device.public_id, job.pk)
    _local.put(key, None, record)
    try:
        caches["api"].set(key, record, settings.PING_JOB_CACHE_SECONDS)
    except Exception:
        logger.warning("The api cache could not be written", exc_info=True)


def forget_deleted(sender: Any, instance: PingJob, **kwargs: Any) -> None:
    """post_delete of a job: drop its entry now and again at commit, as a request served in
    between may still read the row (and cache it again) until the deletion commits."""
    public_id = (
        Device.objects.filter(pk=instance.device_id).values_list("public_id", flat=True).first()
    )
    if public_id is None:
        return
    key = _key(public_id, instance.pk)

    def drop() -> None:
        try:
            caches["api"].delete(key)
        except Exception:
            logger.warning("The api cache could not be written", exc_info=True)

    drop()
    transaction.on_commit(drop)
