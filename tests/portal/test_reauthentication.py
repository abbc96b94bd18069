"""Re-authentication before changing who may act for an organization: inviting, removing a
role, withdrawing or resending an invitation (a utility's team and an installer company's),
and approving an installer's access request. Once the sign-in is more than a few minutes old,
the action waits for the password (or the authenticator app's code) and then goes ahead; the
pages themselves still open."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.cache import cache
from django.urls import reverse
from django.utils.http import urlencode
from django_scopes import scope

from portal.identity.services.access_requests import submit_access_request
from portal.models import AccessRequest, Invitation, Membership
from portal.roles import Role
from tests.portal.factories import InstallerCompanyFactory, make_member
from tests.portal.signing_in import (
    asks_to_reauthenticate,
    current_code,
    make_sign_in_stale,
    reauthenticate,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_tasks_and_fresh_rate_limits(eager_tasks):
    cache.clear()  # allauth counts confirmations (and used TOTP codes) in the cache
    yield
    cache.clear()


@pytest.fixture
def program_admin(client, utility_a):
    admin = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    admin.totp_secret = generate_totp_secret()
    TOTP.activate(admin, admin.totp_secret)
    client.force_login(admin)
    return admin


def team_url(utility, name="member_list", **kwargs):
    return reverse(f"utility:{name}", kwargs={"utility_slug": utility.slug, **kwargs})


def open_invitation(utility):
    return Invitation.objects.create(
        email="open@example.test",
        role=Role.AUDITOR,
        utility=utility,
        token_hash="o" * 64,
        expires_at="2999-01-01T00:00:00Z",
    )


def test_an_invitation_waits_for_the_password_then_goes_out(client, utility_a, program_admin):
    make_sign_in_stale(client)
    assert client.get(team_url(utility_a)).status_code == 200  # the page still opens

    data = {"email": "new@example.test", "role": Role.PROGRAM_ANALYST}
    response = client.post(team_url(utility_a), data)

    assert asks_to_reauthenticate(response, team_url(utility_a))
    assert not Invitation.objects.exists()
    page = client.get(response.url)
    assert b"Confirm your password" in page.content
    done = reauthenticate(client, response)
    assert done.status_code == 302 and done["Location"] == team_url(utility_a)
    assert Invitation.objects.get().email == "new@example.test"


def test_a_wrong_password_changes_nothing(client, utility_a, program_admin):
    make_sign_in_stale(client)
    response = client.post(team_url(utility_a), {"email": "x@example.test", "role": "auditor"})
    refused = reauthenticate(client, response, password="not-my-password")
    assert refused.status_code == 200  # the confirmation form again, with its error
    assert not Invitation.objects.exists()


def test_the_authenticator_app_confirms_as_well_as_the_password(client, utility_a, program_admin):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    membership = Membership.objects.get(user=analyst)
    url = team_url(utility_a, "membership_revoke", pk=membership.pk)
    make_sign_in_stale(client)
    assert client.get(url).status_code == 200  # the confirmation page

    response = client.post(url)

    assert asks_to_reauthenticate(response, url)
    assert Membership.objects.filter(pk=membership.pk).exists()
    with_code = reverse("mfa_reauthenticate") + "?" + urlencode({"next": url})
    done = client.post(with_code, {"code": current_code(program_admin.totp_secret)})
    assert done.status_code == 302 and done["Location"] == team_url(utility_a)
    assert not Membership.objects.filter(pk=membership.pk).exists()


@pytest.mark.parametrize("action", ["invitation_revoke", "invitation_resend"])
def test_changing_an_invitation_waits_for_the_password(client, utility_a, program_admin, action):
    invitation = open_invitation(utility_a)
    url = team_url(utility_a, action, pk=invitation.pk)
    make_sign_in_stale(client)
    assert client.get(url).status_code == 200

    response = client.post(url)
    assert asks_to_reauthenticate(response, url)
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and invitation.token_hash == "o" * 64

    assert reauthenticate(client, response).status_code == 302
    invitation.refresh_from_db()
    changed = invitation.revoked_at if action == "invitation_revoke" else invitation.token_hash
    assert changed not in (None, "o" * 64)


def test_an_installer_companys_team_changes_wait_too(client):
    company = InstallerCompanyFactory(slug="sunrise")
    installer_admin = make_member(Role.INSTALLER_ADMIN, installer=company)
    crew = make_member(Role.INSTALLER_USER, installer=company)
    membership = Membership.objects.get(user=crew)
    url = reverse(
        "installer_membership_revoke", kwargs={"org_slug": "sunrise", "pk": membership.pk}
    )
    client.force_login(installer_admin)
    make_sign_in_stale(client)

    response = client.post(url)
    assert asks_to_reauthenticate(response, url)
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert reauthenticate(client, response).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_approving_an_access_request_waits_for_the_password(client, utility_a, program_admin):
    access_request = submit_access_request(
        company_name="Sunrise Electric",
        license_state="CA",
        license_number="C10-555111",
        contact_name="Dana Reyes",
        contact_email="dana@sunrise.example",
        utility=utility_a,
        message="",
    )
    url = reverse(
        "utility:access_request_detail", kwargs={"utility_slug": "alpha", "pk": access_request.pk}
    )
    make_sign_in_stale(client)
    assert client.get(url).status_code == 200

    response = client.post(url, {"decision": "approved"})
    assert asks_to_reauthenticate(response, url)
    with scope(utility=utility_a.pk):
        assert AccessRequest.objects.get().status == AccessRequest.Status.PENDING
    assert reauthenticate(client, response).status_code == 302
    with scope(utility=utility_a.pk):
        assert AccessRequest.objects.get().status == AccessRequest.Status.APPROVED


def test_a_fresh_sign_in_acts_without_being_asked(client, utility_a, program_admin):
    response = client.post(team_url(utility_a), {"email": "n@example.test", "role": "auditor"})
    assert response.status_code == 302 and response["Location"] == team_url(utility_a)
    assert Invitation.objects.filter(email="n@example.test").exists()


def test_someone_who_may_not_act_gets_a_403_not_a_password_prompt(client, utility_a):
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    make_sign_in_stale(client)
    invitation = open_invitation(utility_a)
    response = client.post(team_url(utility_a, "invitation_revoke", pk=invitation.pk))
    assert response.status_code == 403
