"""Signing in through the real allauth pages (password, then the authenticator app's code),
for tests that need what a real sign-in leaves in the session: the admin site, for one,
admits only a session that passed its second factor."""

from __future__ import annotations

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core.cache import cache
from django.urls import reverse

from tests.portal.factories import DEFAULT_PASSWORD


def current_code(secret: str) -> str:
    """What an authenticator app shows right now."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def sign_in(client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def sign_in_with_totp(client, user, *, secret: str | None = None) -> str:
    """Signs ``user`` in with the password and a TOTP code (activating TOTP with a new secret
    unless ``secret`` is the one already active); returns the secret."""
    if secret is None:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    # allauth counts sign-ins per address in the cache, which outlives a test.
    cache.clear()
    response = sign_in(client, user.email)
    assert response.status_code == 302 and response.url == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert response.status_code == 302, response.content[:2000]
    return secret


def make_sign_in_stale(client, *, minutes: int = 60) -> None:
    """The session signed in ``minutes`` ago (past the re-authentication window, well inside
    the session's own limits) and confirmed nothing since."""
    from portal.identity.adapter import SIGNED_IN_AT_SESSION_KEY

    session = client.session
    session[SIGNED_IN_AT_SESSION_KEY] = time.time() - minutes * 60
    session.save()


def asks_to_reauthenticate(response, path: str) -> bool:
    """Is ``response`` allauth sending the person to confirm their password before ``path``?"""
    from urllib.parse import urlencode

    expected = reverse("account_reauthenticate") + "?" + urlencode({"next": path})
    return response.status_code == 302 and response.url == expected


def reauthenticate(client, response, password: str = DEFAULT_PASSWORD):
    """Confirms the password on the page ``response`` redirected to; allauth then replays the
    action it kept, and this returns that action's answer."""
    return client.post(response.url, {"password": password})
