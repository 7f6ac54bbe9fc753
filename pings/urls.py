from django.urls import path

from pings import views

urlpatterns = [
    path("devices/<uuid:public_id>/pings/", views.device_pings, name="device_pings"),
    path("pings/", views.history_page, name="ping_history"),
    path("pings/export.csv", views.history_csv, name="ping_history_csv"),
    path("pings/bulk/", views.bulk_launch, name="ping_bulk"),
    path("pings/batches/<uuid:public_id>/", views.batch_detail, name="ping_batch"),
    path("pings/<uuid:public_id>/", views.ping_detail, name="ping_detail"),
]
