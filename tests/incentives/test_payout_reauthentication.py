"""Re-authentication before paying out: making a payout batch, exporting its payment file and
marking it paid each wait for the password once the sign-in is more than a few minutes old,
then go ahead; the batch pages still open."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.incentives import services
from enrollment.incentives.models import PayoutBatch
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.isolation_cases import signed_in
from tests.incentives.support import (
    bonus_offer,
    funded_program,
    media_root,  # noqa: F401 - fixture
    participant,
    reload,
)
from tests.portal.signing_in import asks_to_reauthenticate, make_sign_in_stale, reauthenticate

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # allauth counts confirmations in the cache
    yield
    cache.clear()


@pytest.fixture
def program(utility_a):
    program = funded_program(utility_a, budget="5000.00")
    bonus_offer(program, amount=D("150.00"), reason_code="EVBONUS")
    account = ServiceAccountFactory(utility=utility_a, account_number="2000000001")
    with scope(utility=utility_a.pk):
        services.award_enrollment_bonus(
            program=program, enrollment=participant(program, account=account)
        )
    return program


@pytest.fixture
def analyst(client, utility_a):
    user = signed_in(client, Role.SETTLEMENT_ANALYST, utility_a)
    make_sign_in_stale(client)
    return user


def url(name, utility, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


def make_batch(program):
    with scope(utility=program.utility_id):
        return services.create_payout_batch(
            program_id=program.pk, channel="bill_credit", actor=None
        )


def test_making_a_batch_waits_for_the_password(client, utility_a, program, analyst):
    create_url = url("payout_batch_create", utility_a)
    assert client.get(create_url).status_code == 200

    response = client.post(create_url, {"program": program.pk, "channel": "bill_credit"})

    assert asks_to_reauthenticate(response, create_url)
    with scopes_disabled():
        assert not PayoutBatch.objects.exists()
    done = reauthenticate(client, response)
    with scopes_disabled():
        batch = PayoutBatch.objects.get()
    assert done.status_code == 302
    assert done["Location"] == url("payout_batch_detail", utility_a, batch.pk)


def test_exporting_a_payment_file_waits_for_the_password(client, utility_a, program, analyst):
    batch = make_batch(program)
    assert client.get(url("payout_batch_detail", utility_a, batch.pk)).status_code == 200
    export_url = url("payout_batch_export", utility_a, batch.pk, "bill_credit")

    response = client.post(export_url)

    assert asks_to_reauthenticate(response, export_url)
    assert reload(batch).status == PayoutBatch.Status.READY
    done = reauthenticate(client, response)
    assert done["Content-Type"] == "text/csv; charset=utf-8"
    assert done.content.startswith(b"account_number,amount,reason_code,reference\r\n2000000001,")
    assert reload(batch).status == PayoutBatch.Status.EXPORTED


def test_marking_a_batch_paid_waits_for_the_password(client, utility_a, program, analyst):
    batch = make_batch(program)
    with scope(utility=utility_a.pk):
        services.export_payout_file(batch_id=batch.pk, method="bill_credit", actor=None)
    paid_url = url("payout_batch_mark_paid", utility_a, batch.pk)
    assert client.get(paid_url).status_code == 200  # the confirmation page

    response = client.post(paid_url)

    assert asks_to_reauthenticate(response, paid_url)
    assert reload(batch).status == PayoutBatch.Status.EXPORTED
    done = reauthenticate(client, response)
    assert done.status_code == 302
    assert done["Location"] == url("payout_batch_detail", utility_a, batch.pk)
    assert reload(batch).status == PayoutBatch.Status.PAID
