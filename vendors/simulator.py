"""A loopback stand-in for the three vendor clouds, following ../shared/VENDOR-CONTRACTS.md.

One HTTP server on 127.0.0.1 serves:
  /monogoto/...      POST /Auth, GET /thing/ThingId_ICCID_{iccid}, POST .../ping
  /meraki/api/v1/... GET /organizations, POST|GET /devices/{serial}/liveTools/ping[Device]
  /simotel/...       PUT|POST /api/v4/setting/ping/act, then the "Ping" webhook
Answers carry real ICMP measurements toward the target, which must be in 127.0.0.0/8 or ::1:
the simulator never sends a packet anywhere else.

Control (for tests and demos), under /_sim/:
  GET  /_sim/log            requests received: [{t, vendor, method, path, scope, status}]
  POST /_sim/faults         {"scope": "*"|account|serial|iccid, "mode": ..., "count": n|null,
                             "seconds": s}  modes: 429, 500, slow, broken_json, html,
                             refuse_login, no_callback
  DELETE /_sim/faults       clear all faults;  POST /_sim/reset  clear faults, log and jobs
  POST /_sim/simotel/webhook {"api_key": ..., "url": ..., "user": ..., "password": ...}

Accounts: Monogoto user `demo` / `demo-password`; Meraki API key `sim-meraki-key-0001`;
Simotel API key `sim-simotel-key` or Basic `test` / `Aa123456` (the seed's example). Unknown
devices: a Meraki serial starting `Q999` and an ICCID ending `0000` answer 404.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from vendors.adapters.local_icmp import ping_host

MONOGOTO_USERS = {"demo": "demo-password"}
MONOGOTO_CUSTOMER_ID = "cid_sim-0000-0001"
MERAKI_KEYS = {"sim-meraki-key-0001": {"id": "549236", "name": "Simulated Org"}}
SIMOTEL_KEYS = {"sim-simotel-key"}
SIMOTEL_BASIC = {"test": "Aa123456"}
DEVICE_LIMIT = (1 / 5, 5)
ORGANIZATION_LIMIT = (10.0, 10)


class State:
    """Everything the simulator remembers; one lock guards it all."""

    def __init__(self, config_path: str | None = None) -> None:
        self.lock = threading.Lock()
        self.config_path = config_path
        self.config_mtime = 0.0
        self.reset()

    def refresh_config(self) -> None:
        """Pick up webhook settings from the config file (written by `manage.py demo`)."""
        if not self.config_path:
            return
        try:
            mtime = os.path.getmtime(self.config_path)
            if mtime == self.config_mtime:
                return
            with open(self.config_path) as handle:
                config = json.load(handle)
        except (OSError, ValueError):
            return
        with self.lock:
            self.config_mtime = mtime
            self.webhooks.update(config.get("simotel_webhooks", {}))

    def reset(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.buckets: dict[str, tuple[float, float]] = {}
        self.webhooks: dict[str, dict[str, str]] = {}
        self.next_job = 1284392014819  # the seed's pingId, then counting up

    def fault_for(self, scopes: list[str], modes: set[str]) -> dict[str, Any] | None:
        """The first active fault matching one of `scopes` (or "*"), consuming one use."""
        with self.lock:
            for fault in self.faults:
                if fault["mode"] in modes and (fault["scope"] == "*" or fault["scope"] in scopes):
                    if fault.get("count") is not None:
                        if fault["count"] <= 0:
                            continue
                        fault["count"] -= 1
                    return fault
        return None

    def take(self, key: str, rate: float, burst: int) -> float:
        """Meraki's own limits, as Meraki would apply them: 0 or seconds to wait."""
        now = time.monotonic()
        with self.lock:
            tokens, updated = self.buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - updated) * rate)
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                return (1 - tokens) / rate
            self.buckets[key] = (tokens - 1, now)
            return 0.0


