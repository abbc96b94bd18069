"""Request size limit, request id, session lifetime, MFA enforcement and tenant scoping for
every web request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from portal.identity import sessions
from portal.request_context import new_request_id, reset_request_id, set_request_id
from portal.tenancy import requires_mfa, utility_access


class RequestSizeLimitMiddleware:
    """Refuses a body over ``MAX_REQUEST_BODY_BYTES`` by its declared length, before any view,
    authentication or upload handler reads a byte of it: 413, in the API's error shape under
    ``/api/``. (A body that lies about its length is still cut off by Django's own limits.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_REQUEST_BODY_BYTES
        if length > limit:
            message = f"The request body is {length} bytes; the limit is {limit} bytes."
            if request.path_info.startswith("/api/"):
                from portal.api.errors import ErrorCode, error_payload

                payload = error_payload(ErrorCode.PAYLOAD_TOO_LARGE, message, {"max_bytes": limit})
                return JsonResponse(payload, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class RequestIDMiddleware:
    """Tags the request, its log lines, its audit rows and the response with one id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = new_request_id(request.headers.get("X-Request-ID"))
        token = set_request_id(request.id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request.id
        return response


# Requests that neither end nor extend a session.
_SESSION_CLOCK_EXEMPT_PREFIXES = ("/static/", "/healthz")


class SessionLifetimeMiddleware:
    """Signs a person out when their session has been idle too long or has reached its
    absolute lifetime (``portal.identity.sessions``), and says why on the sign-in page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and not request.path_info.startswith(
            _SESSION_CLOCK_EXEMPT_PREFIXES
        ):
            now = time.time()
            reason = sessions.end_reason(request.session, now=now)
            if reason:
                # The sign-out's security event reads the reason from the request.
                request.session_end_reason = reason
                logout(request)
                messages.info(request, sessions.end_message(reason))
                # Back to the same page after signing in; a form post cannot be replayed.
                next_url = request.get_full_path() if request.method in ("GET", "HEAD") else ""
                return redirect_to_login(next_url or "/")
            sessions.touch(request, now=now)
        return self.get_response(request)


# Paths a program admin without a second factor may still reach: setting one up, signing out.
_MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/", "/o/")


class RequireMFAMiddleware:
    """Roles that must use TOTP (program admins) are sent to set it up before anything else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path_info.startswith(_MFA_EXEMPT_PREFIXES)
            and requires_mfa(user)
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class TenantScopeMiddleware:
    """Pages under ``/u/<utility_slug>/`` run inside that utility's scope and time zone.

    Everything else runs with no scope, so a tenant-owned query there raises ScopeError
    instead of reading across utilities. Views that legitimately work across utilities (an
    installer's workspace) open ``scopes_disabled()`` themselves and filter explicitly.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        slug = match.kwargs.get("utility_slug")
        if slug is None:
            if (
                match.app_name == "admin"
                and request.user.is_authenticated
                and request.user.is_staff
            ):
                # Platform operators' admin site: read across tenants, audit stays read-only.
                with scopes_disabled():
                    return self.get_response(request)
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        with entered_utility(request, slug):
            return self.get_response(request)


@contextmanager
def entered_utility(request, slug: str) -> Iterator[None]:
    """The membership check (404 for non-members), ``request.utility`` and
    ``request.access``, and the utility's scope and time zone around what runs inside.

    The middleware's one way in; also used by an action that allauth replays after
    re-authentication (``portal.identity.reauth``), which runs outside the middleware."""
    access = utility_access(request.user, slug)
    request.utility = access.utility
    request.access = access
    with scope(utility=access.utility.pk), timezone.override(access.utility.tzinfo):
        yield
