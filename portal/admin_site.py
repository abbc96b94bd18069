"""The platform operators' admin site (``/admin/``), behind the portal's own sign-in.

- Signing in is allauth's (``/accounts/login/``): the same failed-login throttle and lockout
  as every other page, and the second factor. The admin's own login form is never shown.
- Only an active staff account whose session passed its second factor (allauth records the
  methods of each sign-in in the session) may enter; staff must have TOTP
  (``portal.tenancy.requires_mfa``), and are sent to set it up first.
- Every add, change and delete made here is appended to the audit trail: every model admin
  registered on this site, the portal's and the libraries' alike, is given ``AuditedAdmin``.
"""

from __future__ import annotations

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from portal.admin_audit import AuditedAdmin
from portal.identity.services.security_events import SecurityEvent, record_security_event

# Set once the session's first admin request has been recorded as an admin sign-in.
ADMIN_ENTERED_SESSION_KEY = "portal_admin_entered"


def passed_second_factor(request: HttpRequest) -> bool:
    """Did this session's sign-in (or a later confirmation) use a second factor?"""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


class PortalAdminSite(admin.AdminSite):
    site_header = "V2X Portal — platform administration"
    site_title = "V2X Portal admin"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdmin):
            admin_class = type(
                admin_class.__name__,
                (AuditedAdmin, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff and passed_second_factor(request)):
            return False
        if not request.session.get(ADMIN_ENTERED_SESSION_KEY):
            # Asked on every admin request: the first one of a session is the admin sign-in.
            request.session[ADMIN_ENTERED_SESSION_KEY] = True
            record_security_event(event=SecurityEvent.ADMIN_SIGNED_IN, request=request, user=user)
        return True

    def login(self, request: HttpRequest, extra_context=None):
        """Where the admin sends anyone it does not let in: to the step they are missing."""
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index", current_app=self.name)
        query = "?" + urlencode({REDIRECT_FIELD_NAME: next_url})
        user = request.user
        if not user.is_authenticated:
            return redirect(reverse("account_login") + query)
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The admin site is for the platform's staff.")
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            return redirect("mfa_activate_totp")
        if not passed_second_factor(request):
            # Signed in before the second factor existed (or with a password only): confirm
            # with the authenticator app now.
            return redirect(reverse("mfa_reauthenticate") + query)
        return redirect(next_url)

    def password_change(self, request: HttpRequest, extra_context=None):
        # One place to change a password, with allauth's checks and its security event.
        return redirect("account_change_password")
