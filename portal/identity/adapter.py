"""allauth account adapter: the portal is invitation-only, a fresh sign-in counts as
reauthentication, and a sign-in refused by the failed-login throttle is a security event."""

from __future__ import annotations

import time

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.identity.services.security_events import (
    SecurityEvent,
    attempted_login,
    record_security_event,
)

# When this session last completed a sign-in (password and, if set up, second factor).
SIGNED_IN_AT_SESSION_KEY = "portal_signed_in_at"


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # People join by invitation only (see portal.identity); installers may request access.
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # Where a stranger is pointed instead of a sign-up page (templates/account/email/).
        context = {"request_access_url": settings.SITE_URL + reverse("request_access"), **context}
        super().send_mail(template_prefix, email, context)

    def pre_authenticate(self, request, **credentials) -> None:
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            # allauth refuses the attempt before checking the password: the account or
            # this address has failed too often (ACCOUNT_RATE_LIMITS["login_failed"]).
            login, user = attempted_login(credentials)
            record_security_event(
                event=SecurityEvent.SIGN_IN_LOCKED,
                request=request,
                user=user,
                authenticated=False,
                login=login,
            )
            raise

    def post_login(self, request, user, **kwargs):
        request.session[SIGNED_IN_AT_SESSION_KEY] = time.time()
        return super().post_login(request, user, **kwargs)

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        # A program admin goes from signing in straight to setting up TOTP; asking for the
        # password they typed seconds ago proves nothing more. Later on, allauth asks again.
        session = getattr(self.request, "session", None)
        signed_in_at = session.get(SIGNED_IN_AT_SESSION_KEY) if session is not None else None
        if (
            signed_in_at is not None
            and time.time() - signed_in_at < account_settings.REAUTHENTICATION_TIMEOUT
        ):
            return False
        return super().is_reauthentication_required(app=app, **kwargs)
