"""Keeps secret URL tokens out of the logs, and expected refusals' tracebacks too.

Two kinds of URL carry their secret in the path: the Simotel webhook (`/hooks/simotel/<token>/`)
and a status page's secret link (`/status/s/<token>/`). Django logs the path of every 4xx and
5xx answer (`django.request`, and `django.server` for each request under runserver), so a PBX
with a wrong password would otherwise write a working webhook URL into the log.
"""

from __future__ import annotations

import logging
import re

# The path segment after these prefixes is a secret (see vendors/urls.py, monitors/urls.py).
SECRET_PATH = re.compile(r"(/hooks/simotel/|/status/s/)[^/\s\"'?#]+")
REDACTED = r"\1[redacted]"
# Loggers that write request paths. A logger's filters see only the records logged on it, not
# those of its children, so each is named.
PATH_LOGGERS = ["django.request", "django.server", "django.security.csrf"]


class RedactSecretUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_PATH.sub(REDACTED, message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class NoTracebackForRefusals(logging.Filter):
    """Django logs every 4xx answer with the exception's traceback ("Not Found: ...",
    "Forbidden: ..."): refusals are the portal working as meant, and a traceback on each drowned
    the real errors. The line stays; 5xx keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 0) < 500:
            record.exc_info = record.exc_text = None
        return True


def install() -> None:
    for name in PATH_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretUrls) for f in logger.filters):
            logger.addFilter(RedactSecretUrls())
    requests = logging.getLogger("django.request")
    if not any(isinstance(f, NoTracebackForRefusals) for f in requests.filters):
        requests.addFilter(NoTracebackForRefusals())
