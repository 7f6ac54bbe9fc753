from django.apps import AppConfig


class VendorsConfig(AppConfig):
    name = "vendors"
    verbose_name = "Vendors: credentials, devices and adapters"

    def ready(self) -> None:
        from portal.crypto import register_encrypted_field

        register_encrypted_field("vendors.Credential.secrets_encrypted")
