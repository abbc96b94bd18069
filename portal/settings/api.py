"""The partner API's settings: DRF, the OpenAPI schema, the OAuth2 provider, the token
endpoint's failure budget and customer authorizations (read from the environment like the
rest, see ``portal.settings``)."""

from __future__ import annotations

import hashlib

from portal.env import env_int, env_str
from portal.settings.base import SECRET_KEY, SITE_URL

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.StandardPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.PartnerClientThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "partner": env_str("API_THROTTLE_RATE", "6000/min"),
        # Requests without a valid access token, per address, before anything else is done.
        "anonymous": env_str("API_ANONYMOUS_THROTTLE_RATE", "60/min"),
    },
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "V2X Program Portal — Partner API",
    "DESCRIPTION": (
        "REST API for automaker (OEM) and charger partners. Authenticate with OAuth2 client "
        "credentials at /o/token/; each client is limited to the utilities its partner has an "
        "agreement with. Errors share one JSON shape: "
        '{"error": {"code", "message", "details", "request_id"}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "OAUTH2_FLOWS": ["clientCredentials"],
    "OAUTH2_TOKEN_URL": f"{SITE_URL}/o/token/",
    "ENUM_NAME_OVERRIDES": {
        "AgreementStatusEnum": "portal.models.PartnerAgreement.Status",
        "VehicleStatusEnum": "devices.models.Vehicle.Status",
        "CommandStatusEnum": "devices.models.DeviceCommand.Status",
        "AcknowledgedStatusEnum": "devices.services.commands.ACKNOWLEDGED_STATUSES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.document_errors",
    ],
    # Swagger UI and Redoc assets come from the drf-spectacular-sidecar package (PyPI), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Named explicitly so our migrations can reference the swappable models.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER = {
    "SCOPES": {
        "utilities:read": "Read the utilities this partner has an agreement with",
        "vehicles:read": "Read registered vehicles",
        "vehicles:write": "Register and update vehicles",
        "telemetry:write": "Post vehicle telemetry",
        "commands:read": "Pull pending dispatch commands",
        "commands:write": "Acknowledge dispatch commands",
        "enrollments:read": "Read enrollment status",
        "enrollments:write": "Submit and withdraw enrollments",
    },
    "DEFAULT_SCOPES": ["utilities:read"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_ACCESS_TOKEN_SECONDS", 3600, minimum=60),
    "PKCE_REQUIRED": True,
    # Limits each client to the scopes it is allowed.
    "OAUTH2_VALIDATOR_CLASS": "portal.api.oauth_validator.PartnerOAuth2Validator",
    # A keyed hash for client secrets (portal/api/client_secrets.py); older hashes are upgraded
    # on the client's next successful token request.
    "CLIENT_SECRET_HASHER": "hmac_sha256_client",
    # RFC 9700 (OAuth security BCP) throughout. Partners use client credentials only; the
    # browser-based grants are not routed at all, and refused here should that change.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # only token hashes at rest
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,  # never in the query string
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}

# The key of the client-secret hash. Changing it invalidates every stored client secret (issue
# new ones); by default it is derived from SECRET_KEY, so set it on its own before rotating that.
CLIENT_SECRET_HASH_KEY = env_str(
    "CLIENT_SECRET_HASH_KEY",
    hashlib.sha256(f"client-secret-hash-key:{SECRET_KEY}".encode()).hexdigest(),
)
# Failed client authentications at /o/token/ and /o/revoke_token/ allowed per client id and per
# address in each window; beyond them the endpoint answers 429 until the window ends.
OAUTH2_CLIENT_AUTH_FAILURES = {
    "per_client": env_int("OAUTH2_CLIENT_AUTH_FAILURES_PER_CLIENT", 10, minimum=1),
    "per_address": env_int("OAUTH2_CLIENT_AUTH_FAILURES_PER_ADDRESS", 30, minimum=1),
    "window_seconds": env_int("OAUTH2_CLIENT_AUTH_FAILURE_WINDOW_SECONDS", 900, minimum=1),
}

# Customer authorizations (portal/customers/authorizations.py): how long a code the utility
# issues to a customer stays good, and the key of its stored hash (changing it voids
# unredeemed codes only). Failed customer lookups allowed per partner or installer and per
# address in each window; the failure that spends a budget is audited and logged.
CUSTOMER_AUTHORIZATION_VALID_DAYS = env_int("CUSTOMER_AUTHORIZATION_VALID_DAYS", 60, minimum=1)
CUSTOMER_AUTHORIZATION_HASH_KEY = env_str(
    "CUSTOMER_AUTHORIZATION_HASH_KEY",
    hashlib.sha256(f"customer-authorization-hash-key:{SECRET_KEY}".encode()).hexdigest(),
)
CUSTOMER_LOOKUP_FAILURES = {
    "per_party": env_int("CUSTOMER_LOOKUP_FAILURES_PER_PARTY", 5, minimum=1),
    "per_address": env_int("CUSTOMER_LOOKUP_FAILURES_PER_ADDRESS", 20, minimum=1),
    "window_seconds": env_int("CUSTOMER_LOOKUP_FAILURE_WINDOW_SECONDS", 3600, minimum=1),
}
