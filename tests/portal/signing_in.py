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
