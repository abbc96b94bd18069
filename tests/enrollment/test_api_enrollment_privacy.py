"""Finding 3 of the security review, on /api/v1/enrollments: enrolling at an account takes the
customer's authorization (or a vehicle already linked to that account with it), and the
answer never tells a partner the customer's medical need, income tier, rate class or meter."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from devices.models import Vehicle
from enrollment.eligibility import PARTNER_ACCOUNT_RULE
from enrollment.models import Program
from tests.customers.factories import ServiceAccountFactory, issue_code
from tests.enrollment.api_support import body, enroll
from tests.enrollment.programs_support import eligible_vehicle

pytestmark = pytest.mark.django_db


def unlinked(vehicle):
    with scopes_disabled():
        Vehicle.objects.filter(pk=vehicle.pk).update(service_account=None)
        vehicle.refresh_from_db()
    return vehicle


def test_it_needs_the_customers_code_to_enroll_an_unlinked_vehicle(
    api, program, utility_a, partner, assert_api_error
):
    vehicle = eligible_vehicle(utility_a, partner=partner)
    account = vehicle.service_account
    data = body(vehicle)
    unlinked(vehicle)

    assert_api_error(enroll(api, data, key="a"), 400, "account_not_verified")
    response = enroll(api, {**data, "authorization_code": issue_code(account)}, key="b")

    assert response.status_code == 201, response.json()
    assert response.json()["account_number"] == account.account_number


def test_it_refuses_enrolling_at_a_guessed_account(
    api, program, utility_a, partner, assert_api_error
):
    vehicle = eligible_vehicle(utility_a, partner=partner)
    guessed = ServiceAccountFactory(utility=utility_a, zip_code="94110")
    data = {**body(vehicle), "account_number": guessed.account_number, "zip_code": "94110"}
    assert_api_error(enroll(api, data), 400, "account_not_verified")


def test_a_retry_needs_no_new_code(api, program, utility_a, partner):
    vehicle = eligible_vehicle(utility_a, partner=partner)
    data = {**body(vehicle), "authorization_code": issue_code(vehicle.service_account)}
    unlinked(vehicle)
    first = enroll(api, data)
    again = enroll(api, data)  # the code is spent, but this is the same submission
    assert first.status_code == 201, first.json()
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


def test_it_never_tells_a_partner_the_customers_medical_income_rate_or_meter_details(
    api, program, utility_a, partner
):
    account = ServiceAccountFactory(
        utility=utility_a,
        zip_code="94110",
        medical_need=True,
        income_qualified=True,
        smart_meter=False,
        rate_class="small_commercial",
    )
    with scopes_disabled():
        Program.objects.filter(pk=program.pk).update(
            medical_need_policy=Program.MedicalNeedPolicy.EXCLUDE_FROM_PROGRAM,
            income_qualified_tier=True,
            eligible_rate_classes=["residential_ev"],
            require_smart_meter=True,
        )
    vehicle = eligible_vehicle(utility_a, partner=partner, account=account)

    response = enroll(api, body(vehicle))

    assert response.status_code == 201, response.json()
    data = response.json()
    text = response.content.decode().lower()
    for secret in ("medical", "income", "commercial", "smart meter", "rate class", "tier"):
        assert secret not in text, secret
    assert "income_qualified" not in data and "excluded_from_events" not in data
    assert data["status"] == "eligibility_review"
    assert data["failed_rules"] == [PARTNER_ACCOUNT_RULE]
    assert data["status_reason"] == f"Failed: {PARTNER_ACCOUNT_RULE}"
    account_rule = next(r for r in data["eligibility"] if r["rule"] == PARTNER_ACCOUNT_RULE)
    assert account_rule["passed"] is False
    # The same enrollment read back (and listed) says no more.
    listed = api.get("/api/v1/enrollments").content.decode().lower()
    assert "medical" not in listed and "income" not in listed
