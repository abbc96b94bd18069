"""allauth MFA adapter: roles that must use a second factor (program admins, the platform's
staff) cannot switch it off."""

from __future__ import annotations

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator

from portal.tenancy import requires_mfa


class PortalMFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": (
            "Your role (program admin or platform staff) requires an authenticator app, so it "
            "cannot be turned off. To move it to a new phone, contact the portal's platform team."
        ),
    }

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        if authenticator.type == Authenticator.Type.TOTP and requires_mfa(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)
