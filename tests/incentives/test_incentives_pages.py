"""The incentive pages: the approval queue with its filters, decisions (and stale ones),
applications for a customer, disputes, the budget dashboard, the ledger and the offers —
each for the roles its capability allows (403 otherwise), lists in a fixed number of queries."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.incentives import services
from enrollment.incentives.models import Dispute, Incentive, IncentiveOffer, LedgerEntry
from portal.models import AuditEvent
from portal.roles import Role
from tests.devices.isolation_cases import signed_in
from tests.incentives.support import (
    apply_rebate,
    approve,
    bonus_offer,
    funded_program,
    media_root,  # noqa: F401 - fixture
    participant,
    rebate_offer,
    reload,
    upload,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def url(name, utility, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


def body(response) -> str:
    return response.content.decode()


@pytest.fixture
def program(utility_a):
    return funded_program(utility_a, name="Alpha V2H Pilot", budget="10000.00")


@pytest.fixture
def rebate(program):
    enrollment = participant(program, customer_name="Rosa Diaz")
    return apply_rebate(rebate_offer(program, name="Charger rebate"), enrollment, total="800.00")


# --- Queue ----------------------------------------------------------------------------------


def test_it_lists_the_queue_with_filters(client, utility_a, program, rebate):
    other = funded_program(utility_a, name="Alpha Managed Charging")
    bonus_offer(other)
    with scope(utility=utility_a.pk):
        services.award_enrollment_bonus(
            program=other, enrollment=participant(other, customer_name="Sam Wu")
        )
    signed_in(client, Role.PROGRAM_ANALYST, utility_a)

    everything = body(client.get(url("incentive_list", utility_a)))
    waiting = body(client.get(url("incentive_list", utility_a), {"status": "submitted"}))
    by_program = body(client.get(url("incentive_list", utility_a), {"program": other.pk}))
    by_type = body(client.get(url("incentive_list", utility_a), {"kind": "charger_rebate"}))
    by_name = body(client.get(url("incentive_list", utility_a), {"q": "rosa"}))
    bad = client.get(url("incentive_list", utility_a), {"status": "nonsense"})

    assert "Rosa Diaz" in everything and "Sam Wu" in everything
    assert "Rosa Diaz" in waiting and "Sam Wu" not in waiting
    assert "Sam Wu" in by_program and "Rosa Diaz" not in by_program
    assert "Rosa Diaz" in by_type and "Sam Wu" not in by_type
    assert "Rosa Diaz" in by_name and "Sam Wu" not in by_name
    assert bad.status_code == 200 and "No incentives match these filters." in body(bad)


def test_it_lists_the_queue_in_a_fixed_number_of_queries(
    client, utility_a, program, django_assert_max_num_queries
):
    offer = rebate_offer(program)
    apply_rebate(offer, participant(program))
    signed_in(client, Role.PROGRAM_ANALYST, utility_a)
    with django_assert_max_num_queries(20) as few:
        client.get(url("incentive_list", utility_a), {"program": program.pk})
    for _ in range(8):
        approve(apply_rebate(offer, participant(program)))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url("incentive_list", utility_a), {"program": program.pk})
    assert body(response).count("<tr>") == 10  # the header and nine rows


def test_it_shows_an_incentive_with_its_calculation_and_ledger(client, utility_a, rebate):
    approve(rebate)
    signed_in(client, Role.AUDITOR, utility_a)
    page = body(client.get(url("incentive_detail", utility_a, rebate.pk)))

    assert "Standard rebate: $300.00." in page
    assert "Rosa Diaz" in page and "Reserved" in page
    assert url("incentive_document", utility_a, rebate.invoice_id) in page
    assert "incentive.approved" in page  # history, for those who may read the audit trail
    assert url("incentive_approve", utility_a, rebate.pk) not in page


# --- Decisions ------------------------------------------------------------------------------


def test_it_approves_from_the_page_and_a_double_click_is_harmless(client, utility_a, rebate):
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    detail = body(client.get(url("incentive_detail", utility_a, rebate.pk)))
    confirm = body(client.get(url("incentive_approve", utility_a, rebate.pk)))
    first = client.post(url("incentive_approve", utility_a, rebate.pk), follow=True)
    second = client.post(url("incentive_approve", utility_a, rebate.pk), follow=True)

    assert url("incentive_approve", utility_a, rebate.pk) in detail
    assert "which has $10,000.00 left" in confirm
    assert f"Incentive #{rebate.pk} approved; $300.00 reserved." in body(first)
    assert "was already approved by" in body(second) and "Nothing was changed." in body(second)
    with scopes_disabled():
        assert LedgerEntry.objects.filter(incentive=rebate).count() == 1


def test_it_says_when_an_approval_became_a_waitlisting(client, utility_a, program, rebate):
    with scopes_disabled():
        type(program).objects.filter(pk=program.pk).update(budget_total=D("100.00"))
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    response = client.post(url("incentive_approve", utility_a, rebate.pk), follow=True)
    assert "was waitlisted, not approved" in body(response)
    assert reload(rebate).status == Incentive.Status.WAITLISTED


def test_it_rejects_with_a_reason_and_only_with_one(client, utility_a, rebate):
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    empty = client.post(url("incentive_reject", utility_a, rebate.pk), {"reason": ""})
    done = client.post(
        url("incentive_reject", utility_a, rebate.pk),
        {"reason": "Charger not on the list"},
        follow=True,
    )

    assert empty.status_code == 200 and "This field is required." in body(empty)
    assert f"Incentive #{rebate.pk} rejected." in body(done)
    rejected = reload(rebate)
    assert (rejected.status, rejected.decision_reason) == ("rejected", "Charger not on the list")
    with scopes_disabled():
        assert (
            AuditEvent.objects.get(action="incentive.rejected").comment == "Charger not on the list"
        )


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.PROGRAM_ANALYST, Role.AUDITOR])
def test_it_keeps_decisions_to_approvers(client, utility_a, rebate, role):
    signed_in(client, role, utility_a)
    assert client.get(url("incentive_detail", utility_a, rebate.pk)).status_code == 200
    for name in ("incentive_approve", "incentive_reject", "dispute_create"):
        assert client.get(url(name, utility_a, rebate.pk)).status_code == 403
        assert client.post(url(name, utility_a, rebate.pk), {"reason": "x"}).status_code == 403
    assert reload(rebate).status == Incentive.Status.SUBMITTED


def test_it_keeps_incentives_from_roles_without_them(client, utility_a, rebate):
    signed_in(client, Role.DR_OPERATOR, utility_a)
    for name, args in [
        ("incentive_list", []),
        ("incentive_detail", [rebate.pk]),
        ("budget_dashboard", []),
        ("ledger", []),
    ]:
        assert client.get(url(name, utility_a, *args)).status_code == 403


# --- Applications ---------------------------------------------------------------------------


def test_it_takes_a_rebate_application_for_a_customer(client, utility_a, program):
    offer = rebate_offer(program, name="Charger rebate", payout_channel="off_bill")
    enrollment = participant(program, income_qualified=True)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    choose = body(client.get(url("incentive_create", utility_a)))
    form = body(client.get(url("incentive_create", utility_a), {"offer": offer.pk}))
    response = client.post(
        url("incentive_create", utility_a) + f"?offer={offer.pk}",
        {
            "account_number": enrollment.service_account.account_number,
            "invoice_total": "450.00",
            "invoice": upload("receipt.jpg", b"\xff\xd8\xff\xe0" + b"0" * 64),
            "payout_method": "egift",
            "egift_email": "rosa@example.test",
        },
    )

    assert (
        "Charger rebate" in choose and 'name="invoice"' in form and 'name="event_ref"' not in form
    )
    with scopes_disabled():
        incentive = Incentive.objects.get(enrollment=enrollment)
        assert enrollment.service_account.payout_preference.method == "egift"
    assert response["Location"] == url("incentive_detail", utility_a, incentive.pk)
    assert (incentive.amount, incentive.status) == (D("450.00"), "submitted")
    assert incentive.invoice.content_type == "image/jpeg"


def test_it_asks_which_vehicle_when_the_customer_has_several(client, utility_a, program):
    offer = bonus_offer(program)
    first = participant(program)
    participant(program, account=first.service_account)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    target = url("incentive_create", utility_a) + f"?offer={offer.pk}"
    unsure = client.post(target, {"account_number": first.service_account.account_number})
    sure = client.post(
        target, {"account_number": first.service_account.account_number, "vin": first.vehicle.vin}
    )
    unknown = client.post(target, {"account_number": "0000000000"})

    assert "several vehicles in the program" in body(unsure)
    assert sure.status_code == 302
    assert "No enrollment in Alpha V2H Pilot for this account." in body(unknown)


def test_it_refuses_an_offer_of_another_utility(client, utility_a, utility_b):
    theirs = rebate_offer(funded_program(utility_b))
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    assert client.get(url("incentive_create", utility_a), {"offer": theirs.pk}).status_code == 404


# --- Disputes -------------------------------------------------------------------------------


def test_it_records_and_upholds_a_dispute_with_reversing_entries(
    client, utility_a, program, rebate
):
    approve(rebate)
    user = signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)

    opened = client.post(
        url("dispute_create", utility_a, rebate.pk),
        {
            "description": "I am income-qualified",
            "claimed_amount": "600.00",
            "evidence": upload("letter.pdf"),
        },
    )
    with scopes_disabled():
        dispute = Dispute.objects.get(incentive=rebate)
    twice = client.post(
        url("dispute_create", utility_a, rebate.pk), {"description": "Again"}, follow=True
    )
    no_amount = client.post(
        url("dispute_resolve", utility_a, dispute.pk), {"outcome": "upheld", "note": "ok"}
    )
    resolved = client.post(
        url("dispute_resolve", utility_a, dispute.pk),
        {"outcome": "upheld", "corrected_amount": "600.00", "note": "Verified CARE enrollment"},
        follow=True,
    )
    stale = client.post(
        url("dispute_resolve", utility_a, dispute.pk),
        {"outcome": "denied", "note": "No"},
        follow=True,
    )

    assert opened["Location"] == url("dispute_detail", utility_a, dispute.pk)
    assert f"Dispute #{dispute.pk} about this incentive is still open" in body(twice)
    assert "Enter the corrected amount to uphold." in body(no_amount)
    assert f"Dispute #{dispute.pk} upheld." in body(resolved)
    assert f"was already upheld by {user.email}" in body(stale)
    with scopes_disabled():
        entries = list(LedgerEntry.objects.filter(incentive=rebate).order_by("id"))
        event = AuditEvent.objects.get(action="dispute.upheld")
    assert [(e.kind, e.amount) for e in entries] == [
        ("reserve", D("300.00")),
        ("reversal", D("-300.00")),
        ("reserve", D("600.00")),
    ]
    assert entries[1].reverses_id == entries[0].pk
    assert reload(rebate).amount == D("600.00")
    assert event.changes["amount"] == {"from": "300.00", "to": "600.00"}
    assert reload(dispute).evidence.content_type == "application/pdf"


def test_it_adds_only_the_difference_when_part_is_already_paid(utility_a, program):
    bonus_offer(program, amount=D("100.00"))
    with scope(utility=utility_a.pk):
        bonus = services.award_enrollment_bonus(program=program, enrollment=participant(program))
        batch = services.create_payout_batch(
            program_id=program.pk, channel="bill_credit", actor=None
        )
        services.export_payout_file(batch_id=batch.pk, method="bill_credit", actor=None)
        services.mark_batch_paid(batch_id=batch.pk, actor=None)
        dispute = services.open_dispute(
            incentive_id=bonus.pk,
            description="Promised $150",
            claimed_amount=None,
            evidence=None,
            actor=None,
        )
        with pytest.raises(services.LedgerConflict, match="paid or in a payout batch already"):
            services.resolve_dispute(
                dispute_id=dispute.pk, upheld=True, note="x", corrected_amount=D("50"), actor=None
            )
        services.resolve_dispute(
            dispute_id=dispute.pk,
            upheld=True,
            note="Flyer said $150",
            corrected_amount=D("150"),
            actor=None,
        )
        entries = list(
            LedgerEntry.objects.filter(incentive=bonus).order_by("id").values_list("kind", "amount")
        )
    assert entries == [("reserve", D("100.00")), ("payout", D("100.00")), ("reserve", D("50.00"))]


def test_it_denies_a_dispute_with_a_note_and_no_ledger_change(client, utility_a, rebate):
    approve(rebate)
    with scope(utility=utility_a.pk):
        dispute = services.open_dispute(
            incentive_id=rebate.pk,
            description="Want more",
            claimed_amount=None,
            evidence=None,
            actor=None,
        )
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    client.post(
        url("dispute_resolve", utility_a, dispute.pk),
        {"outcome": "denied", "note": "Invoice shows $300 cap"},
    )

    assert reload(dispute).status == Dispute.Status.DENIED
    with scopes_disabled():
        assert LedgerEntry.objects.filter(incentive=rebate).count() == 1
    listing = client.get(url("dispute_list", utility_a), {"status": "denied"})
    assert "Want more" in body(listing)


def test_it_refuses_a_dispute_of_an_amount_not_approved(client, utility_a, rebate):
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    response = client.post(url("dispute_create", utility_a, rebate.pk), {"description": "Too low"})
    assert "Only approved amounts can be disputed" in body(response)


# --- Budget dashboard and ledger ------------------------------------------------------------


def test_it_draws_each_programs_budget_with_a_table_fallback(client, utility_a, program, rebate):
    approve(rebate)
    funded_program(utility_a, name="Alpha Empty Program", budget="0.00")
    signed_in(client, Role.AUDITOR, utility_a)
    page = body(client.get(url("budget_dashboard", utility_a)))

    assert page.count('role="img"') == 2
    assert '<title id="budget-title-' in page and "Incentive budget of Alpha V2H Pilot" in page
    assert (
        "Budget $10,000.00: $300.00 reserved by approvals, $0.00 paid, $9,700.00 remaining." in page
    )
    assert '<th scope="row">Remaining</th><td class="money">$9,700.00</td>' in page
    assert "<script" not in page


def test_it_filters_and_exports_the_ledger(client, utility_a, program, rebate):
    approve(rebate)
    bonus_offer(program)
    with scope(utility=utility_a.pk):
        bonus = services.award_enrollment_bonus(
            program=program, enrollment=participant(program, customer_name="Lee Ng")
        )
    signed_in(client, Role.AUDITOR, utility_a)

    page = body(client.get(url("ledger", utility_a), {"incentive": rebate.pk}))
    export = client.get(url("ledger_export", utility_a), {"program": program.pk})
    rows = b"".join(export.streaming_content).decode().splitlines()

    assert "Rosa Diaz" in page and "Lee Ng" not in page
    assert rows[0].startswith("entry,time_utc,program,kind,amount,incentive,")
    assert len(rows) == 3
    assert f",Alpha V2H Pilot,reserve,100.00,{bonus.pk},Enrollment bonus," in rows[2]


def test_it_lists_the_ledger_in_a_fixed_number_of_queries(
    client, utility_a, program, django_assert_max_num_queries
):
    bonus_offer(program)
    signed_in(client, Role.AUDITOR, utility_a)
    with scope(utility=utility_a.pk):
        services.award_enrollment_bonus(program=program, enrollment=participant(program))
    with django_assert_max_num_queries(20) as few:
        client.get(url("ledger", utility_a))
    with scope(utility=utility_a.pk):
        for _ in range(6):
            services.award_enrollment_bonus(program=program, enrollment=participant(program))
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url("ledger", utility_a))


# --- Offers ---------------------------------------------------------------------------------


def test_it_lets_program_admins_set_up_offers_with_the_numbers_their_type_needs(
    client, utility_a, program
):
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    target = url("incentive_offer_create", utility_a)
    base = {
        "program": program.pk,
        "name": "Event pay",
        "reason_code": "EVPERF",
        "payout_channel": "bill_credit",
        "active": "on",
    }

    missing = client.post(target, {**base, "kind": "event_performance"})
    extra = client.post(
        target, {**base, "kind": "event_performance", "rate_per_kwh": "2", "amount": "5"}
    )
    created = client.post(
        target, {**base, "kind": "event_performance", "rate_per_kwh": "2", "season_cap": "1000"}
    )
    duplicate = client.post(
        target, {**base, "name": "Other", "kind": "event_performance", "rate_per_kwh": "1"}
    )

    assert "Required for this type of incentive." in body(missing)
    assert "Leave empty: this type of incentive does not use it." in body(extra)
    assert created.status_code == 302
    assert "already has an active event performance" in body(duplicate)
    with scopes_disabled():
        offer = IncentiveOffer.objects.get(program=program)
        assert AuditEvent.objects.filter(
            action="incentive_offer.created", object_id=str(offer.pk)
        ).exists()
    assert (offer.rate_per_kwh, offer.season_cap) == (D("2.0000"), D("1000.00"))


def test_it_lets_others_read_the_offers_but_not_change_them(client, utility_a, program):
    offer = rebate_offer(program, name="Charger rebate")
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    assert "Charger rebate" in body(client.get(url("incentive_offer_list", utility_a)))
    assert client.get(url("incentive_offer_edit", utility_a, offer.pk)).status_code == 403


def test_it_audits_what_an_offer_edit_changed(client, utility_a, program):
    offer = rebate_offer(program, name="Charger rebate")
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    response = client.post(
        url("incentive_offer_edit", utility_a, offer.pk),
        {
            "program": program.pk,
            "kind": "charger_rebate",
            "name": "Charger rebate",
            "reason_code": "EVREBATE",
            "payout_channel": "bill_credit",
            "amount": "350.00",
            "income_qualified_amount": "600.00",
            "requires_review": "on",
            "active": "on",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        event = AuditEvent.objects.get(action="incentive_offer.updated")
    assert event.changes == {"amount": {"from": "300.00", "to": "350.00"}}


def test_it_lists_disputes_in_a_fixed_number_of_queries(
    client, utility_a, program, django_assert_max_num_queries
):
    bonus_offer(program)
    signed_in(client, Role.AUDITOR, utility_a)

    def disputed():
        with scope(utility=utility_a.pk):
            bonus = services.award_enrollment_bonus(
                program=program, enrollment=participant(program)
            )
            services.open_dispute(
                incentive_id=bonus.pk,
                description="Late",
                claimed_amount=None,
                evidence=None,
                actor=None,
            )

    disputed()
    with django_assert_max_num_queries(20) as few:
        client.get(url("dispute_list", utility_a))
    for _ in range(5):
        disputed()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert body(client.get(url("dispute_list", utility_a))).count("Late") == 6
