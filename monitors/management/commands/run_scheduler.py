from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import OperationalError, close_old_connections
from django.utils import timezone

from monitors import scheduler

logger = logging.getLogger("monitors.scheduler")


class Command(BaseCommand):
    help = "Claim due ICMP monitors and queue their checks (run one or more of these)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="One tick, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("Scheduler running.")
        while not stopping:
            try:
                claimed = scheduler.tick()
                if claimed:
                    logger.info("queued %d checks", claimed)
                pause = scheduler.pause_after(claimed, timezone.now())
            except OperationalError:
                # The database went away for a moment: reconnect on the next tick.
                logger.exception("database unavailable; retrying")
                close_old_connections()
                pause = 1.0
            if options["once"]:
                break
            time.sleep(pause)
        self.stdout.write("Scheduler stopped.")
