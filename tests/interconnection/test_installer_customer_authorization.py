"""Finding 3 of the security review, for installers: opening an application for a customer
takes the customer's authorization code, unless the company already has an application for
that account; failed lookups are throttled."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from enrollment.interconnection.models import InterconnectionApplication
from portal.customers.models import CustomerLookupFailure
from tests.customers.factories import issue_code
from tests.interconnection.factories import draft, make_site

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(utility_a):
    return make_site(utility_a, label="Mine")


def new_application(client, site, **fields):
    url = reverse("installer_interconnection_new", args=[site.installer.slug])
    data = {
        "utility": site.utility.pk,
        "account_number": site.account.account_number,
        "zip_code": site.account.zip_code,
        "configuration": "v2g",
        **fields,
    }
    return client.post(url, data)


def applications(site):
    with scopes_disabled():
        return InterconnectionApplication.objects.filter(
            installer=site.installer, service_account=site.account
        ).count()


def test_account_number_and_zip_alone_open_nothing(client, site):
    client.force_login(site.installer_user)
    response = new_application(client, site)

    assert response.status_code == 200
    assert "customer authorization code do not match" in response.content.decode()
    assert applications(site) == 0
    assert site.account.customer_name not in response.content.decode()
    with scopes_disabled():
        failure = CustomerLookupFailure.objects.get()
    assert failure.installer == site.installer and failure.user == site.installer_user


def test_the_customers_code_opens_a_draft(client, site):
    client.force_login(site.installer_user)
    response = new_application(client, site, authorization_code=issue_code(site.account))
    assert response.status_code == 302
    assert applications(site) == 1


def test_a_company_with_an_application_for_the_account_needs_no_new_code(client, site):
    draft(site)
    client.force_login(site.installer_user)
    assert new_application(client, site).status_code == 302
    assert applications(site) == 2


def test_repeated_failures_are_refused_for_a_while(client, site, settings):
    settings.CUSTOMER_LOOKUP_FAILURES = {"per_party": 2, "per_address": 50, "window_seconds": 86400}
    client.force_login(site.installer_user)
    for _ in range(2):
        assert new_application(client, site, authorization_code="WRONG-WRONG").status_code == 200
    response = new_application(client, site, authorization_code=issue_code(site.account))
    assert response.status_code == 429
    assert "Too many failed customer lookups" in response.content.decode()
    assert applications(site) == 0
