"""Enrollment pages: the queue (filters, search, constant queries, bulk approve / override),
an enrollment's rules, consent, history and actions (stale pages and double submits are
harmless), staff enrollment, partner offboarding, and the customer timeline."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from devices.models import Vehicle
from enrollment import selectors, services
from enrollment.eligibility import Rule
from enrollment.models import Enrollment
from portal.models import AuditEvent, PartnerAgreement
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.isolation_cases import signed_in
from tests.enrollment.factories import EnrollmentFactory, ProgramFactory, TermsVersionFactory
from tests.enrollment.programs_support import eligible_vehicle, partner_with_agreement, submit

pytestmark = pytest.mark.django_db
Status = Enrollment.Status


@pytest.fixture
def analyst_client(client, utility_a):
    signed_in(client, Role.PROGRAM_ANALYST, utility_a)
    return client


@pytest.fixture
def program(utility_a):
    return ProgramFactory(utility=utility_a, name="Summer V2H", slug="summer-v2h")


def url(name: str, utility, *args) -> str:
    return reverse(f"utility:{name}", args=[utility.slug, *args])


def in_review(program) -> Enrollment:
    account = ServiceAccountFactory(utility=program.utility, zip_code="80202")
    return submit(program, eligible_vehicle(program.utility, account=account))


def status_of(enrollment) -> str:
    with scopes_disabled():
        return Enrollment.objects.get(pk=enrollment.pk).status


def audit_actions(enrollment) -> list[str]:
    with scopes_disabled():
        return list(
            AuditEvent.objects.filter(
                object_id=str(enrollment.pk), object_type="enrollment.enrollment"
            )
            .order_by("id")
            .values_list("action", flat=True)
        )


# --- The queue --------------------------------------------------------------------------------


def test_the_queue_filters_and_searches(analyst_client, utility_a, program):
    other_program = ProgramFactory(utility=utility_a, name="Winter V1G", kind="v1g")
    partner = partner_with_agreement(utility_a, name="Kestrel Auto")
    active = submit(program, eligible_vehicle(utility_a, partner=partner))
    review = in_review(program)
    elsewhere = submit(other_program, eligible_vehicle(utility_a))
    queue = url("enrollment_list", utility_a)

    def listed(**params) -> set[int]:
        response = analyst_client.get(queue, params)
        assert response.status_code == 200
        return {e.pk for e in response.context["enrollments"]}

    assert listed() == {active.pk, review.pk, elsewhere.pk}
    assert listed(status="eligibility_review") == {review.pk}
    assert listed(program=other_program.pk) == {elsewhere.pk}
    assert listed(partner=partner.pk) == {active.pk}
    assert listed(failed_rule=Rule.TERRITORY) == {review.pk}
    assert listed(failed_rule=Rule.SMART_METER) == set()
    assert listed(q=review.service_account.account_number) == {review.pk}
    assert listed(q=active.vehicle.vin.lower()) == {active.pk}
    assert listed(status="no-such-status") == set()  # shown as a form error, not a crash


def test_the_queue_runs_a_constant_number_of_queries(
    analyst_client, utility_a, program, django_assert_max_num_queries
):
    def create(count: int) -> None:
        for _ in range(count):
            EnrollmentFactory(program=program, failed_rules=[Rule.TERRITORY])

    create(5)
    with django_assert_max_num_queries(25) as five:
        assert analyst_client.get(url("enrollment_list", utility_a)).status_code == 200
    create(45)
    with django_assert_max_num_queries(25) as fifty:
        response = analyst_client.get(url("enrollment_list", utility_a))
    assert len(response.context["enrollments"]) == 50
    assert len(five.captured_queries) == len(fifty.captured_queries)


def test_bulk_approve_and_override_audit_each_enrollment(analyst_client, utility_a, program):
    fixable, failing = in_review(program), in_review(program)
    with scopes_disabled():
        fixable.service_account.zip_code = "94110"
        fixable.service_account.save()
    bulk = url("enrollment_bulk", utility_a)
    queue = url("enrollment_list", utility_a) + "?status=eligibility_review"

    response = analyst_client.post(
        bulk,
        {"action": "approve", "enrollments": [fixable.pk, failing.pk], "next": queue},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == queue
    texts = [str(m) for m in response.context["messages"]]
    assert "Approved 1 enrollment(s)." in texts
    assert any(f"#{failing.pk}" in t and "territory" in t for t in texts)
    assert (status_of(fixable), status_of(failing)) == (Status.ACTIVE, Status.ELIGIBILITY_REVIEW)

    no_reason = analyst_client.post(
        bulk, {"action": "override", "enrollments": [failing.pk]}, follow=True
    )
    assert "needs a reason" in " ".join(str(m) for m in no_reason.context["messages"])
    assert status_of(failing) == Status.ELIGIBILITY_REVIEW

    analyst_client.post(
        bulk, {"action": "override", "enrollments": [failing.pk], "reason": "Pilot area"}
    )
    assert status_of(failing) == Status.ACTIVE
    assert "enrollment.overridden" in audit_actions(failing)


def test_bulk_actions_ignore_another_utilitys_ids_and_foreign_redirects(
    analyst_client, utility_a, utility_b, program
):
    theirs = in_review(ProgramFactory(utility=utility_b))
    response = analyst_client.post(
        url("enrollment_bulk", utility_a),
        {
            "action": "override",
            "enrollments": [theirs.pk],
            "reason": "x",
            "next": "https://evil.test/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url("enrollment_list", utility_a)
    assert status_of(theirs) == Status.ELIGIBILITY_REVIEW


# --- One enrollment ---------------------------------------------------------------------------


def test_the_detail_page_shows_rules_consent_history_and_actions(
    analyst_client, utility_a, program
):
    enrollment = in_review(program)
    page = analyst_client.get(url("enrollment_detail", utility_a, enrollment.pk))
    body = page.content.decode()
    assert "Service territory" in body and "ZIP 80202 is outside the service territory." in body
    assert "enrollment.submitted" in body and "enrollment.evaluated" in body
    assert "telemetry" in body  # the consent's data sharing scope
    assert [name for name, _ in page.context["actions"]] == [
        "approve",
        "override",
        "withdraw",
        "end",
    ]


def test_an_action_needs_its_reason_and_then_is_done(analyst_client, utility_a, program):
    enrollment = in_review(program)
    action = url("enrollment_action", utility_a, enrollment.pk)
    form = {"action": "override", "expected_status": Status.ELIGIBILITY_REVIEW}

    missing = analyst_client.post(action, form)
    assert missing.status_code == 200
    assert "Give a reason" in missing.content.decode()
    assert status_of(enrollment) == Status.ELIGIBILITY_REVIEW

    done = analyst_client.post(action, {**form, "reason": "Pilot premise"}, follow=True)
    assert "now active" in " ".join(str(m) for m in done.context["messages"])
    assert status_of(enrollment) == Status.ACTIVE


def test_a_stale_page_or_a_double_submit_changes_nothing(analyst_client, utility_a, program):
    enrollment = submit(program, eligible_vehicle(utility_a))
    action = url("enrollment_action", utility_a, enrollment.pk)
    withdraw = {"action": "withdraw", "expected_status": Status.ACTIVE, "reason": "Customer call"}

    analyst_client.post(action, withdraw)
    again = analyst_client.post(action, withdraw, follow=True)

    assert again.status_code == 200
    assert "now “Withdrawn”. Nothing was done." in " ".join(
        str(m) for m in again.context["messages"]
    )
    assert audit_actions(enrollment).count("enrollment.withdrawn") == 1
    suspend = analyst_client.post(
        action,
        {"action": "suspend", "expected_status": Status.WITHDRAWN, "reason": "x"},
        follow=True,
    )
    assert suspend.status_code == 200
    assert "cannot become “Suspended”" in " ".join(str(m) for m in suspend.context["messages"])


def test_every_action_works_from_the_page(analyst_client, utility_a, program):
    enrollment = submit(program, eligible_vehicle(utility_a))
    action = url("enrollment_action", utility_a, enrollment.pk)
    steps = [
        ("suspend", Status.ACTIVE, Status.SUSPENDED),
        ("reinstate", Status.SUSPENDED, Status.ACTIVE),
        ("end", Status.ACTIVE, Status.ENDED),
    ]
    for name, expected, after in steps:
        analyst_client.post(action, {"action": name, "expected_status": expected, "reason": "Test"})
        assert status_of(enrollment) == after, name


def test_readers_see_no_actions_and_cannot_post_them(client, utility_a, program):
    enrollment = in_review(program)
    signed_in(client, Role.AUDITOR, utility_a)
    page = client.get(url("enrollment_detail", utility_a, enrollment.pk))
    assert page.context["actions"] == []
    refused = client.post(
        url("enrollment_action", utility_a, enrollment.pk),
        {"action": "override", "expected_status": Status.ELIGIBILITY_REVIEW, "reason": "x"},
    )
    assert refused.status_code == 403
    assert client.post(url("enrollment_bulk", utility_a), {}).status_code == 403


def test_staff_enroll_a_customer(analyst_client, utility_a, program):
    TermsVersionFactory(program=program, version="2026.1")
    vehicle = eligible_vehicle(utility_a)
    form = {
        "program": program.pk,
        "account_number": vehicle.service_account.account_number,
        "vin": vehicle.vin,
        "data_sharing_scope": ["telemetry", "charging_schedule"],
        "consent_confirmed": "on",
    }
    response = analyst_client.post(url("enrollment_create", utility_a), form)
    assert response.status_code == 302
    with scopes_disabled():
        enrollment = Enrollment.objects.get(vehicle=vehicle)
        consent = enrollment.consents.get()
    assert enrollment.channel == Enrollment.Channel.STAFF and enrollment.status == Status.ACTIVE
    assert consent.terms_version.version == "2026.1"
    assert consent.data_sharing_scope == ["charging_schedule", "telemetry"]

    again = analyst_client.post(url("enrollment_create", utility_a), form)
    assert again.status_code == 200
    assert "already has an open enrollment" in again.content.decode()

    unknown = analyst_client.post(
        url("enrollment_create", utility_a), {**form, "account_number": "nope", "vin": "X"}
    )
    assert {"account_number", "vin"} <= set(unknown.context["form"].errors)


def test_staff_enrollment_needs_terms_in_effect(analyst_client, utility_a, program):
    vehicle = eligible_vehicle(utility_a)
    response = analyst_client.post(
        url("enrollment_create", utility_a),
        {
            "program": program.pk,
            "account_number": vehicle.service_account.account_number,
            "vin": vehicle.vin,
            "consent_confirmed": "on",
        },
    )
    assert "no terms in effect" in response.content.decode()


# --- Offboarding --------------------------------------------------------------------------------


def test_the_offboarding_page_lists_and_offboards(analyst_client, utility_a, program):
    partner = partner_with_agreement(utility_a, name="Leaving Motors")
    active = submit(program, eligible_vehicle(utility_a, partner=partner))
    with scopes_disabled():
        agreement = PartnerAgreement.objects.get(utility=utility_a, partner=partner)
    page_url = url("enrollment_offboarding", utility_a)

    assert "Leaving Motors" not in analyst_client.get(page_url).content.decode()
    with scopes_disabled():
        PartnerAgreement.objects.filter(pk=agreement.pk).update(
            status=PartnerAgreement.Status.ENDED
        )
    page = analyst_client.get(page_url).content.decode()
    assert "Leaving Motors (ended): 1 open enrollment" in page

    unconfirmed = analyst_client.post(page_url, {"agreement": agreement.pk})
    assert unconfirmed.status_code == 200 and status_of(active) == Status.ACTIVE
    done = analyst_client.post(page_url, {"agreement": agreement.pk, "confirm": "on"}, follow=True)
    assert "suspended 1 active" in " ".join(str(m) for m in done.context["messages"])
    assert status_of(active) == Status.SUSPENDED
    assert f">{active.pk}</a>" in done.content.decode()


# --- The customer timeline --------------------------------------------------------------------


def test_the_customer_timeline_puts_everything_in_order(
    utility_a, program, django_assert_max_num_queries
):
    vehicle = eligible_vehicle(utility_a)
    enrollment = submit(program, vehicle)
    with scope(utility=utility_a.pk):
        services.withdraw(enrollment=enrollment, reason="Sold the truck")
        with django_assert_max_num_queries(6):
            timeline = selectors.customer_timeline(account=vehicle.service_account)
    kinds = [e.kind for e in timeline]
    assert {"vehicle", "enrollment", "consent"} <= set(kinds)
    assert [e.at for e in timeline] == sorted((e.at for e in timeline), reverse=True)
    assert timeline[0].title == "Summer V2H: withdrawn" and timeline[0].detail == "Sold the truck"

    request = RequestFactory().get("/")
    request.utility = utility_a
    html = render_to_string("customers/_timeline.html", {"timeline": timeline, "request": request})
    assert url("enrollment_detail", utility_a, enrollment.pk) in html
    with scopes_disabled():
        assert url("vehicle_detail", utility_a, Vehicle.objects.get(pk=vehicle.pk).pk) in html
