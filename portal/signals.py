"""Sign-ins and sign-outs are state changes worth auditing (who got in, from where); a saved or
deleted API key is forgotten by this process's key cache (portal.keycache)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from portal import audit, keycache
from portal.models import ApiKey


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit.record(user, "auth.login", user, request=request)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record(user, "auth.logout", user, request=request)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any) -> None:
    # Only the username: the credentials dict also holds the password attempt.
    audit.record(None, "auth.login_failed", request=request, username=credentials.get("username"))


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
def _forget_api_key(sender: Any, instance: ApiKey, **kwargs: Any) -> None:
    # Deleting an organization or customer deletes its keys through the collector, which sends
    # post_delete for each once a receiver is connected.
    keycache.forget(instance.prefix)
