from django.urls import re_path

from pings.api import views

# Paths as Meraki writes them (no trailing slash); a trailing slash is accepted too.
urlpatterns = [
    re_path(r"^devices/?$", views.DeviceListView.as_view(), name="device-list"),
    re_path(
        r"^devices/(?P<serial>[^/]+)/liveTools/ping/?$",
        views.LiveToolsCreateView.as_view(),
        name="live-tools-ping",
    ),
    re_path(
        r"^devices/(?P<serial>[^/]+)/liveTools/pingDevice/?$",
        views.LiveToolsPingDeviceCreateView.as_view(),
        name="live-tools-ping-device",
    ),
    re_path(
        r"^devices/(?P<serial>[^/]+)/liveTools/ping/(?P<ping_id>[^/]+)/?$",
        views.LiveToolsJobView.as_view(),
        name="live-tools-ping-job",
    ),
    re_path(
        r"^devices/(?P<serial>[^/]+)/liveTools/pingDevice/(?P<ping_id>[^/]+)/?$",
        views.LiveToolsPingDeviceJobView.as_view(),
        name="live-tools-ping-device-job",
    ),
    re_path(
        r"^devices/(?P<serial>[^/]+)/?$", views.DeviceDetailView.as_view(), name="device-detail"
    ),
    re_path(r"^pings/?$", views.PingListView.as_view(), name="ping-list"),
    re_path(r"^pings/(?P<ping_id>[^/]+)/?$", views.PingDetailView.as_view(), name="ping-detail"),
]
