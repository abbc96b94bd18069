"""Signal receivers that turn allauth's and Django's authentication signals into security
events (``portal.identity.services.security_events``), and stamp a new session with the
time it began (``portal.identity.sessions``). Connected in ``PortalConfig.ready()``.

The lockout has no signal: ``PortalAccountAdapter.pre_authenticate`` records it. Entering the
admin site is recorded by ``portal.admin_site.PortalAdminSite``.
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals

from portal.identity import sessions
from portal.identity.services.security_events import (
    SecurityEvent,
    attempted_login,
    record_security_event,
)


def _on_signed_in(sender, request, user, **kwargs):
    """allauth's sign-in (password, then the second factor if the account has one)."""
    from allauth.account.authentication import get_authentication_records

    methods = [
        record["method"] + (f":{record['type']}" if "type" in record else "")
        for record in get_authentication_records(request, user)
    ]
    record_security_event(
        event=SecurityEvent.SIGNED_IN, request=request, user=user, details={"methods": methods}
    )


def _on_session_started(sender, request, user, **kwargs):
    """Django's login() (every way of signing in): the session's absolute lifetime starts."""
    if request is not None and hasattr(request, "session"):
        sessions.start(request)


def _on_login_failed(sender, credentials, request=None, **kwargs):
    """A wrong email or password (Django has already masked the password)."""
    if request is not None and request.user.is_authenticated:
        # Confirming one's password again before a sensitive action.
        record_security_event(
            event=SecurityEvent.REAUTHENTICATION_FAILED,
            request=request,
            user=request.user,
            details={"method": "password"},
        )
        return
    login, user = attempted_login(credentials)
    record_security_event(
        event=SecurityEvent.SIGN_IN_FAILED,
        request=request,
        user=user,
        authenticated=False,
        login=login,
    )


def _on_mfa_failed(sender, request, user, authenticator, reauthentication=False, **kwargs):
    record_security_event(
        event=SecurityEvent.MFA_FAILED,
        request=request,
        user=user,
        # At sign-in the password was right but the person is not signed in yet.
        authenticated=bool(reauthentication),
        details={"type": authenticator.type, "reauthentication": bool(reauthentication)},
    )


def _on_reauthenticated(sender, request, user, method, **kwargs):
    if kwargs.get("reauthenticated"):
        details = {"method": method, **({"type": kwargs["type"]} if "type" in kwargs else {})}
        record_security_event(
            event=SecurityEvent.REAUTHENTICATED, request=request, user=user, details=details
        )


def _authenticator_event(event: SecurityEvent):
    def receiver(sender, request, user, authenticator, **kwargs):
        record_security_event(
            event=event, request=request, user=user, details={"type": authenticator.type}
        )

    return receiver


def _password_event(event: SecurityEvent):
    def receiver(sender, request, user, **kwargs):
        record_security_event(event=event, request=request, user=user)

    return receiver


def _on_signed_out(sender, request, user, **kwargs):
    if user is None:
        return  # nobody was signed in
    reason = getattr(request, "session_end_reason", "")
    record_security_event(
        event=SecurityEvent.SESSION_EXPIRED if reason else SecurityEvent.SIGNED_OUT,
        request=request,
        user=user,
        details={"reason": reason} if reason else None,
    )


_mfa_added = _authenticator_event(SecurityEvent.MFA_ADDED)
_mfa_removed = _authenticator_event(SecurityEvent.MFA_REMOVED)
_mfa_reset = _authenticator_event(SecurityEvent.MFA_RESET)
_password_changed = _password_event(SecurityEvent.PASSWORD_CHANGED)
_password_set = _password_event(SecurityEvent.PASSWORD_SET)
_password_reset = _password_event(SecurityEvent.PASSWORD_RESET)


def connect() -> None:
    uid = "portal.identity.receivers."
    account_signals.user_logged_in.connect(_on_signed_in, dispatch_uid=uid + "signed_in")
    auth_signals.user_logged_in.connect(_on_session_started, dispatch_uid=uid + "session")
    auth_signals.user_login_failed.connect(_on_login_failed, dispatch_uid=uid + "failed")
    auth_signals.user_logged_out.connect(_on_signed_out, dispatch_uid=uid + "signed_out")
    account_signals.authentication_step_completed.connect(
        _on_reauthenticated, dispatch_uid=uid + "reauthenticated"
    )
    account_signals.password_changed.connect(_password_changed, dispatch_uid=uid + "pw_changed")
    account_signals.password_set.connect(_password_set, dispatch_uid=uid + "pw_set")
    account_signals.password_reset.connect(_password_reset, dispatch_uid=uid + "pw_reset")
    mfa_signals.authentication_failed.connect(_on_mfa_failed, dispatch_uid=uid + "mfa_failed")
    mfa_signals.authenticator_added.connect(_mfa_added, dispatch_uid=uid + "mfa_added")
    mfa_signals.authenticator_removed.connect(_mfa_removed, dispatch_uid=uid + "mfa_removed")
    mfa_signals.authenticator_reset.connect(_mfa_reset, dispatch_uid=uid + "mfa_reset")
