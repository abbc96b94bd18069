"""Rate limits of the partner API: one budget per client, whatever the utility."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class PartnerClientThrottle(SimpleRateThrottle):
    """``DEFAULT_THROTTLE_RATES["partner"]`` per partner client; per address before the
    request is known to come from one (the public API root)."""

    scope = "partner"

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # noqa: N802 - DRF's attribute name
        # DRF binds the rates at import; read them per request so a changed setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES

    def get_cache_key(self, request, view) -> str:
        access = getattr(request, "partner_access", None)
        ident = f"client:{access.client_id}" if access else f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousAddressThrottle(SimpleRateThrottle):
    """``DEFAULT_THROTTLE_RATES["anonymous"]`` per address for requests without a valid
    access token: checked before the 401, so probing without credentials is bounded too."""

    scope = "anonymous"

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # noqa: N802 - DRF's attribute name
        return api_settings.DEFAULT_THROTTLE_RATES

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
