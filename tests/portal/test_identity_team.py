"""Team pages: a utility's members and invitations, and an installer company's team."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from portal.models import AuditEvent, Invitation, Membership
from portal.roles import Role
from tests.portal.factories import (
    AHJFactory,
    AHJTerritoryFactory,
    InstallerCompanyFactory,
    make_member,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_tasks(eager_tasks):
    """Email tasks run in this process when their transaction commits."""


def team_url(utility, name="member_list", **kwargs):
    return reverse(f"utility:{name}", kwargs={"utility_slug": utility.slug, **kwargs})


def audit_actions(utility):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(utility=utility).values_list("action", flat=True))


@pytest.fixture
def admin(utility_a):
    return make_member(Role.PROGRAM_ADMIN, utility=utility_a)


@pytest.fixture
def admin_client(client, admin, monkeypatch):
    # MFA enforcement has its own tests; here the admin is past it.
    monkeypatch.setattr("portal.middleware.requires_mfa", lambda user: False)
    client.force_login(admin)
    return client


def invite(client, utility, captured, **data):
    with captured(execute=True):
        return client.post(team_url(utility), data)


def test_it_lists_members_and_invitations(admin_client, utility_a, utility_b, admin):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    outsider = make_member(Role.PROGRAM_ANALYST, utility=utility_b)
    Invitation.objects.create(
        email="open@example.test",
        role=Role.AUDITOR,
        utility=utility_a,
        token_hash="a" * 64,
        expires_at="2999-01-01T00:00:00Z",
    )
    response = admin_client.get(team_url(utility_a))
    assert response.status_code == 200
    body = response.content.decode()
    assert analyst.email in body
    assert admin.email in body
    assert "open@example.test" in body
    assert outsider.email not in body
    assert 'class="stacked' in body  # the invite form


def test_it_lets_a_member_with_view_members_read_but_not_invite(client, utility_a):
    auditor = make_member(Role.AUDITOR, utility=utility_a)
    client.force_login(auditor)
    response = client.get(team_url(utility_a))
    assert response.status_code == 200
    assert b"Invite someone" not in response.content
    response = client.post(team_url(utility_a), {"email": "x@example.test", "role": "auditor"})
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_it_forbids_the_team_page_without_view_members(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    assert client.get(team_url(utility_a)).status_code == 403


def test_it_hides_another_utilitys_team(admin_client, utility_b):
    assert admin_client.get(team_url(utility_b)).status_code == 404


def test_it_invites_by_email_and_sends_the_link(
    admin_client, utility_a, admin, django_capture_on_commit_callbacks
):
    response = invite(
        admin_client,
        utility_a,
        django_capture_on_commit_callbacks,
        email="New.Person@Example.test",
        role=Role.SETTLEMENT_ANALYST,
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new.person@example.test"
    assert invitation.utility == utility_a
    assert invitation.invited_by == admin
    assert invitation.sent_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.test"]
    assert "Alpha Power" in message.subject
    token = message.body.split("/invite/")[1].split("/")[0]
    assert Invitation.objects.by_token(token).get() == invitation
    assert "invitation.created" in audit_actions(utility_a)


def test_it_rejects_a_role_the_admin_may_not_grant(admin_client, utility_a):
    response = admin_client.post(
        team_url(utility_a), {"email": "x@example.test", "role": Role.INSTALLER_ADMIN}
    )
    assert response.status_code == 200
    assert "role" in response.context["form"].errors
    assert not Invitation.objects.exists()


def test_it_refuses_a_second_open_invitation_for_the_same_person(
    admin_client, utility_a, django_capture_on_commit_callbacks
):
    data = {"email": "twice@example.test", "role": Role.AUDITOR}
    invite(admin_client, utility_a, django_capture_on_commit_callbacks, **data)
    response = invite(admin_client, utility_a, django_capture_on_commit_callbacks, **data)
    assert response.status_code == 200
    assert "Resend it instead" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_it_refuses_to_invite_an_existing_member_to_the_same_role(admin_client, utility_a):
    member = make_member(Role.AUDITOR, utility=utility_a)
    response = admin_client.post(team_url(utility_a), {"email": member.email, "role": "auditor"})
    assert "already a" in response.content.decode()
    assert not Invitation.objects.exists()


def test_it_invites_an_ahj_reviewer_for_an_ahj_in_the_territory(
    admin_client, utility_a, utility_b, django_capture_on_commit_callbacks
):
    ours = AHJTerritoryFactory(utility=utility_a).ahj
    theirs = AHJTerritoryFactory(utility=utility_b).ahj
    response = admin_client.post(
        team_url(utility_a),
        {"email": "rev@example.test", "role": Role.AHJ_REVIEWER, "ahj": theirs.pk},
    )
    assert "ahj" in response.context["form"].errors  # not a choice here
    response = admin_client.post(
        team_url(utility_a), {"email": "rev@example.test", "role": Role.AHJ_REVIEWER}
    )
    assert "ahj" in response.context["form"].errors  # required for reviewers
    response = invite(
        admin_client,
        utility_a,
        django_capture_on_commit_callbacks,
        email="rev@example.test",
        role=Role.AHJ_REVIEWER,
        ahj=ours.pk,
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.ahj, invitation.utility) == (ours, None)
    assert ours.name in mail.outbox[0].subject
    assert "invitation.created" in audit_actions(utility_a)


def test_it_ignores_the_ahj_for_other_roles(admin_client, utility_a):
    ahj = AHJTerritoryFactory(utility=utility_a).ahj
    admin_client.post(
        team_url(utility_a), {"email": "a@example.test", "role": Role.AUDITOR, "ahj": ahj.pk}
    )
    invitation = Invitation.objects.get()
    assert (invitation.utility, invitation.ahj) == (utility_a, None)


def test_it_lists_and_revokes_reviewers_of_ahjs_in_the_territory(
    admin_client, utility_a, utility_b
):
    ours = AHJTerritoryFactory(utility=utility_a).ahj
    elsewhere = AHJTerritoryFactory(utility=utility_b).ahj
    reviewer = make_member(Role.AHJ_REVIEWER, ahj=ours)
    stranger = make_member(Role.AHJ_REVIEWER, ahj=elsewhere)
    body = admin_client.get(team_url(utility_a)).content.decode()
    assert reviewer.email in body
    assert stranger.email not in body
    theirs = Membership.objects.get(user=stranger)
    url = team_url(utility_a, "membership_revoke", pk=theirs.pk)
    assert admin_client.post(url).status_code == 404
    mine = Membership.objects.get(user=reviewer)
    admin_client.post(team_url(utility_a, "membership_revoke", pk=mine.pk))
    assert not Membership.objects.filter(pk=mine.pk).exists()
    assert Membership.objects.filter(pk=theirs.pk).exists()


def test_it_revokes_a_membership_with_an_audit_row(admin_client, utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    membership = Membership.objects.get(user=analyst)
    response = admin_client.post(team_url(utility_a, "membership_revoke", pk=membership.pk))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    with scopes_disabled():
        event = AuditEvent.objects.get(action="membership.revoked")
    assert (event.utility, event.from_state) == (utility_a, Role.PROGRAM_ANALYST)


def test_it_gives_404_for_another_utilitys_membership(admin_client, utility_a, utility_b):
    other = Membership.objects.get(user=make_member(Role.PROGRAM_ANALYST, utility=utility_b))
    response = admin_client.post(team_url(utility_a, "membership_revoke", pk=other.pk))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=other.pk).exists()


def test_it_needs_manage_members_to_revoke(client, utility_a):
    auditor = make_member(Role.AUDITOR, utility=utility_a)
    analyst = Membership.objects.get(user=make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    client.force_login(auditor)
    response = client.post(team_url(utility_a, "membership_revoke", pk=analyst.pk))
    assert response.status_code == 403
    assert Membership.objects.filter(pk=analyst.pk).exists()


def test_it_asks_to_confirm_before_changing_anything(admin_client, utility_a):
    analyst = Membership.objects.get(user=make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    response = admin_client.get(team_url(utility_a, "membership_revoke", pk=analyst.pk))
    assert response.status_code == 200
    assert analyst.user.email in response.content.decode()
    assert Membership.objects.filter(pk=analyst.pk).exists()


def test_it_forbids_the_confirmation_pages_without_manage_members(client, utility_a):
    analyst = Membership.objects.get(user=make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    response = client.get(team_url(utility_a, "membership_revoke", pk=analyst.pk))
    assert response.status_code == 403


def test_it_keeps_the_last_program_admin(admin_client, utility_a, admin):
    own = Membership.objects.get(user=admin, utility=utility_a)
    response = admin_client.post(team_url(utility_a, "membership_revoke", pk=own.pk), follow=True)
    assert Membership.objects.filter(pk=own.pk).exists()
    assert "last Utility program admin" in response.content.decode()
    assert "membership.revoked" not in audit_actions(utility_a)


def test_it_lets_a_program_admin_step_down_when_another_remains(admin_client, utility_a, admin):
    make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    own = Membership.objects.get(user=admin, utility=utility_a)
    response = admin_client.post(team_url(utility_a, "membership_revoke", pk=own.pk))
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert not Membership.objects.filter(pk=own.pk).exists()


def test_it_revokes_an_invitation(admin_client, utility_a, django_capture_on_commit_callbacks):
    invite(
        admin_client,
        utility_a,
        django_capture_on_commit_callbacks,
        email="gone@example.test",
        role=Role.AUDITOR,
    )
    invitation = Invitation.objects.get()
    response = admin_client.post(team_url(utility_a, "invitation_revoke", pk=invitation.pk))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    assert "invitation.revoked" in audit_actions(utility_a)
    # Revoking twice is a clear message, not an error page.
    response = admin_client.post(
        team_url(utility_a, "invitation_revoke", pk=invitation.pk), follow=True
    )
    assert "already revoked" in response.content.decode()


def test_it_resends_with_a_new_token_that_kills_the_old_link(
    admin_client, utility_a, django_capture_on_commit_callbacks
):
    invite(
        admin_client,
        utility_a,
        django_capture_on_commit_callbacks,
        email="again@example.test",
        role=Role.AUDITOR,
    )
    invitation = Invitation.objects.get()
    old_link = mail.outbox[0].body.split("http://127.0.0.1:8000")[1].split()[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(team_url(utility_a, "invitation_resend", pk=invitation.pk))
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    new_link = mail.outbox[1].body.split("http://127.0.0.1:8000")[1].split()[0]
    assert new_link != old_link
    invitee = Client()
    assert invitee.get(old_link).status_code == 404
    assert invitee.get(new_link).status_code == 200
    assert "invitation.resent" in audit_actions(utility_a)


def test_it_gives_404_for_another_utilitys_invitation(admin_client, utility_a, utility_b):
    other = Invitation.objects.create(
        email="b@example.test",
        role=Role.AUDITOR,
        utility=utility_b,
        token_hash="b" * 64,
        expires_at="2999-01-01T00:00:00Z",
    )
    for action in ("invitation_revoke", "invitation_resend"):
        assert admin_client.post(team_url(utility_a, action, pk=other.pk)).status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_it_shows_the_team_in_a_constant_number_of_queries(
    admin_client, utility_a, django_assert_max_num_queries
):
    def add_people(n):
        for i in range(n):
            make_member(Role.PROGRAM_ANALYST, utility=utility_a)
            Invitation.objects.create(
                email=f"p{Invitation.objects.count()}-{i}@example.test",
                role=Role.AUDITOR,
                utility=utility_a,
                token_hash=f"{Invitation.objects.count():064d}",
                expires_at="2999-01-01T00:00:00Z",
            )

    add_people(2)
    with django_assert_max_num_queries(20) as few:
        admin_client.get(team_url(utility_a))
    add_people(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(team_url(utility_a))


# --- Installer company team -------------------------------------------------------------------


@pytest.fixture
def company():
    return InstallerCompanyFactory()


def installer_url(company, name="installer_team", **kwargs):
    return reverse(name, kwargs={"org_slug": company.slug, **kwargs})


def test_it_lets_an_installer_admin_invite_to_their_company(
    client, company, django_capture_on_commit_callbacks
):
    client.force_login(make_member(Role.INSTALLER_ADMIN, installer=company))
    assert client.get(installer_url(company)).status_code == 200
    response = client.post(
        installer_url(company), {"email": "crew@example.test", "role": Role.PROGRAM_ADMIN}
    )
    assert "role" in response.context["form"].errors
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            installer_url(company), {"email": "crew@example.test", "role": Role.INSTALLER_USER}
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.installer, invitation.role) == (company, Role.INSTALLER_USER)
    assert mail.outbox[0].to == ["crew@example.test"]
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="invitation.created", utility=None).exists()


def test_it_keeps_installer_users_and_strangers_out_of_the_team_page(client, company):
    client.force_login(make_member(Role.INSTALLER_USER, installer=company))
    assert client.get(installer_url(company)).status_code == 403
    client.force_login(make_member(Role.INSTALLER_ADMIN, installer=InstallerCompanyFactory()))
    assert client.get(installer_url(company)).status_code == 404


def test_it_sends_anonymous_visitors_of_the_installer_team_to_sign_in(client, company):
    response = client.get(installer_url(company))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_it_lets_an_installer_admin_revoke_only_their_own_companys_rows(client, company):
    admin = make_member(Role.INSTALLER_ADMIN, installer=company)
    worker = Membership.objects.get(user=make_member(Role.INSTALLER_USER, installer=company))
    other = Membership.objects.get(
        user=make_member(Role.INSTALLER_USER, installer=InstallerCompanyFactory())
    )
    client.force_login(admin)
    url = installer_url(company, "installer_membership_revoke", pk=other.pk)
    assert client.post(url).status_code == 404
    client.post(installer_url(company, "installer_membership_revoke", pk=worker.pk))
    assert not Membership.objects.filter(pk=worker.pk).exists()
    assert Membership.objects.filter(pk=other.pk).exists()
    own = Membership.objects.get(user=admin)
    response = client.post(
        installer_url(company, "installer_membership_revoke", pk=own.pk), follow=True
    )
    assert "last Installer admin" in response.content.decode()
    assert Membership.objects.filter(pk=own.pk).exists()


def test_it_revokes_and_resends_installer_invitations(
    client, company, django_capture_on_commit_callbacks
):
    client.force_login(make_member(Role.INSTALLER_ADMIN, installer=company))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            installer_url(company), {"email": "crew@example.test", "role": Role.INSTALLER_USER}
        )
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(installer_url(company, "installer_invitation_resend", pk=invitation.pk))
    assert len(mail.outbox) == 2
    client.post(installer_url(company, "installer_invitation_revoke", pk=invitation.pk))
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    foreign = Invitation.objects.create(
        email="x@example.test",
        role=Role.INSTALLER_USER,
        installer=InstallerCompanyFactory(),
        token_hash="c" * 64,
        expires_at="2999-01-01T00:00:00Z",
    )
    url = installer_url(company, "installer_invitation_revoke", pk=foreign.pk)
    assert client.post(url).status_code == 404


def test_it_leaves_ahj_invitations_to_utilities_whose_territory_has_the_ahj(
    admin_client, utility_a
):
    ahj = AHJFactory()  # not in utility_a's territory
    invitation = Invitation.objects.create(
        email="r@example.test",
        role=Role.AHJ_REVIEWER,
        ahj=ahj,
        token_hash="d" * 64,
        expires_at="2999-01-01T00:00:00Z",
    )
    response = admin_client.post(team_url(utility_a, "invitation_revoke", pk=invitation.pk))
    assert response.status_code == 404
