"""Customer authorizations: the customer's own permission, as a one-time code, before an
automaker partner or an installer may act for a service account it has no relationship with.

Account numbers are sequential and a utility has few ZIP codes, so "account number + ZIP"
proves nothing. The utility issues a code to the customer (on the bill, by mail, by phone);
the customer gives it to the one partner or installer they choose; that party presents it
with the account number and ZIP code. Every failed lookup spends the party's and the
address's failure budget (``CUSTOMER_LOOKUP_FAILURES``), is stored for the utility's page of
failed lookups, and logged; the failure that spends a budget is also audited (the alert).
Every mismatch is the same answer, whichever of the three values was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal import audit
from portal.customers.models import CustomerAuthorization, CustomerLookupFailure, ServiceAccount
from portal.failure_budgets import FailureBudget
from portal.models import AutomakerPartner, InstallerCompany, User, Utility

logger = logging.getLogger(__name__)

# Crockford's base32: no I, L, O or U, so a code read out over the phone survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits; with the failure budgets, not guessable
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class CustomerLookupRefused(Exception):
    message = "The customer lookup was refused."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message


class AccountNotAuthorized(CustomerLookupRefused):
    message = (
        "The account number, ZIP code and customer authorization code do not match an "
        "authorization for you."
    )


class LookupsThrottled(CustomerLookupRefused):
    message = "Too many failed customer lookups; try again later."

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed customer lookups; retry after {retry_after} seconds.")
        self.retry_after = retry_after


class AuthorizationError(Exception):
    """A staff action on an authorization that its state does not allow."""


@dataclass(frozen=True)
class LookupParty:
    """Who looks a customer up: a partner's API client or a person of an installer company."""

    address: str
    partner: AutomakerPartner | None = None
    client_id: str = ""
    installer: InstallerCompany | None = None
    user: User | None = None

    @property
    def identity(self) -> str:
        if self.partner is not None:
            return f"partner:{self.partner.pk}"
        return f"installer:{self.installer.pk}"

    @property
    def channel(self) -> str:
        if self.partner is not None:
            return CustomerLookupFailure.Channel.PARTNER_API
        return CustomerLookupFailure.Channel.INSTALLER

    @property
    def audit_actor(self) -> dict:
        if self.partner is not None:
            return {"client_id": self.client_id, "partner_name": self.partner.name}
        return {"actor": self.user}

    def redeemed_filter(self) -> dict:
        if self.partner is not None:
            return {"redeemed_by_partner": self.partner}
        return {"redeemed_by_installer": self.installer}


def lookup_failure_budgets() -> tuple[FailureBudget, FailureBudget]:
    limits = settings.CUSTOMER_LOOKUP_FAILURES
    window = limits["window_seconds"]
    return (
        FailureBudget("customer-lookup-party", limits["per_party"], window),
        FailureBudget("customer-lookup-address", limits["per_address"], window),
    )


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum()).translate(_READ_AS)


def code_hash(*, utility_id: int, code: str) -> str:
    key = settings.CUSTOMER_AUTHORIZATION_HASH_KEY.encode()
    message = f"{utility_id}:{normalize_code(code)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


# --- Staff: issue and revoke ------------------------------------------------------------------


def issue_authorization(
    *, account: ServiceAccount, actor: User | None, now: datetime | None = None
) -> tuple[CustomerAuthorization, str]:
    """A new code for ``account``; returns it formatted (``ABCDE-FGHJK``). It is shown once:
    only its hash is stored."""
    now = now or timezone.now()
    while True:  # a collision within the utility is astronomically rare; draw again
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        hashed = code_hash(utility_id=account.utility_id, code=code)
        if not CustomerAuthorization.objects.filter(
            utility_id=account.utility_id, code_hash=hashed
        ).exists():
            break
    authorization = CustomerAuthorization.objects.create(
        utility_id=account.utility_id,
        service_account=account,
        code_hash=hashed,
        issued_by=actor,
        issued_at=now,
        expires_at=now + timedelta(days=settings.CUSTOMER_AUTHORIZATION_VALID_DAYS),
    )
    audit.record(
        action="customer_authorization.issued",
        utility=account.utility,
        obj=authorization,
        actor=actor,
        to_state="issued",
        changes={"account_number": account.account_number},
    )
    return authorization, format_code(code)


