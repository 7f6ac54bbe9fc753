from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate


def ensure_schedule(sender: Any, **kwargs: Any) -> None:
    """The every-minute maintenance (sweep of dead jobs, callback retries) as a django-q2
    schedule, created or repaired by every migrate."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="pings.maintain",
        defaults={
            "func": "pings.tasks.maintain",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


class PingsConfig(AppConfig):
    name = "pings"
    verbose_name = "Pings: launched ping jobs"

    def ready(self) -> None:
        from pings import jobcache
        from portal.crypto import register_encrypted_field

        post_migrate.connect(ensure_schedule, sender=self)
        post_delete.connect(jobcache.forget_deleted, sender="pings.PingJob")
        register_encrypted_field("pings.PingJob.callback_secret_encrypted")
