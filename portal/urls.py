from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    # Browsers ask for /favicon.ico on pages without a <link rel=icon> (SVG images, text).
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    # Before the pages' includes: each of those tries all of its patterns (and Django lists
    # them as "tried") before an /api/ path gets here. No page path starts with "api/".
    path("api/", include("portal.api.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("organizations/", views.organization_list, name="organization_list"),
    path("organizations/switch/", views.switch_organization, name="organization_switch"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<uuid:public_id>/", views.customer_detail, name="customer_detail"),
    path("customers/<uuid:public_id>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<uuid:public_id>/delete/", views.customer_delete, name="customer_delete"),
    path("customers/<uuid:public_id>/users/", views.customer_user_add, name="customer_user_add"),
    path(
        "customers/<uuid:public_id>/users/<int:access_id>/remove/",
        views.customer_user_remove,
        name="customer_user_remove",
    ),
    path("members/", views.member_list, name="member_list"),
    path("members/add/", views.member_add, name="member_add"),
    path("members/<int:pk>/role/", views.member_role, name="member_role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("api-keys/", views.api_key_list, name="api_key_list"),
    path("api-keys/new/", views.api_key_create, name="api_key_create"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("audit/", views.audit_list, name="audit_list"),
    path("", include("vendors.urls")),
    path("", include("monitors.urls")),
    path("", include("pings.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "portal.api.exceptions.handler400"
handler403 = "portal.api.exceptions.handler403"
handler404 = "portal.api.exceptions.handler404"
handler500 = "portal.api.exceptions.handler500"
