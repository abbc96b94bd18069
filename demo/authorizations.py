"""Demo customer authorization codes: a few customers without a vehicle get a code, so the
partner API's vehicle link and enrollment, and an installer's new application, can be tried
with a code as a real customer would give it (``seed_demo`` prints them, once: only their
hashes are stored)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django_scopes import scope

from devices.models import Vehicle
from portal.customers.authorizations import issue_authorization
from portal.customers.models import CustomerAuthorization, ServiceAccount
from portal.models import Utility

CODES_PER_UTILITY = 3


@dataclass(frozen=True)
class DemoCode:
    utility: str
    account_number: str
    zip_code: str
    code: str


def ensure_demo_codes(*, utility: Utility) -> list[DemoCode]:
    """Codes for the first customers without a vehicle, unless they hold a usable one."""
    now = timezone.now()
    issued = []
    with scope(utility=utility.pk):
        with_vehicle = Vehicle.objects.filter(service_account__isnull=False).values(
            "service_account_id"
        )
        accounts = ServiceAccount.objects.exclude(pk__in=with_vehicle).order_by("account_number")[
            :CODES_PER_UTILITY
        ]
        for account in accounts:
            usable = CustomerAuthorization.objects.filter(
                service_account=account,
                redeemed_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=now,
            )
            if usable.exists():
                continue
            _, code = issue_authorization(account=account, actor=None, now=now)
            issued.append(DemoCode(utility.slug, account.account_number, account.zip_code, code))
    return issued
