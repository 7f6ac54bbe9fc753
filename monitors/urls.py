from django.urls import path

from monitors import views

urlpatterns = [
    path("monitors/", views.monitor_list, name="monitor_list"),
    path("monitors/new/", views.monitor_create, name="monitor_create"),
    path("monitors/<uuid:public_id>/", views.monitor_detail, name="monitor_detail"),
    path("monitors/<uuid:public_id>/edit/", views.monitor_edit, name="monitor_edit"),
    path("monitors/<uuid:public_id>/pause/", views.monitor_pause, name="monitor_pause"),
    path("monitors/<uuid:public_id>/delete/", views.monitor_delete, name="monitor_delete"),
]
