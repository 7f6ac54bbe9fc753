from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from portal import access, audit
from portal.api.exceptions import error_body
from portal.api.schema import ERROR, SUCCESS
from portal.api.serializers import CustomerSerializer
from portal.models import Customer, Organization
from portal.validators import is_digits


@extend_schema_view(
    list=extend_schema(
        summary="List the customers the caller may see",
        parameters=[
            OpenApiParameter("search", str, description="Matches name or description."),
            OpenApiParameter("organizationId", int),
        ],
    ),
    retrieve=extend_schema(summary="One customer, by publicId"),
    create=extend_schema(summary="Create a customer (organization admins, read-write keys)"),
    partial_update=extend_schema(summary="Change a customer's name, description or contact"),
    destroy=extend_schema(
        summary="Delete a customer (409 while it still has devices or monitors)",
        responses={200: SUCCESS, 409: ERROR},
    ),
)
class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CustomerSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "publicId"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Customer]:
        customers = access.visible(self.request.user, Customer).order_by("name", "id")
        params = self.request.query_params
        if self.action == "list":
            if search := params.get("search", "").strip():
                customers = customers.filter(
                    Q(name__icontains=search) | Q(description__icontains=search)
                )
            if org := params.get("organizationId"):
                if not is_digits(org):
                    raise ValidationError({"organizationId": ["Must be a numeric id."]})
                customers = customers.filter(organization_id=int(org))
        return customers

    def get_object(self) -> Customer:
        customer = access.get_visible_or_404(
            self.request.user, self.get_queryset(), public_id=self.kwargs["publicId"]
        )
        self.check_object_permissions(self.request, customer)
        return customer

    def default_organization(self) -> Organization:
        """Where a create without organizationId lands: the one organization the caller may
        create customers in."""
        writable = access.organizations(self.request.user, access.CHANGE, Customer)
        if not writable.exists():
            raise PermissionDenied("You may not create customers.")
        if writable.count() != 1:
            raise ValidationError(
                {"organizationId": ["Required: you may create customers in several organizations."]}
            )
        return writable.get()

    def perform_create(self, serializer: CustomerSerializer) -> None:
        organization = serializer.validated_data["organization"]
        if not access.can(self.request.user, access.CHANGE, Customer(organization=organization)):
            raise PermissionDenied("You may not create customers in this organization.")
        with transaction.atomic():
            customer = serializer.save()
            audit.record(self.request.user, "customer.create", customer, request=self.request)

    def perform_update(self, serializer: CustomerSerializer) -> None:
        with transaction.atomic():
            customer = serializer.save()
            audit.record(
                self.request.user,
                "customer.update",
                customer,
                request=self.request,
                fields=sorted(serializer.validated_data),
            )

    def destroy(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        customer = self.get_object()
        try:
            with transaction.atomic():
                audit.record(request.user, "customer.delete", customer, request=request)
                customer.delete()
        except ProtectedError:
            return Response(
                error_body(409, "The customer still has things attached; remove them first."),
                status=status.HTTP_409_CONFLICT,
            )
        return Response({"success": True})
