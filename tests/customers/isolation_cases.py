"""Tenant-isolation cases of the customer pages (see tests/portal/test_tenant_isolation.py)."""

from __future__ import annotations

from django.utils import timezone
from django_scopes import scope

from portal.customers.authorizations import issue_authorization
from portal.customers.models import CustomerLookupFailure
from tests.customers.factories import ServiceAccountFactory
from tests.isolation import Case, pk_kwargs


def _customer(utility):
    return ServiceAccountFactory(utility=utility, customer_name=f"{utility.name} Marker Customer")


def _authorization(utility):
    account = _customer(utility)
    with scope(utility=utility.pk):
        return issue_authorization(account=account, actor=None)[0]


def _lookup_failure(utility):
    with scope(utility=utility.pk):
        return CustomerLookupFailure.objects.create(
            utility=utility,
            channel=CustomerLookupFailure.Channel.PARTNER_API,
            account_number_tried=f"{utility.slug}-marker-tried",
            at=timezone.now(),
        )


CUSTOMER_CASES: dict[str, Case] = {
    "utility:customer_list": Case(make=_customer, marker=lambda c: c.customer_name),
    "utility:customer_detail": Case(
        make=_customer, kwargs=pk_kwargs, marker=lambda c: c.customer_name
    ),
    "utility:customer_authorization_issue": Case(make=_customer, kwargs=pk_kwargs, method="post"),
    "utility:customer_authorization_revoke": Case(
        make=_authorization,
        kwargs=lambda a: {"pk": a.service_account_id, "authorization_pk": a.pk},
        marker=lambda a: a.service_account.account_number,
    ),
    "utility:customer_lookup_failures": Case(
        make=_lookup_failure, marker=lambda f: f.account_number_tried
    ),
}
