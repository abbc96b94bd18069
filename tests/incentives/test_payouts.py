"""Payout batches: approved, unpaid amounts of one program and channel go into a batch once;
the bill-credit file (account, amount, reason code) and the off-bill files (one per method:
check, ACH, e-gift) are the same bytes on every export; marking a batch paid writes the
payouts to the ledger. Each step is audited."""

from __future__ import annotations

import hashlib
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.incentives import selectors, services
from enrollment.incentives.models import Incentive, LedgerEntry, PayoutBatch, PayoutItem
from portal.models import AuditEvent
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.isolation_cases import signed_in
from tests.incentives.support import (
    apply_rebate,
    bonus_offer,
    funded_program,
    media_root,  # noqa: F401 - fixture
    participant,
    rebate_offer,
    reload,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def customer(utility, number, name, **fields):
    return ServiceAccountFactory(
        utility=utility,
        account_number=number,
        customer_name=name,
        premise_address=fields.pop("address", "1 Main St"),
        city="Riverside",
        state="CA",
        zip_code="92501",
        **fields,
    )


def bonus_for(program, account):
    with scope(utility=program.utility_id):
        return services.award_enrollment_bonus(
            program=program, enrollment=participant(program, account=account)
        )


def entry_of(incentive):
    with scopes_disabled():
        return LedgerEntry.objects.get(incentive=incentive, kind="reserve")


def make_batch(program, channel="bill_credit"):
    with scope(utility=program.utility_id):
        return services.create_payout_batch(program_id=program.pk, channel=channel, actor=None)


def export(batch, method):
    with scope(utility=batch.utility_id):
        return services.export_payout_file(batch_id=batch.pk, method=method, actor=None)


@pytest.fixture
def program(utility_a):
    program = funded_program(utility_a, budget="5000.00")
    bonus_offer(program, amount=D("150.00"), reason_code="EVBONUS")
    return program


# --- Bill credits ---------------------------------------------------------------------------


def test_it_batches_only_approved_unpaid_bill_credits_and_writes_their_file(utility_a, program):
    ana = bonus_for(program, customer(utility_a, "2000000001", "Ana Ortiz"))
    ben = bonus_for(program, customer(utility_a, "2000000002", "Ben Li"))
    waiting = apply_rebate(rebate_offer(program), participant(program))  # not approved yet
    cancelled = bonus_for(program, customer(utility_a, "2000000003", "Cy Park"))
    with scope(utility=utility_a.pk):
        services.reverse_entry(entry_id=entry_of(cancelled).pk, reason="Duplicate", actor=None)

    batch = make_batch(program)
    name, content = export(batch, "bill_credit")

    assert (batch.item_count, batch.total_amount) == (2, D("300.00"))
    assert waiting.status == Incentive.Status.SUBMITTED
    assert name == f"alpha-payout-batch-{batch.pk}-bill_credit.csv"
    assert (
        content
        == (
            "account_number,amount,reason_code,reference\r\n"
            f"2000000001,150.00,EVBONUS,INC{ana.pk}-L{entry_of(ana).pk}\r\n"
            f"2000000002,150.00,EVBONUS,INC{ben.pk}-L{entry_of(ben).pk}\r\n"
        ).encode()
    )


def test_it_never_puts_an_amount_in_two_batches(utility_a, program):
    incentive = bonus_for(program, customer(utility_a, "2000000001", "Ana Ortiz"))
    first = make_batch(program)

    with pytest.raises(services.NothingToPay, match="no approved, unpaid bill credit amounts"):
        make_batch(program)
    later = bonus_for(program, customer(utility_a, "2000000002", "Ben Li"))
    second = make_batch(program)

    with scopes_disabled():
        assert [i.incentive_id for i in PayoutItem.objects.filter(batch=first)] == [incentive.pk]
        assert [i.incentive_id for i in PayoutItem.objects.filter(batch=second)] == [later.pk]
        # And the database says so too, whatever the code does.
        with pytest.raises(IntegrityError), transaction.atomic():
            PayoutItem.objects.create(
                utility=utility_a,
                batch=second,
                entry=entry_of(incentive),
                incentive=incentive,
                amount=D("150.00"),
                method="bill_credit",
                account_number="2000000001",
                payee_name="Ana Ortiz",
                reason_code="EVBONUS",
            )


def test_it_gives_the_same_file_on_every_export_and_audits_each(utility_a, program):
    account = customer(utility_a, "2000000001", "Ana Ortiz")
    bonus_for(program, account)
    batch = make_batch(program)
    _, first = export(batch, "bill_credit")
    # Changing the customer afterwards does not change the batch's file.
    with scopes_disabled():
        type(account).objects.filter(pk=account.pk).update(account_number="9999999999")
    _, second = export(batch, "bill_credit")

    assert first == second
    assert reload(batch).status == PayoutBatch.Status.EXPORTED
    with scopes_disabled():
        rows = AuditEvent.objects.filter(action="payout_batch.exported", object_id=str(batch.pk))
        assert [r.changes["sha256"] for r in rows] == [hashlib.sha256(first).hexdigest()] * 2
        assert rows.order_by("id")[0].from_state == "ready"


# --- Off-bill -------------------------------------------------------------------------------


def test_it_groups_off_bill_payments_by_the_customers_method(utility_a):
    program = funded_program(utility_a, budget="5000.00")
    bonus_offer(program, amount=D("75.00"), payout_channel="off_bill", reason_code="EVBONUS")
    check = customer(utility_a, "3000000001", "Dee Check", address="9 Elm St")
    ach = customer(utility_a, "3000000002", "Eve Bank")
    gift = customer(utility_a, "3000000003", "Fay Gift")
    with scope(utility=utility_a.pk):
        services.set_payout_preference(
            service_account=ach, method="ach", ach_reference="ba_1NvX9Lk2", actor=None
        )
        services.set_payout_preference(
            service_account=gift, method="egift", egift_email="Fay@Example.test", actor=None
        )
    incentives = {a.customer_name: bonus_for(program, a) for a in (check, ach, gift)}

    batch = make_batch(program, channel="off_bill")
    files = {m: export(batch, m)[1].decode() for m in ("check", "ach", "egift")}
    with scope(utility=utility_a.pk):
        methods = {row["method"]: row["n"] for row in selectors.batch_methods(batch=batch)}
        with pytest.raises(services.InvalidInput):
            export(batch, "bill_credit")

    def ref(name):
        return f"INC{incentives[name].pk}-L{entry_of(incentives[name]).pk}"

    assert methods == {"check": 1, "ach": 1, "egift": 1}
    assert files["check"] == (
        "reference,payee_name,mailing_address,city,state,zip_code,amount,account_number,reason_code\r\n"
        f"{ref('Dee Check')},Dee Check,9 Elm St,Riverside,CA,92501,75.00,3000000001,EVBONUS\r\n"
    )
    assert files["ach"] == (
        "reference,payee_name,ach_reference,amount,account_number,reason_code\r\n"
        f"{ref('Eve Bank')},Eve Bank,ba_1NvX9Lk2,75.00,3000000002,EVBONUS\r\n"
    )
    assert files["egift"] == (
        "reference,payee_name,egift_email,amount,account_number,reason_code\r\n"
        f"{ref('Fay Gift')},Fay Gift,fay@example.test,75.00,3000000003,EVBONUS\r\n"
    )


@pytest.mark.parametrize("number", ["123456789", "021000021 000123456789", "  98765432  "])
def test_it_refuses_to_store_a_bank_account_number(utility_a, number):
    with pytest.raises(services.InvalidInput, match="never stored"), scope(utility=utility_a.pk):
        services.set_payout_preference(
            service_account=customer(utility_a, "3000000009", "Gus"),
            method="ach",
            ach_reference=number,
            actor=None,
        )


# --- Paid -----------------------------------------------------------------------------------


def test_it_writes_a_payout_entry_per_payment_when_the_batch_is_paid(utility_a, program):
    a = bonus_for(program, customer(utility_a, "2000000001", "Ana Ortiz"))
    b = bonus_for(program, customer(utility_a, "2000000002", "Ben Li"))
    batch = make_batch(program)
    with pytest.raises(services.BatchNotReady), scope(utility=utility_a.pk):
        services.mark_batch_paid(batch_id=batch.pk, actor=None)
    export(batch, "bill_credit")

    with scope(utility=utility_a.pk):
        services.mark_batch_paid(batch_id=batch.pk, actor=None)
        with pytest.raises(services.AlreadyDecided, match="already marked paid"):
            services.mark_batch_paid(batch_id=batch.pk, actor=None)
        payouts = list(LedgerEntry.objects.filter(kind="payout").order_by("id"))
        budget = selectors.budget(program=program)

    assert [(p.incentive_id, p.amount, p.settles_id, p.payout_batch_id) for p in payouts] == [
        (a.pk, D("150.00"), entry_of(a).pk, batch.pk),
        (b.pk, D("150.00"), entry_of(b).pk, batch.pk),
    ]
    assert (budget.reserved, budget.paid, budget.remaining) == (
        D("0.00"),
        D("300.00"),
        D("4700.00"),
    )
    assert reload(batch).status == PayoutBatch.Status.PAID
    with scopes_disabled():
        assert (
            AuditEvent.objects.filter(
                action__startswith="payout_batch.", object_id=str(batch.pk)
            ).count()
            == 3
        )  # created, exported, paid


# --- Pages ----------------------------------------------------------------------------------


def url(name, utility, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


def test_it_lets_settlement_analysts_run_a_batch_through_the_pages(client, utility_a, program):
    bonus_for(program, customer(utility_a, "2000000001", "Ana Ortiz"))
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)

    listing = client.get(url("payout_batch_list", utility_a)).content.decode()
    created = client.post(
        url("payout_batch_create", utility_a), {"program": program.pk, "channel": "bill_credit"}
    )
    with scopes_disabled():
        batch = PayoutBatch.objects.get(program=program)
    downloaded = client.post(url("payout_batch_export", utility_a, batch.pk, "bill_credit"))
    paid = client.post(url("payout_batch_mark_paid", utility_a, batch.pk), follow=True)
    again = client.post(url("payout_batch_mark_paid", utility_a, batch.pk), follow=True)

    assert "Make a batch" in listing
    assert created.status_code == 302 and created["Location"] == url(
        "payout_batch_detail", utility_a, batch.pk
    )
    assert downloaded["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        downloaded["Content-Disposition"]
        == f'attachment; filename="alpha-payout-batch-{batch.pk}-bill_credit.csv"'
    )
    assert downloaded.content.startswith(
        b"account_number,amount,reason_code,reference\r\n2000000001,150.00,EVBONUS,"
    )
    assert f"Payout batch #{batch.pk} marked paid." in paid.content.decode()
    assert "already marked paid" in again.content.decode()


def test_it_says_clearly_when_there_is_nothing_to_pay(client, utility_a, program):
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    response = client.post(
        url("payout_batch_create", utility_a), {"program": program.pk, "channel": "off_bill"}
    )
    assert response.status_code == 200
    assert "has no approved, unpaid off-bill amounts to pay" in response.content.decode()


def test_it_keeps_payout_actions_to_settlement(client, utility_a, program):
    bonus_for(program, customer(utility_a, "2000000001", "Ana Ortiz"))
    batch = make_batch(program)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    assert client.get(url("payout_batch_detail", utility_a, batch.pk)).status_code == 200
    assert client.get(url("payout_batch_create", utility_a)).status_code == 403
    assert (
        client.post(url("payout_batch_export", utility_a, batch.pk, "bill_credit")).status_code
        == 403
    )
    assert client.post(url("payout_batch_mark_paid", utility_a, batch.pk)).status_code == 403
    assert reload(batch).status == PayoutBatch.Status.READY


def test_it_answers_404_for_a_method_the_batch_does_not_have(client, utility_a, program):
    bonus_for(program, customer(utility_a, "2000000001", "Ana Ortiz"))
    batch = make_batch(program)
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    assert client.post(url("payout_batch_export", utility_a, batch.pk, "check")).status_code == 404
    assert client.post(url("payout_batch_export", utility_a, batch.pk, "cash")).status_code == 404


def test_it_lists_batches_in_a_fixed_number_of_queries(
    client, utility_a, django_assert_max_num_queries
):
    signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    for _ in range(3):
        program = funded_program(utility_a)
        bonus_offer(program)
        bonus_for(program, ServiceAccountFactory(utility=utility_a))
        make_batch(program)
    with django_assert_max_num_queries(12) as few:
        client.get(url("payout_batch_list", utility_a))
    for _ in range(5):
        program = funded_program(utility_a)
        bonus_offer(program)
        bonus_for(program, ServiceAccountFactory(utility=utility_a))
        make_batch(program)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url("payout_batch_list", utility_a))
