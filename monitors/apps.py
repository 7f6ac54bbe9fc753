from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_schedules(sender: Any, **kwargs: Any) -> None:
    """The monitors' django-q2 schedules, created or repaired by every migrate: the
    every-minute upkeep (closing quiet incidents, reminders, notification retries), the
    folding of minute rollups into hours and days, and the hourly pruning of old history."""
    from django.conf import settings
    from django_q.models import Schedule

    for name, func, minutes in (
        ("monitors.maintain", "monitors.tasks.maintain", 1),
        ("monitors.fold", "monitors.tasks.fold", settings.MONITOR_ROLLUP_FOLD_MINUTES),
        ("monitors.prune", "monitors.tasks.prune", 60),
    ):
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )


class MonitorsConfig(AppConfig):
    name = "monitors"
    verbose_name = "Monitors: scheduled ICMP checks"

    def ready(self) -> None:
        from portal.crypto import register_encrypted_field

        post_migrate.connect(ensure_schedules, sender=self)
        register_encrypted_field("monitors.Monitor.notification_webhook_secret_encrypted")
