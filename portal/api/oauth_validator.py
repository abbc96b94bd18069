"""The token endpoint's rules for partner clients (``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``)."""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator

from portal.partners import allowed_scopes


class PartnerOAuth2Validator(OAuth2Validator):
    """Grants a client only scopes it is allowed: a request for any other scope fails with
    ``invalid_scope``, and a request naming no scope gets the defaults it is allowed."""

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return set(scopes) <= allowed_scopes(client)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        allowed = allowed_scopes(request.client)
        defaults = super().get_default_scopes(client_id, request, *args, **kwargs)
        return [name for name in defaults if name in allowed]