def revoke_authorization(
    *, authorization: CustomerAuthorization, actor: User | None, now: datetime | None = None
) -> CustomerAuthorization:
    """Revoke an issued or redeemed authorization: the code no longer works, and the party
    that redeemed it must present a new one. Enrollments and applications it made stay."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = CustomerAuthorization.objects.select_for_update(of=("self",)).get(
            pk=authorization.pk
        )
        before = locked.state(now)
        if locked.revoked_at is not None:
            raise AuthorizationError("This authorization is already revoked.")
        locked.revoked_at = now
        locked.revoked_by = actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
        party = locked.redeemed_by
        audit.record(
            action="customer_authorization.revoked",
            utility=locked.utility,
            obj=locked,
            actor=actor,
            from_state=before,
            to_state="revoked",
            changes={"redeemed_by": str(party) if party else None},
        )
    return locked


# --- Partners and installers: the lookup ---------------------------------------------------


def has_authorization(*, account: ServiceAccount, party: LookupParty) -> bool:
    """Whether ``party`` redeemed a code of this account that has not been revoked."""
    return CustomerAuthorization.objects.filter(
        service_account=account, revoked_at__isnull=True, **party.redeemed_filter()
    ).exists()


def authorized_account(
    *,
    utility: Utility,
    account_number: str,
    zip_code: str,
    code: str,
    party: LookupParty,
    related: Callable[[ServiceAccount], bool] | None = None,
    now: datetime | None = None,
) -> ServiceAccount:
    """The account, if the number and ZIP match and ``party`` either presents a valid code
    of it (redeemed now) or is already related to it (an authorization it redeemed, or what
    ``related`` says, e.g. its vehicle is linked to the account). Raises
    ``LookupsThrottled`` while the party or its address has spent its failure budget, and
    ``AccountNotAuthorized`` for any mismatch, spending both budgets."""
    now = now or timezone.now()
    party_budget, address_budget = lookup_failure_budgets()
    spent = ((party_budget, party.identity), (address_budget, party.address))
    waits = [
        wait for budget, ident in spent if (wait := budget.retry_after(ident, now=now.timestamp()))
    ]
    if waits:
        _record_failure(
            utility=utility, party=party, account_number=account_number, blocked=True, now=now
        )
        raise LookupsThrottled(max(waits))

    account = ServiceAccount.objects.filter(
        utility=utility, account_number=account_number.strip(), zip_code=zip_code.strip()
    ).first()
    if account is not None:
        if has_authorization(account=account, party=party) or (related and related(account)):
            return account
        if code and _redeem(account=account, code=code, party=party, now=now):
            return account

    counts = [budget.spend(ident, now=now.timestamp()) for budget, ident in spent]
    _record_failure(
        utility=utility, party=party, account_number=account_number, blocked=False, now=now
    )
    logger.warning(
        "Customer lookup failed",
        extra={
            "utility": utility.slug,
            "party": party.identity,
            "address": party.address,
            "party_failures": counts[0],
            "address_failures": counts[1],
        },
    )
    if counts[0] == party_budget.limit or counts[1] == address_budget.limit:
        _alert(utility=utility, party=party, counts=counts, window=party_budget.window_seconds)
    raise AccountNotAuthorized()


def _redeem(*, account: ServiceAccount, code: str, party: LookupParty, now: datetime) -> bool:
    hashed = code_hash(utility_id=account.utility_id, code=code)
    with transaction.atomic():
        authorization = (
            CustomerAuthorization.objects.select_for_update(of=("self",))
            .filter(
                service_account=account,
                code_hash=hashed,
                redeemed_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
            )
            .first()
        )
        if authorization is None:
            return False
        for name, value in party.redeemed_filter().items():
            setattr(authorization, name, value)
        authorization.redeemed_at = now
        authorization.save(
            update_fields=["redeemed_at", "redeemed_by_partner", "redeemed_by_installer"]
        )
        audit.record(
            action="customer_authorization.redeemed",
            utility=account.utility,
            obj=authorization,
            from_state="issued",
            to_state="redeemed",
            changes={"account_number": account.account_number},
            **party.audit_actor,
        )
    return True


def _record_failure(
    *, utility: Utility, party: LookupParty, account_number: str, blocked: bool, now: datetime
) -> None:
    CustomerLookupFailure.objects.create(
        utility=utility,
        channel=party.channel,
        partner=party.partner,
        client_id=party.client_id,
        installer=party.installer,
        user=party.user,
        address=party.address if _is_ip(party.address) else None,
        account_number_tried=account_number.strip()[:32],
        blocked=blocked,
        at=now,
    )


def _alert(*, utility: Utility, party: LookupParty, counts: list[int], window: int) -> None:
    """The failure that spends a budget: an audit row the utility's auditors see, and an
    error-level log line for whoever watches the logs."""
    name = str(party.partner or party.installer)
    audit.record(
        action="customer_lookup.blocked",
        utility=utility,
        comment=f"Repeated failed customer lookups by {name}; further lookups are refused "
        f"for up to {window // 60} minutes.",
        changes={
            "party_failures": counts[0],
            "address_failures": counts[1],
            "address": party.address,
        },
        **party.audit_actor,
    )
    logger.error(
        "Customer lookups blocked after repeated failures",
        extra={"utility": utility.slug, "party": party.identity, "address": party.address},
    )


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
