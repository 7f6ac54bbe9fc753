from __future__ import annotations

from typing import Any

from rest_framework import serializers

from vendors.models import SECRET_FIELDS, Credential, Vendor


class CredentialSerializer(serializers.ModelSerializer):
    """Secrets go in (write-only, in `secrets`) and never come out: responses carry only
    `secretStatus` — whether each is set, and at most its last 4 characters."""

    organizationId = serializers.IntegerField(source="organization_id", read_only=True)
    baseUrl = serializers.URLField(source="base_url", required=False)
    simotelMethod = serializers.ChoiceField(
        source="simotel_method", choices=["PUT", "POST"], required=False
    )
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True), write_only=True, required=False
    )
    secretStatus = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Credential
        fields = [
            "id",
            "organizationId",
            "vendor",
            "name",
            "baseUrl",
            "simotelMethod",
            "secrets",
            "secretStatus",
            "createdAt",
            "updatedAt",
        ]
        validators: list[Any] = []

    def get_secretStatus(self, obj: Credential) -> dict[str, str]:
        return {name: hint for name, _, hint in obj.secret_hints()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        vendor = attrs.get("vendor") or getattr(self.instance, "vendor", None)
        if self.instance is not None and "vendor" in attrs and attrs["vendor"] != vendor:
            raise serializers.ValidationError({"vendor": ["A credential keeps its vendor."]})
        allowed = {name for name, _ in SECRET_FIELDS.get(vendor, [])}
        unknown = set(attrs.get("secrets", {})) - allowed
        if unknown:
            raise serializers.ValidationError(
                {
                    "secrets": [
                        f"Unknown for {vendor}: {', '.join(sorted(unknown))}. "
                        f"Known: {', '.join(sorted(allowed))}."
                    ]
                }
            )
        if self.instance is None and not attrs.get("base_url"):
            from vendors.models import PUBLIC_BASE_URLS

            attrs["base_url"] = PUBLIC_BASE_URLS.get(Vendor(vendor), "")
            if not attrs["base_url"]:
                raise serializers.ValidationError({"baseUrl": ["Required for this vendor."]})
        return attrs
