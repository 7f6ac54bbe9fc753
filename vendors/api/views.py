from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError

from portal import access, audit
from vendors.api.serializers import CredentialSerializer
from vendors.models import Credential


@extend_schema_view(
    list=extend_schema(summary="Vendor credentials (organization admins)"),
    retrieve=extend_schema(summary="One credential; secrets appear only as set / last 4"),
    create=extend_schema(summary="Create a credential; `secrets` is write-only"),
    partial_update=extend_schema(summary="Change a credential; omitted secrets are kept"),
)
class CredentialViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CredentialSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Credential]:
        return access.visible(self.request.user, Credential).order_by("name", "id")

    def get_object(self) -> Credential:
        credential = access.get_visible_or_404(
            self.request.user, self.get_queryset(), pk=self.kwargs["pk"]
        )
        self.check_object_permissions(self.request, credential)
        return credential

    def perform_create(self, serializer: CredentialSerializer) -> None:
        organizations = access.organizations(self.request.user, access.CHANGE, Credential)
        if not organizations.exists():
            raise PermissionDenied("Only organization admins manage credentials.")
        if organizations.count() != 1:
            raise ValidationError(
                {
                    "organizationId": [
                        "You manage several organizations; use the portal page of the one you mean."
                    ]
                }
            )
        self._save(serializer, organization=organizations.get(), action="credential.create")

    def perform_update(self, serializer: CredentialSerializer) -> None:
        self._save(serializer, action="credential.update")

    def _save(self, serializer: CredentialSerializer, action: str, **extra: object) -> None:
        secrets = serializer.validated_data.pop("secrets", {})
        organization = extra.get("organization") or serializer.instance.organization
        name = serializer.validated_data.get("name")
        clash = Credential.objects.filter(organization=organization, name__iexact=name or "")
        if serializer.instance is not None:
            clash = clash.exclude(pk=serializer.instance.pk)
        if name and clash.exists():
            raise ValidationError(
                {"name": ["This organization already has a credential of that name."]}
            )
        with transaction.atomic():
            credential = serializer.save(**extra)
            changed = credential.set_secrets(**secrets)
            credential.save(update_fields=["secrets_encrypted"])
            audit.record(
                self.request.user, action, credential, request=self.request, changed=changed
            )
