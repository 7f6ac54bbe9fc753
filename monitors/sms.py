"""Text messages through a pluggable backend, chosen like Django's email backends by the setting
SMS_BACKEND: "console" (the default: the message is written to stdout), "locmem" (kept in
`outbox`, for tests), "twilio" (Twilio's Messages API), or the dotted path of a class with a
`send(to, body)` method. A backend raises SmsError, whose message is a sentence for the user and
never contains a credential."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, TextIO

import requests
from django.conf import settings
from django.utils.module_loading import import_string

TWILIO_TIMEOUT = (5.0, 15.0)  # connect, read


class SmsError(Exception):
    pass


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


outbox: list[SmsMessage] = []  # the locmem backend's messages


class BaseSmsBackend:
    def send(self, to: str, body: str) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseSmsBackend):
    """Writes each message to stdout, as Django's console email backend does."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, to: str, body: str) -> None:
        self.stream.write(f"SMS to {to}: {body}\n")
        self.stream.flush()


class LocmemBackend(BaseSmsBackend):
    def send(self, to: str, body: str) -> None:
        outbox.append(SmsMessage(to=to, body=body))


class TwilioBackend(BaseSmsBackend):
    """POST {TWILIO_API_BASE}/2010-04-01/Accounts/{sid}/Messages.json with To, From and Body,
    authenticated with the account SID and auth token; Twilio answers 201 when it accepted the
    message, otherwise a JSON error with "code" and "message"."""

    def __init__(self) -> None:
        self.sid = settings.TWILIO_ACCOUNT_SID
        self.token = settings.TWILIO_AUTH_TOKEN
        self.sender = settings.TWILIO_FROM_NUMBER
        self.base = settings.TWILIO_API_BASE.rstrip("/")

    def send(self, to: str, body: str) -> None:
        if not (self.sid and self.token and self.sender):
            raise SmsError(
                "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN "
                "and TWILIO_FROM_NUMBER"
            )
        url = f"{self.base}/2010-04-01/Accounts/{self.sid}/Messages.json"
        try:
            response = requests.post(
                url,
                data={"To": to, "From": self.sender, "Body": body},
                auth=(self.sid, self.token),
                timeout=TWILIO_TIMEOUT,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise SmsError(f"Twilio did not answer within {sum(TWILIO_TIMEOUT):g} s") from None
        except requests.RequestException as exc:
            # Not the exception's text: it may quote the request.
            raise SmsError(f"Could not connect to Twilio ({type(exc).__name__})") from None
        if response.status_code == 201:
            return
        raise SmsError(self._refusal(response))

    @staticmethod
    def _refusal(response: requests.Response) -> str:
        try:
            error: Any = response.json()
        except ValueError:
            error = None
        if not isinstance(error, dict) or not error.get("message"):
            return f"Twilio answered HTTP {response.status_code}"
        code = f", error {error['code']}" if error.get("code") else ""
        return f"Twilio refused the message (HTTP {response.status_code}{code}): {error['message']}"


BACKENDS = {
    "console": ConsoleBackend,
    "locmem": LocmemBackend,
    "twilio": TwilioBackend,
}


def get_backend(name: str | None = None) -> BaseSmsBackend:
    name = name or getattr(settings, "SMS_BACKEND", "console")
    backend_class = BACKENDS.get(name) or import_string(name)
    return backend_class()


def send_sms(to: str, body: str) -> None:
    get_backend().send(to, body)
