from django.urls import re_path

from monitors.api import views

# Paths as the contract writes them (no trailing slash); a trailing slash is accepted too.
urlpatterns = [
    re_path(r"^icmp-monitors/?$", views.MonitorListView.as_view(), name="icmp-monitor-list"),
    re_path(
        r"^icmp-monitors/(?P<public_id>[^/]+)/check-history/?$",
        views.CheckHistoryView.as_view(),
        name="icmp-monitor-check-history",
    ),
    re_path(
        r"^icmp-monitors/(?P<public_id>[^/]+)/chart/?$",
        views.ChartView.as_view(),
        name="icmp-monitor-chart",
    ),
    re_path(
        r"^icmp-monitors/(?P<public_id>[^/]+)/alert-history/?$",
        views.AlertHistoryView.as_view(),
        name="icmp-monitor-alert-history",
    ),
    re_path(
        r"^icmp-monitors/(?P<public_id>[^/]+)/incidents/?$",
        views.IncidentListView.as_view(),
        name="icmp-monitor-incidents",
    ),
    re_path(
        r"^icmp-monitors/(?P<public_id>[^/]+)/uptime/?$",
        views.UptimeView.as_view(),
        name="icmp-monitor-uptime",
    ),
    re_path(
        r"^icmp-monitors/(?P<public_id>[^/]+)/?$",
        views.MonitorDetailView.as_view(),
        name="icmp-monitor-detail",
    ),
]
