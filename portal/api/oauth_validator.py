"""The token endpoint's rules for partner clients (``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``)."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, identify_hasher
from oauth2_provider.oauth2_validators import OAuth2Validator

from portal.api.client_secrets import ALGORITHM, upgrade_secret_hash
from portal.partners import allowed_scopes


class PartnerOAuth2Validator(OAuth2Validator):
    """Grants a client only scopes it is allowed: a request for any other scope fails with
    ``invalid_scope``, and a request naming no scope gets the defaults it is allowed.

    Checks client secrets against the keyed hash (``portal.api.client_secrets``), and
    upgrades a secret still stored with another hasher once it has been verified."""

    _verified_old_secret: str | None = None

    def _check_secret(self, provided_secret, stored_secret):
        try:
            identify_hasher(stored_secret)
        except ValueError:  # stored in plain text (hash_client_secret=False): DOT compares
            return super()._check_secret(provided_secret, stored_secret)
        return check_password(
            provided_secret, stored_secret, setter=self._remember_for_upgrade, preferred=ALGORITHM
        )

    def _remember_for_upgrade(self, secret: str) -> None:
        self._verified_old_secret = secret

    def authenticate_client(self, request, *args, **kwargs):
        self._verified_old_secret = None
        authenticated = super().authenticate_client(request, *args, **kwargs)
        if authenticated and self._verified_old_secret is not None:
            upgrade_secret_hash(
                application_pk=request.client.pk,
                old_hash=request.client.client_secret,
                secret=self._verified_old_secret,
            )
        self._verified_old_secret = None
        return authenticated

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return set(scopes) <= allowed_scopes(client)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        allowed = allowed_scopes(request.client)
        defaults = super().get_default_scopes(client_id, request, *args, **kwargs)
        return [name for name in defaults if name in allowed]
