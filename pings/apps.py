from django.apps import AppConfig


class PingsConfig(AppConfig):
    name = "pings"
    verbose_name = "Pings: launched ping jobs"
