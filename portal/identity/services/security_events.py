"""Security events: signing in and out, failures and lockouts, second-factor failures, entering
the admin site, password and second-factor changes, sessions that expired.

Each event is written twice: an audit row for every utility the person holds a role in (their
auditors see it; a platform-level row, utility empty, when they hold none), and one structured
line on the ``portal.security`` logger for the log pipeline. Both carry the client's IP
address, its user agent and the request id. Passwords and one-time codes never reach either:
callers pass named details, never the submitted form.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import models
from django.http import HttpRequest

from portal.audit import build
from portal.models import Membership, User
from portal.request_context import get_request_id

logger = logging.getLogger("portal.security")

# Every security event's action starts with this, so the audit list can pick them out.
SECURITY_ACTION_PREFIX = "security."
_USER_AGENT_MAX = 300


class SecurityEvent(models.TextChoices):
    SIGNED_IN = "security.signed_in", "Signed in"
    SIGN_IN_FAILED = "security.sign_in_failed", "Sign-in failed (wrong email or password)"
    SIGN_IN_LOCKED = "security.sign_in_locked", "Sign-in refused: too many failed attempts"
    MFA_FAILED = "security.mfa_failed", "Second factor failed (wrong code)"
    REAUTHENTICATED = "security.reauthenticated", "Confirmed identity again"
    REAUTHENTICATION_FAILED = "security.reauthentication_failed", "Identity confirmation failed"
    ADMIN_SIGNED_IN = "security.admin_signed_in", "Entered the admin site"
    PASSWORD_CHANGED = "security.password_changed", "Password changed"
    PASSWORD_SET = "security.password_set", "Password set"
    PASSWORD_RESET = "security.password_reset", "Password reset by email link"
    MFA_ADDED = "security.mfa_added", "Second factor added"
    MFA_REMOVED = "security.mfa_removed", "Second factor removed"
    MFA_RESET = "security.mfa_reset", "Recovery codes regenerated"
    SIGNED_OUT = "security.signed_out", "Signed out"
    SESSION_EXPIRED = "security.session_expired", "Signed out: session expired"


# Failures are what a monitoring rule alerts on; the rest is the normal course of things.
_WARNING_EVENTS = {
    SecurityEvent.SIGN_IN_FAILED,
    SecurityEvent.SIGN_IN_LOCKED,
    SecurityEvent.MFA_FAILED,
    SecurityEvent.REAUTHENTICATION_FAILED,
}


def client_ip(request: HttpRequest | None) -> str:
    """The client's address as the login throttle sees it (``TRUSTED_PROXY_COUNT`` hops from
    the right of X-Forwarded-For, else the connection's)."""
    if request is None:
        return ""
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        return ""


def attempted_login(credentials: dict[str, Any]) -> tuple[str, User | None]:
    """The address a sign-in attempt named and its account, if any. The address is kept only
    if it is one: people sometimes type their password into the wrong box, and that must not
    be recorded."""
    text = str(credentials.get("email") or credentials.get("username") or "").strip().lower()
    try:
        validate_email(text)
    except ValidationError:
        return "", None
    return text[:254], User.objects.filter(email__iexact=text).first()


def record_security_event(
    *,
    event: SecurityEvent,
    request: HttpRequest | None,
    user: User | None = None,
    authenticated: bool = True,
    login: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Audit rows and a log line for ``event``.

    ``user`` is the account concerned (None when a sign-in named an unknown address, which
    then goes in ``login``). ``authenticated`` says whether the person acting proved to be
    that user; a failed sign-in did not, so its rows name no actor, only the account.
    """
    ip = client_ip(request)
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:_USER_AGENT_MAX] if request else ""
    facts = {
        "ip": ip,
        "user_agent": user_agent,
        **({"login": login} if login else {}),
        **(details or {}),
    }
    actor = user if authenticated else None
    label = "" if actor is not None else "anonymous" + (f" ({ip})" if ip else "")
    for utility_id in _utilities_of(user):
        build(
            action=event.value,
            utility_id=utility_id,
            obj=user,
            actor=actor,
            label=label,
            comment=event.label,
            changes=facts,
        ).save(force_insert=True)
    line = {
        "event": event.value,
        "user_id": user.pk if user is not None else None,
        "email": user.email if user is not None else login,
        **facts,
        "request_id": get_request_id(),
    }
    level = logging.WARNING if event in _WARNING_EVENTS else logging.INFO
    logger.log(level, "security_event %s", json.dumps(line), extra={"security_event": line})


def _utilities_of(user: User | None) -> list[int | None]:
    """One audit row per utility the person holds a role in; one platform row otherwise."""
    if user is None or user.pk is None:
        return [None]
    utility_ids = sorted(
        set(
            Membership.objects.filter(user=user, utility__isnull=False).values_list(
                "utility_id", flat=True
            )
        )
    )
    return utility_ids or [None]
