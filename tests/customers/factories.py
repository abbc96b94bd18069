"""Factories for customers' rows (service accounts), created with scopes disabled."""

from __future__ import annotations

import factory

from portal.customers.models import ServiceAccount
from tests.portal.factories import ScopelessFactory, UtilityFactory


class ServiceAccountFactory(ScopelessFactory):
    class Meta:
        model = ServiceAccount

    utility = factory.SubFactory(UtilityFactory)
    account_number = factory.Sequence(lambda n: f"{1000000000 + n}")
    customer_name = factory.Faker("name")
    premise_address = factory.Faker("street_address")
    city = "San Francisco"
    state = "CA"
    zip_code = "94110"
    meter_id = factory.Sequence(lambda n: f"M{500000 + n}")
    rate_class = ServiceAccount.RateClass.RESIDENTIAL_EV


def issue_code(account, actor=None) -> str:
    """A customer authorization code for ``account``, issued by the real service."""
    from django_scopes import scope

    from portal.customers.authorizations import issue_authorization

    with scope(utility=account.utility_id):
        return issue_authorization(account=account, actor=actor)[1]