def loopback_only(target: str) -> str:
    address = ipaddress.ip_address(target)
    if not address.is_loopback:
        raise ValueError("the simulator pings loopback addresses only")
    return str(address)


def thing_ip(iccid: str) -> str:
    digest = hashlib.sha256(iccid.encode()).digest()
    return f"127.10.{digest[0]}.{max(1, digest[1])}"


class Handler(BaseHTTPRequestHandler):
    server_version = "PortalVendorSimulator/1"
    state: State  # set on the class by serve()

    # --- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # quiet; /_sim/log has it all
        pass

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def _send(
        self,
        status: int,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        vendor: str = "",
        scope: str = "",
    ) -> None:
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        # Logged before answering: a client that has its answer may read /_sim/log at once (from
        # another of the server's threads), and must find this request there.
        if vendor:
            with self.state.lock:
                self.state.log.append(
                    {
                        "t": time.time(),
                        "vendor": vendor,
                        "method": self.command,
                        "path": self.path,
                        "scope": scope,
                        "status": status,
                    }
                )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _faulty(self, vendor: str, scopes: list[str]) -> bool:
        """Apply a switched-on fault; True when it already answered."""
        slow = self.state.fault_for(scopes, {"slow"})
        if slow:
            time.sleep(float(slow.get("seconds", 5)))
        fault = self.state.fault_for(scopes, {"429", "500", "broken_json", "html"})
        if fault is None:
            return False
        mode, scope = fault["mode"], scopes[0] if scopes else ""
        if mode == "429":
            self._send(
                429,
                {"errors": ["API rate limit exceeded for organization"]},
                headers={"Retry-After": str(fault.get("seconds", 1))},
                vendor=vendor,
                scope=scope,
            )
        elif mode == "500":
            self._send(
                500,
                {"errors": ["Internal server error"]} if vendor == "meraki" else None,
                vendor=vendor,
                scope=scope,
            )
        elif mode == "broken_json":
            self._send(200, raw=b'{"broken": [1, 2', vendor=vendor, scope=scope)
        else:
            self._send(
                200,
                raw=b"<html><body>Maintenance</body></html>",
                content_type="text/html",
                vendor=vendor,
                scope=scope,
            )
        return True

    def _route(self) -> None:
        path = urlparse(self.path).path
        if path.startswith("/_sim/"):
            return self._control(path)
        if path.startswith("/monogoto/"):
            return self._monogoto(path[len("/monogoto") :])
        if path.startswith("/meraki/api/v1/"):
            return self._meraki(path[len("/meraki/api/v1") :])
        if path.startswith("/simotel/"):
            return self._simotel(path[len("/simotel") :])
        self._send(404, raw=b"<html><body>Not Found</body></html>", content_type="text/html")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = lambda self: self._route()

    # --- control ----------------------------------------------------------------------------

    def _control(self, path: str) -> None:
        state = self.state
        if path == "/_sim/log" and self.command == "GET":
            with state.lock:
                return self._send(200, list(state.log))
        if path == "/_sim/faults" and self.command == "POST":
            fault = self._body() or {}
            with state.lock:
                state.faults.append({"scope": "*", "count": None, **fault})
            return self._send(201, fault)
        if path == "/_sim/faults" and self.command == "DELETE":
            with state.lock:
                state.faults.clear()
            return self._send(200, {"cleared": True})
        if path == "/_sim/reset" and self.command == "POST":
            with state.lock:
                state.reset()
            return self._send(200, {"reset": True})
        if path == "/_sim/simotel/webhook" and self.command == "POST":
            config = self._body() or {}
            with state.lock:
                state.webhooks[config.get("api_key") or config.get("basic_user", "")] = config
            return self._send(201, {"ok": True})
        self._send(404, {"error": "unknown control endpoint"})

    # --- Monogoto ---------------------------------------------------------------------------

    def _monogoto(self, path: str) -> None:
        if path == "/Auth" and self.command == "POST":
            body = self._body() or {}
            user = str(body.get("UserName", ""))
            if self._faulty("monogoto", [user]):
                return None
            refused = self.state.fault_for([user], {"refuse_login"})
            if refused or MONOGOTO_USERS.get(user) != body.get("Password"):
                return self._send(401, vendor="monogoto", scope=user)  # empty body, as documented
            token = (
                base64.urlsafe_b64encode(hashlib.sha256(f"{user}{time.time()}".encode()).digest())
                .decode()
                .rstrip("=")
            )
            with self.state.lock:
                self.state.tokens[token] = user
            return self._send(
                200,
                {
                    "token": token,
                    "refreshToken": token[::-1],
                    "CustomerId": MONOGOTO_CUSTOMER_ID,
                    "UserId": f"UserId_{user}",
                },
                vendor="monogoto",
                scope=user,
            )
        auth = self.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        with self.state.lock:
            user = self.state.tokens.get(token)
        parts = path.strip("/").split("/")
        iccid = parts[1].removeprefix("ThingId_ICCID_") if len(parts) >= 2 else ""
        if self._faulty("monogoto", [iccid, user or ""]):
            return None
        if user is None:
            return self._send(401, vendor="monogoto", scope=iccid)
        if not iccid or iccid.endswith("0000"):
            return self._send(404, vendor="monogoto", scope=iccid)
        if len(parts) == 2 and self.command == "GET":
            return self._send(
                200,
                {
                    "ThingId": f"ThingId_ICCID_{iccid}",
                    "ICCID": iccid,
                    "IPv4": thing_ip(iccid),
                    "IPv6": None,
                    "State": "Active",
                    "IMSI": "425010000000001",
                    "MSISDN": "972500000001",
                },
                vendor="monogoto",
                scope=iccid,
            )
        if len(parts) == 3 and parts[2] == "ping" and self.command == "POST":
            body = self._body()
            try:
                target = loopback_only(str((body or {}).get("IPAddress", "")))
            except ValueError:
                return self._send(400, vendor="monogoto", scope=iccid)
            outcome = ping_host(target, count=3, interval=0.2, timeout=1.0, source="simulator")
            packets, received = [], 0
            for reply in outcome.replies:
                received += reply.rtt_ms is not None
                packets.append(
                    {
                        "host": target,
                        "size": "56",
                        "ttl": "64" if reply.rtt_ms is not None else "",
                        "time": f"{reply.rtt_ms:g}ms" if reply.rtt_ms is not None else "",
                        "sent": str(reply.sequence),
                        "received": str(received),
                        "packetLoss": str(
                            round(100 * (reply.sequence - received) / reply.sequence)
                        ),
                    }
                )
            return self._send(200, packets, vendor="monogoto", scope=iccid)
        self._send(400, vendor="monogoto", scope=iccid)

    # --- Meraki -----------------------------------------------------------------------------

    def _meraki_org(self) -> dict[str, str] | None:
        auth = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        key = auth or self.headers.get("X-Cisco-Meraki-API-Key", "")
        return MERAKI_KEYS.get(key)

    def _meraki(self, path: str) -> None:
        parts = path.strip("/").split("/")
        serial = parts[1] if len(parts) > 1 and parts[0] == "devices" else ""
        organization = self._meraki_org()
        if self._faulty("meraki", [serial] if serial else []):
            return None
        if organization is None:
            return self._send(401, {"errors": ["Invalid API key"]}, vendor="meraki", scope=serial)
        if parts == ["organizations"] and self.command == "GET":
            return self._send(
                200,
                [
                    {
                        "id": organization["id"],
                        "name": organization["name"],
                        "url": "https://n1.meraki.com/o/sim/manage/organization/overview",
                    }
                ],
                vendor="meraki",
            )
        if (
            len(parts) < 4
            or parts[0] != "devices"
            or parts[2] != "liveTools"
            or parts[3] not in ("ping", "pingDevice")
        ):
            return self._send(404, {"errors": ["Not found"]}, vendor="meraki", scope=serial)
        if serial.startswith("Q999"):
            return self._send(404, {"errors": ["Device not found"]}, vendor="meraki", scope=serial)
        kind = parts[3]
        if len(parts) == 4 and self.command == "POST":
            return self._meraki_create(serial, kind, organization)
        if len(parts) == 5 and self.command == "GET":
            with self.state.lock:
                job = self.state.jobs.get(parts[4])
            if job is None or job["request"]["serial"] != serial:
                return self._send(
                    404, {"errors": ["Ping job not found"]}, vendor="meraki", scope=serial
                )
            return self._send(200, self._public(job), vendor="meraki", scope=serial)
        self._send(404, {"errors": ["Not found"]}, vendor="meraki", scope=serial)

    def _meraki_create(self, serial: str, kind: str, organization: dict[str, str]) -> None:
        state = self.state
        for key, (rate, burst) in (
            (f"org:{organization['id']}", ORGANIZATION_LIMIT),
            (f"device:{serial}", DEVICE_LIMIT),
        ):
            wait = state.take(key, rate, burst)
            if wait > 0:
                return self._send(
                    429,
                    {"errors": ["API rate limit exceeded for organization"]},
                    headers={"Retry-After": str(max(1, round(wait)))},
                    vendor="meraki",
                    scope=serial,
                )
        body = self._body()
        if body is None:
            return self._send(400, {"errors": ["Invalid JSON"]}, vendor="meraki", scope=serial)
        count = body.get("count", 5)
        if not isinstance(count, int) or not 1 <= count <= 5:
            return self._send(
                400,
                {"errors": ["'count' must be an integer from 1 to 5"]},
                vendor="meraki",
                scope=serial,
            )
        target = body.get("target") if kind == "ping" else "127.0.0.1"  # the device itself
        if kind == "ping" and not target:
            return self._send(
                400, {"errors": ["'target' is missing"]}, vendor="meraki", scope=serial
            )
        try:
            target = loopback_only(str(target))
        except ValueError:
            return self._send(
                400,
                {"errors": ["The simulator pings loopback targets only"]},
                vendor="meraki",
                scope=serial,
            )
        with state.lock:
            ping_id = str(state.next_job)
            state.next_job += 1
            callback = body.get("callback") or None
            job = {
                "pingId": ping_id,
                "url": f"/devices/{serial}/liveTools/{kind}/{ping_id}",
                "request": {"serial": serial, "target": target, "count": count},
                "status": "new",
                "kind": kind,
                "callback_request": callback,
                "organization": organization,
            }
            if kind == "pingDevice":
                job["request"].pop("target")
            if callback:
                job["callback"] = {"id": ping_id, "url": callback.get("url"), "status": "new"}
            state.jobs[ping_id] = job
        threading.Thread(target=self._run_job, args=(job, target, serial), daemon=True).start()
        self._send(201, self._public(job), vendor="meraki", scope=serial)

    @staticmethod
    def _public(job: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v for k, v in job.items() if k not in ("kind", "callback_request", "organization")
        }

    def _run_job(self, job: dict[str, Any], target: str, serial: str) -> None:
        state = self.state
        with state.lock:
            job["status"] = "running"
        outcome = ping_host(
            target, count=job["request"]["count"], interval=0.2, timeout=1.0, source="simulator"
        )
        results = {
            "sent": outcome.sent,
            "received": outcome.received,
            "loss": {"percentage": outcome.loss_percent},
            "latencies": {
                "minimum": outcome.rtt_min,
                "average": outcome.rtt_avg,
                "maximum": outcome.rtt_max,
            },
            "replies": [
                {"sequenceId": r.sequence, "size": 84, "latency": r.rtt_ms}
                for r in outcome.replies
                if r.rtt_ms is not None
            ],
        }
        with state.lock:
            job["results"] = results
            job["status"] = "complete"
            callback = job.get("callback_request")
        if callback and callback.get("url") and not state.fault_for([serial], {"no_callback"}):
            message = self._public(job)
            payload = {
                "organization": {
                    "id": job["organization"]["id"],
                    "name": job["organization"]["name"],
                },
                "network": {"id": "N_sim", "name": "Simulated network"},
                "sentAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "callbackId": job["pingId"],
                "message": message,
                "sharedSecret": callback.get("sharedSecret", ""),
            }
            status = _post(callback["url"], payload)
            with state.lock:
                job["callback"]["status"] = "delivered" if status and status < 300 else "failed"

    # --- Simotel ----------------------------------------------------------------------------

    def _simotel(self, path: str) -> None:
        api_key = self.headers.get("X-APIKEY", "")
        user = password = ""
        if self.headers.get("Authorization", "").startswith("Basic "):
            try:
                decoded = base64.b64decode(self.headers["Authorization"][6:]).decode()
                user, _, password = decoded.partition(":")
            except ValueError:
                pass
        scope = api_key or user
        if self._faulty("simotel", [scope]):
            return None
        if path != "/api/v4/setting/ping/act":
            return self._send(
                404,
                raw=b"<html><body><h1>404 Not Found</h1></body></html>",
                content_type="text/html",
                vendor="simotel",
                scope=scope,
            )
        if self.command not in ("PUT", "POST"):
            return self._send(
                405,
                {"success": 0, "message": "Method not allowed", "data": None},
                vendor="simotel",
                scope=scope,
            )
        if not api_key and not user:
            return self._send(
                401,
                {"success": 0, "message": "BasicAuth or ApiKey is missing", "data": None},
                vendor="simotel",
                scope=scope,
            )
        valid = (api_key in SIMOTEL_KEYS) if api_key else SIMOTEL_BASIC.get(user) == password
        if not valid or self.state.fault_for([scope], {"refuse_login"}):
            return self._send(
                401,
                {"success": 0, "message": "BasicAuth or ApiKey is invalid", "data": None},
                vendor="simotel",
                scope=scope,
            )
        if self._body() is None:
            return self._send(
                400,
                {"success": 0, "message": "Unable to parse content", "data": None},
                vendor="simotel",
                scope=scope,
            )
        if self.state.fault_for([scope], {"success0"}):
            return self._send(
                200,
                {"success": 0, "message": "Ping event is disabled", "data": None},
                vendor="simotel",
                scope=scope,
            )
        self._send(
            200,
            {
                "success": 1,
                "message": "If the 'Ping' event is enabled in the settings "
                "menu, you'll receive it when it's sent",
                "data": None,
            },
            vendor="simotel",
            scope=scope,
        )
        self.state.refresh_config()
        with self.state.lock:
            hook = self.state.webhooks.get(scope)
        if hook and hook.get("url"):
            threading.Thread(
                target=_post,
                daemon=True,
                args=(
                    hook["url"],
                    {"event_name": "Ping", "server_time": time.time()},
                    hook.get("user", ""),
                    hook.get("password", ""),
                    0.05,
                ),
            ).start()


def _post(
    url: str, payload: dict[str, Any], user: str = "", password: str = "", delay: float = 0.0
) -> int | None:
    """POST JSON to a loopback URL (callbacks and webhooks only ever go to the portal)."""
    if delay:
        time.sleep(delay)
    host = urlparse(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    request = urllib.request.Request(  # noqa: S310  (http to loopback only, checked above)
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def serve(
    port: int = 8090, host: str = "127.0.0.1", config_path: str | None = None
) -> tuple[ThreadingHTTPServer, State]:
    """A ready server (call serve_forever, in a thread for tests) and its state."""
    state = State(config_path)
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server, state
