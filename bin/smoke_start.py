"""Runs `./dev start` as a new user would, in a scratch state directory, then checks that the
web, the job cluster and the demo data are up: every demo user signs in and lands on the page
for their role. Finally sends one SIGINT (Ctrl-C) and checks that every process has stopped.

Standard library only; talks to 127.0.0.1:8000 and nothing else.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import sys
import time
import urllib.parse
import urllib.request

# Starting and stopping `./dev start` is shared with the browser journeys (journeys/).
from started_portal import BASE, LANDING, PortalError, StartedPortal


def sign_in(username: str) -> str:
    return session(username)[1]


def session(username: str) -> tuple[urllib.request.OpenerDirector, str, str]:
    """A signed-in opener, the path it landed on, and its CSRF token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{BASE}/accounts/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode(
        {"username": username, "password": "demo", "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        f"{BASE}/accounts/login/", data=body, headers={"Referer": f"{BASE}/accounts/login/"}
    )
    with opener.open(request, timeout=10) as response:
        landed = urllib.parse.urlparse(response.geturl()).path
        html = response.read().decode()
    if "Sign in" in html and "Sign out" not in html:
        sys.exit(f"{username} could not sign in")
    csrf = next(c.value for c in jar if c.name == "csrftoken")
    return opener, landed, csrf


def simotel_round_trip() -> str:
    """The demo's Simotel credential, tested from the page: the simulator answers the API call
    and then sends the Ping webhook back to the portal."""
    opener, _, csrf = session("admin")
    listing = opener.open(f"{BASE}/credentials/", timeout=10).read().decode()
    pk = re.search(r'href="/credentials/(\d+)/"><strong>Simotel', listing).group(1)
    headers = {"X-CSRFToken": csrf, "HX-Request": "true", "Referer": f"{BASE}/"}
    request = urllib.request.Request(f"{BASE}/credentials/{pk}/test/", data=b"", headers=headers)
    panel = opener.open(request, timeout=30).read().decode()
    if "Connection works" not in panel:
        sys.exit(f"Simotel test connection failed: {panel}")
    test_url = re.search(r'hx-get="(/credentials/\d+/test/\d+/)"', panel)
    for _ in range(30):
        if "webhook arrived after" in panel:
            return re.search(r"API answered in \d+ ms; webhook arrived after \d+ ms", panel).group()
        if test_url is None:
            break
        time.sleep(0.5)
        panel = (
            opener.open(
                urllib.request.Request(f"{BASE}{test_url.group(1)}", headers=headers), timeout=10
            )
            .read()
            .decode()
        )
    sys.exit(f"no Simotel webhook arrived: {panel}")


def monitors_checked(seconds: float = 90) -> str:
    """The demo's monitors get checked by the running scheduler and job cluster."""
    opener, _, _ = session("viewer")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = json.loads(opener.open(f"{BASE}/api/icmp-monitors", timeout=10).read())
        checked = [m for m in body["items"] if m["lastCheckedAt"]]
        if body["items"] and len(checked) == len(body["items"]):
            health = sorted({m["health"] for m in checked})
            return f"all {len(checked)} checked, health {', '.join(health)}"
        time.sleep(1)
    sys.exit(f"demo monitors not all checked within {seconds:g} s: {body}")


def history_pages() -> str:
    """The demo's history: a customer's monitor page with uptime and a year chart, and the
    public status page (no login) without any address."""
    opener, _, _ = session("customer")
    monitors = json.loads(opener.open(f"{BASE}/api/icmp-monitors", timeout=10).read())
    monitor = monitors["items"][0]
    page = opener.open(f"{BASE}/monitors/{monitor['publicId']}/", timeout=10).read().decode()
    if "Uptime 90d" not in page:
        sys.exit("the monitor page shows no uptime figures")
    svg = opener.open(f"{BASE}/monitors/{monitor['publicId']}/chart.svg?range=1y", timeout=10)
    if not svg.read().startswith(b"<svg"):
        sys.exit("the year chart is not an SVG image")
    status = urllib.request.urlopen(f"{BASE}/status/northwind/", timeout=10).read().decode()
    if monitor["hostname"] in status or "Northwind status" not in status:
        sys.exit("the public status page is missing or shows a host address")
    return "monitor page with uptime, year chart as SVG, public status page without addresses"


def meraki_ping_from_the_page(seconds: float = 60) -> str:
    """An operator pings the demo's Meraki device from its page: the web queues the job, a
    django-q2 worker runs it through the simulator (which calls back), the panel shows it."""
    opener, _, csrf = session("operator")
    devices = json.loads(opener.open(f"{BASE}/api/devices?kind=meraki_device", timeout=10).read())
    device = devices["items"][0]["publicId"]
    headers = {"X-CSRFToken": csrf, "HX-Request": "true", "Referer": f"{BASE}/"}
    body = urllib.parse.urlencode({"target": "127.0.0.1", "count": "2"}).encode()
    request = urllib.request.Request(f"{BASE}/devices/{device}/pings/", data=body, headers=headers)
    panel = opener.open(request, timeout=30).read().decode()
    job = re.search(r'id="ping-([0-9a-f-]{36})"', panel)
    if job is None:
        sys.exit(f"the ping was not launched: {panel[:2000]}")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if "Received / sent" in panel:
            rtt = re.search(
                r"([\d.]+ / [\d.]+ / [\d.]+)</span><span class=\"stat-label\">RTT", panel
            )
            return f"complete, RTT min/avg/max {rtt.group(1) if rtt else '?'} ms"
        if "Failed:" in panel or "Timed out:" in panel:
            sys.exit(f"the demo Meraki ping did not succeed: {panel[:2000]}")
        time.sleep(0.5)
        request = urllib.request.Request(f"{BASE}/pings/{job.group(1)}/", headers=headers)
        panel = opener.open(request, timeout=10).read().decode()
    sys.exit(f"the demo Meraki ping did not end within {seconds:g} s: {panel[:2000]}")


def main() -> None:
    try:
        with StartedPortal():
            for user, pattern in LANDING.items():
                landed = sign_in(user)
                print(f"{user:10} landed on {landed}")
                if not re.match(pattern, landed):
                    sys.exit(f"{user} landed on {landed}, expected {pattern}")
            print("Simotel demo credential:", simotel_round_trip())
            print("Demo monitors:", monitors_checked())
            print("History:", history_pages())
            print("Meraki ping from the device page:", meraki_ping_from_the_page())
    except PortalError as exc:
        sys.exit(str(exc))
    print("Ctrl-C stopped web, cluster and runner.")


if __name__ == "__main__":
    main()
