from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from portal.api.exceptions import api_not_found
from portal.api.views import CustomerViewSet
from vendors.api.views import CredentialViewSet


class Router(SimpleRouter):
    """Paths without a trailing slash, as the contracts write them; one is accepted too."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"  # DRF's constructor only takes True/False


router = Router()
router.register("customers", CustomerViewSet, basename="customer")
router.register("credentials", CredentialViewSet, basename="credential")

urlpatterns = [
    # The paths pollers repeat first: Django tries patterns in order (no two here overlap).
    path("", include("pings.api.urls")),
    path("", include("monitors.api.urls")),
    *router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Anything else under /api/ is a JSON 404, in DEBUG too (Django's debug 404 is HTML).
    re_path(r"^.*$", api_not_found, name="api-not-found"),
]
