from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal: organizations, customers and access"

    def ready(self) -> None:
        from portal import (
            logfilters,
            signals,  # noqa: F401  (connects the login audit and API key cache receivers)
        )

        logfilters.install()  # secret URL tokens never reach a log line
