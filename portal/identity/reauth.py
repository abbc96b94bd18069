"""Re-authentication before sensitive actions: paying out, changing who may act for an
organization, scheduling a real (non-test) event, approving a settlement.

allauth's reauthentication flow does the work: ``reauthentication_required`` raises
``ReauthenticationRequired`` unless the person confirmed their password or second factor
within ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` (or signed in that recently:
``PortalAccountAdapter.is_reauthentication_required``). allauth's middleware then keeps the
form post, sends the person to confirm (password, or the authenticator app), and replays the
post once they have. Pages (GET) are never asked for; only the action is.
"""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.http import HttpRequest

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RecentAuthRequiredMixin:
    """For a view whose form posts are sensitive, e.g.

        class SettlementApproveView(RecentAuthRequiredMixin, UtilityViewMixin, View): ...

    (either order works: a utility page replayed by allauth after the confirmation runs
    outside the middleware, and ``UtilityViewMixin`` enters the utility itself then).

    By default every POST (PUT, PATCH, DELETE) needs a recent authentication; override
    ``needs_recent_authentication`` when only some posts do (e.g. scheduling, but not
    previewing, an event).
    """

    def needs_recent_authentication(self, request: HttpRequest) -> bool:
        return request.method not in SAFE_METHODS

    def dispatch(self, request, *args, **kwargs):
        capability = getattr(self, "required_capability", None)
        access = getattr(request, "access", None)
        if capability and access is not None and not access.can(capability):
            # Someone who may not act anyway gets the 403, not a password prompt.
            return super().dispatch(request, *args, **kwargs)
        guarded = reauthentication_required(
            super().dispatch, enabled=self.needs_recent_authentication
        )
        return guarded(request, *args, **kwargs)
