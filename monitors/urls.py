from django.urls import path

from monitors import customer_views, history_views, views

urlpatterns = [
    path("monitors/", views.monitor_list, name="monitor_list"),
    path("monitors/new/", views.monitor_create, name="monitor_create"),
    path("monitors/<uuid:public_id>/", views.monitor_detail, name="monitor_detail"),
    path("monitors/<uuid:public_id>/chart/", views.monitor_chart, name="monitor_chart"),
    path("monitors/<uuid:public_id>/chart.svg", views.monitor_chart_svg, name="monitor_chart_svg"),
    path("monitors/<uuid:public_id>/edit/", views.monitor_edit, name="monitor_edit"),
    path("monitors/<uuid:public_id>/pause/", views.monitor_pause, name="monitor_pause"),
    path("monitors/<uuid:public_id>/delete/", views.monitor_delete, name="monitor_delete"),
    path(
        "monitors/<uuid:public_id>/incidents/",
        history_views.incident_list,
        name="monitor_incidents",
    ),
    path("incidents/<int:pk>/", history_views.incident_detail, name="incident_detail"),
    path(
        "monitors/<uuid:public_id>/maintenance/",
        history_views.monitor_maintenance,
        name="monitor_maintenance",
    ),
    path(
        "customers/<uuid:public_id>/maintenance/",
        history_views.customer_maintenance,
        name="customer_maintenance",
    ),
    path(
        "maintenance/<int:pk>/delete/",
        history_views.maintenance_delete,
        name="maintenance_delete",
    ),
    path(
        "monitors/<uuid:public_id>/<str:what>.csv",
        history_views.monitor_export,
        name="monitor_export",
    ),
    path(
        "customers/<uuid:public_id>/monitor-<str:what>.csv",
        history_views.customer_export,
        name="customer_export",
    ),
    # The customer-facing side (monitors.customer_views).
    path(
        "customers/<uuid:public_id>/monitors/",
        customer_views.customer_monitors,
        name="customer_monitors",
    ),
    path(
        "customers/<uuid:public_id>/report/<int:year>-<int:month>/",
        customer_views.customer_report,
        name="customer_report",
    ),
    path(
        "customers/<uuid:public_id>/status-page/",
        customer_views.status_page_settings,
        name="customer_status_page",
    ),
    path("status/s/<str:token>/", customer_views.status_page_secret, name="status_page_secret"),
    path("status/<slug:slug>/", customer_views.status_page_public, name="status_page_public"),
]
