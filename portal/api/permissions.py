"""Permissions of the partner API: a partner's client, holding the view's scopes."""

from __future__ import annotations

from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework.permissions import BasePermission

from portal.api.errors import InsufficientScope


class IsPartnerClient(BasePermission):
    """Passes once the base view has resolved the token to a partner's client. Without a
    token DRF answers 401; a token of another kind of client was refused with 403 already."""

    def has_permission(self, request, view) -> bool:
        return getattr(request, "partner_access", None) is not None


class HasRequiredScopes(TokenHasScope):
    """The token holds every scope ``view.get_required_scopes()`` names for this request.

    A subclass of TokenHasScope so drf-spectacular documents each operation's scopes.
    """

    def get_scopes(self, request, view) -> list[str]:
        return view.get_required_scopes(request)

    def has_permission(self, request, view) -> bool:
        if request.auth is None:
            return False
        if super().has_permission(request, view):
            return True
        required = self.get_scopes(request, view)
        granted = sorted(request.partner_access.scopes)
        raise InsufficientScope(
            f"This endpoint needs the scope(s): {', '.join(required)}.",
            details={"required_scopes": required, "granted_scopes": granted},
        )
