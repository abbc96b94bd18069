"""Customer lookups from the partner API: account number + ZIP code + the customer's
authorization code (``portal.customers.authorizations``), answered in the API's error shape.

Every mismatch is one answer, 400 ``account_not_verified``; once the client's partner or its
address has spent its failure budget, 429 ``rate_limited`` with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable

from rest_framework import status

from portal.api.errors import APIError, ErrorCode
from portal.customers.authorizations import (
    AccountNotAuthorized,
    LookupParty,
    LookupsThrottled,
    authorized_account,
)
from portal.customers.models import ServiceAccount
from portal.failure_budgets import client_address
from portal.models import Utility


class AccountNotVerified(APIError):
    code = ErrorCode.ACCOUNT_NOT_VERIFIED
    default_detail = AccountNotAuthorized.message


class CustomerLookupsThrottled(APIError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after: int):
        super().__init__(
            LookupsThrottled(retry_after).message, details={"retry_after_seconds": retry_after}
        )
        self.wait = retry_after  # the exception handler's Retry-After


def partner_lookup(
    request,
    *,
    utility: Utility,
    account_number: str,
    zip_code: str,
    authorization_code: str,
    related: Callable[[ServiceAccount], bool] | None = None,
) -> ServiceAccount:
    """The account the calling partner client may act for (see ``authorized_account``)."""
    access = request.partner_access
    party = LookupParty(
        address=client_address(request._request),
        partner=access.partner,
        client_id=access.client_id,
    )
    try:
        return authorized_account(
            utility=utility,
            account_number=account_number,
            zip_code=zip_code,
            code=authorization_code,
            party=party,
            related=related,
        )
    except LookupsThrottled as exc:
        raise CustomerLookupsThrottled(exc.retry_after) from None
    except AccountNotAuthorized:
        raise AccountNotVerified() from None


AUTHORIZATION_CODE_HELP = (
    "The customer's authorization code (10 characters, e.g. ABCDE-FGHJK), issued to the "
    "customer by the utility and given by the customer to you. Needed once per account: "
    "after it has been accepted, your client may omit it for that account until the "
    "utility revokes the authorization."
)
