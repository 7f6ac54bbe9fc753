from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portal import access
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # An organization the caller cannot see reads as one that does not exist.
            self.fields["organizationId"].queryset = access.organizations(request.user)

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Must not be blank.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            if attrs.get("organization", self.instance.organization) != self.instance.organization:
                raise serializers.ValidationError(
                    {"organizationId": ["A customer cannot move to another organization."]}
                )
            organization = self.instance.organization
        else:
            # The view knows where a create lands when organizationId is left out.
            organization = attrs.get("organization") or self.context["view"].default_organization()
            attrs["organization"] = organization
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
