from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portal.models import Customer, Organization


class CustomerSerializer(serializers.ModelSerializer):
    publicId = serializers.UUIDField(source="public_id", read_only=True)
    organizationId = serializers.PrimaryKeyRelatedField(
        source="organization",
        queryset=Organization.objects.all(),
        required=False,
        help_text="Needed on create only when the caller may create in several organizations.",
    )
    contactEmail = serializers.EmailField(source="contact_email", required=False, allow_blank=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "publicId",
            "organizationId",
            "name",
            "description",
            "contactEmail",
            "createdAt",
            "updatedAt",
        ]
        extra_kwargs = {"description": {"required": False, "allow_blank": True}}
        # Uniqueness is checked in validate(): the model's constraint names snake_case fields.
        validators: list[Any] = []

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Must not be blank.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        organization = attrs.get("organization") or getattr(self.instance, "organization", None)
        if (
            self.instance is not None
            and "organization" in attrs
            and (attrs["organization"] != self.instance.organization)
        ):
            raise serializers.ValidationError(
                {"organizationId": ["A customer cannot move to another organization."]}
            )
        name = attrs.get("name")
        if organization is not None and name:
            clash = Customer.objects.filter(organization=organization, name__iexact=name)
            if self.instance is not None:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise serializers.ValidationError(
                    {"name": ["This organization already has a customer of that name."]}
                )
        return attrs
