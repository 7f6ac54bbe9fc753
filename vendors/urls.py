from django.urls import path

from vendors import views

urlpatterns = [
    path("credentials/", views.credential_list, name="credential_list"),
    path("credentials/new/", views.credential_create, name="credential_create"),
    path("credentials/<int:pk>/", views.credential_detail, name="credential_detail"),
    path("credentials/<int:pk>/edit/", views.credential_edit, name="credential_edit"),
    path("credentials/<int:pk>/delete/", views.credential_delete, name="credential_delete"),
    path("credentials/<int:pk>/test/", views.credential_test, name="credential_test"),
    path(
        "credentials/<int:pk>/test/<int:test_pk>/",
        views.credential_test_status,
        name="credential_test_status",
    ),
    path(
        "credentials/<int:pk>/webhook-url/",
        views.credential_webhook_token,
        name="credential_webhook_token",
    ),
    path("hooks/simotel/<str:token>/", views.simotel_webhook, name="simotel_webhook"),
    path(
        "hooks/simotel/<str:token>/<str:event>/",
        views.simotel_webhook,
        name="simotel_webhook_event",
    ),
    path("hooks/meraki/<str:callback_id>/", views.meraki_callback, name="meraki_callback"),
    path("devices/", views.device_list, name="device_list"),
    path("devices/new/", views.device_create, name="device_create"),
    path("devices/import/", views.device_import, name="device_import"),
    path("devices/<uuid:public_id>/", views.device_detail, name="device_detail"),
    path("devices/<uuid:public_id>/edit/", views.device_edit, name="device_edit"),
    path("devices/<uuid:public_id>/delete/", views.device_delete, name="device_delete"),
]
