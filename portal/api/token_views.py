"""The OAuth2 token and revocation endpoints, with failure budgets on client authentication.

Every request that fails client authentication (``invalid_client``) spends one failure of
its client id's budget and one of its address's (``OAUTH2_CLIENT_AUTH_FAILURES``). While
either is spent the endpoint answers 429 with ``Retry-After`` and the RFC 6749 error shape,
``{"error": "slow_down", ...}`` (the token endpoint's code for "too fast", RFC 8628), before
any secret is checked: a flood of wrong secrets costs a cache read each.

A spent client-id budget also refuses that client's right secret until the window ends: the
price of stopping a guesser who spreads over many addresses. Partners should retry after
``Retry-After``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider import views

from portal.failure_budgets import FailureBudget, client_address

logger = logging.getLogger(__name__)


def token_failure_budgets() -> tuple[FailureBudget, FailureBudget]:
    limits = settings.OAUTH2_CLIENT_AUTH_FAILURES
    window = limits["window_seconds"]
    return (
        FailureBudget("oauth-client-id", limits["per_client"], window),
        FailureBudget("oauth-client-address", limits["per_address"], window),
    )


def presented_client_id(request: HttpRequest) -> str:
    """The client id the request claims, from HTTP Basic or the form body ('' if none)."""
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = auth.partition(" ")
    if scheme == "Basic" and credentials:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return unquote_plus(decoded.partition(":")[0])[:200]
    return request.POST.get("client_id", "")[:200]


class ClientAuthFailureBudgetMixin:
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        client_budget, address_budget = token_failure_budgets()
        client_id = presented_client_id(request)
        address = client_address(request)
        spent = [(address_budget, address)]
        if client_id:
            spent.append((client_budget, client_id))
        waits = [wait for budget, ident in spent if (wait := budget.retry_after(ident))]
        if waits:
            return too_many_failures(max(waits))

        response = super().post(request, *args, **kwargs)
        if _is_invalid_client(response):
            counts = [budget.spend(ident) for budget, ident in spent]
            logger.warning(
                "OAuth2 client authentication failed",
                extra={"client_id": client_id, "address": address, "failures": max(counts)},
            )
        return response


def _is_invalid_client(response: HttpResponse) -> bool:
    if response.status_code not in (400, 401):
        return False
    try:
        return json.loads(response.content).get("error") == "invalid_client"
    except (ValueError, AttributeError):
        return False


def too_many_failures(retry_after: int) -> JsonResponse:
    response = JsonResponse(
        {
            "error": "slow_down",
            "error_description": "Too many failed client authentications; "
            f"retry after {retry_after} seconds.",
        },
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


class TokenView(ClientAuthFailureBudgetMixin, views.TokenView):
    pass


class RevokeTokenView(ClientAuthFailureBudgetMixin, views.RevokeTokenView):
    pass
