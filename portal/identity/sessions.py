"""How long a signed-in session lasts: an idle timeout (``SESSION_IDLE_TIMEOUT_MINUTES``
without a request) and an absolute lifetime (``SESSION_ABSOLUTE_HOURS`` after signing in,
however busy). ``portal.middleware.SessionLifetimeMiddleware`` enforces both; the session
is stamped when it begins (``start``, on Django's ``user_logged_in``) and on later requests
(``touch``).

Evaluated against django-session-timeout (PyPI): it enforces one clock (idle *or* since
start, not both), says nothing to the person signed out, and has seen no release since 2020;
the two clocks here are a few lines.
"""

from __future__ import annotations

import time

from django.conf import settings

STARTED_AT_SESSION_KEY = "portal_session_started_at"
LAST_SEEN_AT_SESSION_KEY = "portal_session_last_seen_at"

# Stamping every request would write the session row on every request; the idle clock is
# accurate to this many seconds instead.
_TOUCH_EVERY_SECONDS = 60

IDLE = "idle"
ABSOLUTE = "absolute"


def idle_timeout_seconds() -> int:
    return settings.SESSION_IDLE_TIMEOUT_MINUTES * 60


def absolute_lifetime_seconds() -> int:
    return settings.SESSION_ABSOLUTE_HOURS * 3600


def start(request, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    request.session[STARTED_AT_SESSION_KEY] = now
    request.session[LAST_SEEN_AT_SESSION_KEY] = now


def end_reason(session, *, now: float) -> str:
    """``IDLE`` or ``ABSOLUTE`` when the session is over, else an empty string."""
    started_at = session.get(STARTED_AT_SESSION_KEY)
    last_seen_at = session.get(LAST_SEEN_AT_SESSION_KEY)
    if started_at is None or last_seen_at is None:
        return ""
    if now - last_seen_at > idle_timeout_seconds():
        return IDLE
    if now - started_at > absolute_lifetime_seconds():
        return ABSOLUTE
    return ""


def touch(request, *, now: float) -> None:
    """Record activity. A session from before these clocks existed starts them now."""
    session = request.session
    if STARTED_AT_SESSION_KEY not in session or LAST_SEEN_AT_SESSION_KEY not in session:
        start(request, now=now)
    elif now - session[LAST_SEEN_AT_SESSION_KEY] >= _TOUCH_EVERY_SECONDS:
        session[LAST_SEEN_AT_SESSION_KEY] = now


def end_message(reason: str) -> str:
    """What the sign-in page tells the person, so a lost session is never a mystery."""
    if reason == IDLE:
        minutes = settings.SESSION_IDLE_TIMEOUT_MINUTES
        return (
            f"You were signed out after {minutes} minutes without activity. "
            "Sign in again to continue."
        )
    hours = settings.SESSION_ABSOLUTE_HOURS
    return (
        f"You were signed out because sessions last at most {hours} hours. "
        "Sign in again to continue."
    )
