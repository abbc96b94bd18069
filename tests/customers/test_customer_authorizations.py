"""Finding 3 of the security review: a partner or installer may act for a customer's account
only with the customer's authorization — a one-time code the utility issues — and failed
lookups are throttled, recorded, counted for the utility and alerted on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from portal.customers import authorizations as auth
from portal.customers.models import CustomerAuthorization, CustomerLookupFailure
from portal.models import AuditEvent
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.portal.factories import AutomakerPartnerFactory, InstallerCompanyFactory, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def budgets(settings):
    settings.CUSTOMER_LOOKUP_FAILURES = {"per_party": 3, "per_address": 10, "window_seconds": 86400}


@pytest.fixture
def account(utility_a):
    return ServiceAccountFactory(utility=utility_a, account_number="4400012345", zip_code="94110")


def partner_party(partner=None, address="192.0.2.10"):
    return auth.LookupParty(
        address=address, partner=partner or AutomakerPartnerFactory(), client_id="client-1"
    )


def lookup(utility, party, *, number="4400012345", zip_code="94110", code=""):
    with scope(utility=utility.pk):
        return auth.authorized_account(
            utility=utility, account_number=number, zip_code=zip_code, code=code, party=party
        )


def issue(account):
    with scope(utility=account.utility_id):
        return auth.issue_authorization(account=account, actor=None)


def test_it_refuses_account_number_and_zip_without_the_customers_code(utility_a, account):
    with pytest.raises(auth.AccountNotAuthorized):
        lookup(utility_a, partner_party())


def test_a_code_is_redeemed_once_and_relates_only_that_party(utility_a, account):
    authorization, code = issue(account)
    kestrel, other = partner_party(), partner_party()

    assert lookup(utility_a, kestrel, code=code) == account
    # Related now: no code needed again; the same code is spent for anyone else.
    assert lookup(utility_a, kestrel) == account
    with pytest.raises(auth.AccountNotAuthorized):
        lookup(utility_a, other, code=code)

    with scopes_disabled():
        authorization.refresh_from_db()
        redeemed = AuditEvent.objects.get(action="customer_authorization.redeemed")
    assert authorization.redeemed_by_partner == kestrel.partner
    assert redeemed.actor_client_id == "client-1"


def test_it_accepts_the_code_as_read_out_over_the_phone(utility_a, account):
    _, code = issue(account)
    spoken = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert lookup(utility_a, partner_party(), code=spoken) == account


@pytest.mark.parametrize(
    "changes",
    [
        {"number": "4400012346"},
        {"zip_code": "94111"},
        {"code": "AAAAA-AAAAA"},
    ],
)
def test_every_mismatch_is_the_same_answer(utility_a, account, changes):
    _, code = issue(account)
    with pytest.raises(auth.AccountNotAuthorized) as caught:
        lookup(utility_a, partner_party(), **{"code": code, **changes})
    assert caught.value.message == auth.AccountNotAuthorized.message


def test_expired_and_revoked_codes_do_not_work(utility_a, account):
    expired, expired_code = issue(account)
    with scopes_disabled():
        CustomerAuthorization.objects.filter(pk=expired.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    revoked, revoked_code = issue(account)
    with scope(utility=utility_a.pk):
        auth.revoke_authorization(authorization=revoked, actor=None)

    for code in (expired_code, revoked_code):
        with pytest.raises(auth.AccountNotAuthorized):
            lookup(utility_a, partner_party(), code=code)


def test_revoking_a_redeemed_code_ends_the_relationship(utility_a, account):
    authorization, code = issue(account)
    kestrel = partner_party()
    lookup(utility_a, kestrel, code=code)
    with scope(utility=utility_a.pk):
        auth.revoke_authorization(authorization=authorization, actor=None)
        with pytest.raises(auth.AuthorizationError):
            auth.revoke_authorization(authorization=authorization, actor=None)
    with pytest.raises(auth.AccountNotAuthorized):
        lookup(utility_a, kestrel)


def test_a_code_of_another_utility_does_not_work(utility_a, utility_b, account):
    other = ServiceAccountFactory(utility=utility_b, account_number="4400012345", zip_code="94110")
    _, code = issue(other)
    with pytest.raises(auth.AccountNotAuthorized):
        lookup(utility_a, partner_party(), code=code)


def test_only_the_hash_of_a_code_is_stored(account):
    authorization, code = issue(account)
    assert code.replace("-", "") not in authorization.code_hash
    assert len(code.replace("-", "")) == auth.CODE_LENGTH


def test_failed_lookups_are_throttled_per_party_recorded_and_alerted(
    budgets, utility_a, account, caplog
):
    party = partner_party()
    for _ in range(3):
        with pytest.raises(auth.AccountNotAuthorized):
            lookup(utility_a, party, code="WRONG-CODE1")
    _, code = issue(account)
    # Budget spent: refused before the code is looked at, even the right one.
    with pytest.raises(auth.LookupsThrottled) as caught:
        lookup(utility_a, party, code=code)

    assert 0 < caught.value.retry_after <= 86400
    with scopes_disabled():
        failures = list(CustomerLookupFailure.objects.order_by("at", "pk"))
        alerts = AuditEvent.objects.filter(action="customer_lookup.blocked", utility=utility_a)
        assert alerts.count() == 1
    assert [f.blocked for f in failures] == [False, False, False, True]
    assert {f.account_number_tried for f in failures} == {"4400012345"}
    assert "Customer lookups blocked after repeated failures" in caplog.text
    # Another party at another address is not held up by this one.
    assert lookup(utility_a, partner_party(address="192.0.2.99"), code=code) == account


def test_failed_lookups_are_throttled_per_address_across_parties(budgets, settings, utility_a):
    settings.CUSTOMER_LOOKUP_FAILURES = {**settings.CUSTOMER_LOOKUP_FAILURES, "per_address": 2}
    for _ in range(2):
        with pytest.raises(auth.AccountNotAuthorized):
            lookup(utility_a, partner_party())
    with pytest.raises(auth.LookupsThrottled):
        lookup(utility_a, partner_party())


# --- Pages ----------------------------------------------------------------------------------


@pytest.fixture
def rep(client, utility_a):
    user = make_member(Role.CUSTOMER_SERVICE, utility=utility_a)
    client.force_login(user)
    return user


def test_customer_service_issues_a_code_shown_once(client, rep, utility_a, account):
    url = reverse("utility:customer_authorization_issue", args=[utility_a.slug, account.pk])
    response = client.post(url)

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    code = response.context["code"]
    assert code in response.content.decode()
    assert lookup(utility_a, partner_party(), code=code) == account
    detail = client.get(reverse("utility:customer_detail", args=[utility_a.slug, account.pk]))
    assert code not in detail.content.decode()
    assert "redeemed" in detail.content.decode()


def test_customer_service_revokes_a_code(client, rep, utility_a, account):
    authorization, code = issue(account)
    url = reverse(
        "utility:customer_authorization_revoke", args=[utility_a.slug, account.pk, authorization.pk]
    )
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302

    authorization.refresh_from_db()
    assert authorization.revoked_by == rep
    with pytest.raises(auth.AccountNotAuthorized):
        lookup(utility_a, partner_party(), code=code)
    assert client.post(url).status_code == 302  # again: a message, not an error


def test_an_analyst_sees_codes_but_cannot_issue_them(client, utility_a, account):
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    url = reverse("utility:customer_authorization_issue", args=[utility_a.slug, account.pk])
    assert client.post(url).status_code == 403


def test_the_utility_sees_failed_lookups_counted_by_party(budgets, client, rep, utility_a):
    partner = AutomakerPartnerFactory(name="Probing Motors")
    installer = InstallerCompanyFactory(name="Curious Solar")
    for _ in range(4):
        with pytest.raises(auth.CustomerLookupRefused):
            lookup(utility_a, partner_party(partner), number="4400000001")
    with pytest.raises(auth.AccountNotAuthorized):
        lookup(utility_a, auth.LookupParty(address="192.0.2.20", installer=installer))

    page = client.get(reverse("utility:customer_lookup_failures", args=[utility_a.slug]))
    customers = client.get(reverse("utility:customer_list", args=[utility_a.slug]))

    assert page.status_code == 200
    counts = {c.party: (c.failures, c.blocked) for c in page.context["summary"][0][1]}
    assert counts == {"Probing Motors": (4, 1), "Curious Solar": (1, 0)}
    assert "4400000001" in page.content.decode()
    assert "5 in the last 24 hours" in customers.content.decode()


def test_the_failed_lookup_page_runs_a_constant_number_of_queries(
    client, rep, utility_a, django_assert_max_num_queries
):
    with scope(utility=utility_a.pk):
        CustomerLookupFailure.objects.bulk_create(
            CustomerLookupFailure(
                utility=utility_a,
                channel=CustomerLookupFailure.Channel.INSTALLER,
                installer=InstallerCompanyFactory(),
                at=timezone.now(),
            )
            for _ in range(30)
        )
    with django_assert_max_num_queries(15):
        response = client.get(reverse("utility:customer_lookup_failures", args=[utility_a.slug]))
    assert response.status_code == 200
