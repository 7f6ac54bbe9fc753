from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from vendors import simulator


class Command(BaseCommand):
    help = "Serve the Monogoto, Meraki and Simotel contracts on 127.0.0.1 (loopback only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=settings.VENDOR_SIMULATOR_PORT)

    def handle(self, *args: Any, **options: Any) -> None:
        server, _ = simulator.serve(
            options["port"], config_path=str(settings.VENDOR_SIMULATOR_CONFIG)
        )
        self.stdout.write(
            f"Vendor simulator on http://127.0.0.1:{server.server_port} "
            "(/monogoto, /meraki/api/v1, /simotel; control under /_sim/)"
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
