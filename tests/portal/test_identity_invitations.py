"""Accepting invitations, and the task that emails them."""

import smtplib
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from portal.identity.services.errors import InvitationUnavailable
from portal.identity.services.invitations import accept_invitation_as_new_user, invite
from portal.models import AuditEvent, Invitation, Membership, User
from portal.roles import Role
from portal.tasks import send_invitation
from tests.portal.factories import (
    DEFAULT_PASSWORD,
    AHJFactory,
    InstallerCompanyFactory,
    UserFactory,
    make_member,
)

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "violet-kettle-harbour-91"


@pytest.fixture(autouse=True)
def _eager_tasks(eager_tasks):
    """Email tasks run in this process when their transaction commits."""


@pytest.fixture
def send(django_capture_on_commit_callbacks, utility_a):
    """``send(email, role, organization)``: invite like an admin would; returns the token
    from the email actually sent."""
    inviter = make_member(Role.PROGRAM_ADMIN, utility=utility_a)

    def send_(email, role=Role.PROGRAM_ANALYST, organization=None):
        organization = organization or utility_a
        with django_capture_on_commit_callbacks(execute=True):
            invite(
                email=email,
                role=role,
                organization=organization,
                invited_by=inviter,
                audit_utility=utility_a,
            )
        return mail.outbox[-1].body.split("/invite/")[1].split("/")[0]

    return send_


def accept_url(token):
    return reverse("accept_invitation", kwargs={"token": token})


def new_account(client, token, **overrides):
    data = {
        "full_name": "Rosa Parks",
        "password1": STRONG_PASSWORD,
        "password2": STRONG_PASSWORD,
        **overrides,
    }
    return client.post(accept_url(token), data)


def test_it_creates_an_account_with_a_verified_email_and_signs_in(client, send, utility_a):
    token = send("Newcomer@Example.test")
    page = client.get(accept_url(token))
    assert page.status_code == 200
    assert b"Create account and join" in page.content
    response = new_account(client, token)
    assert response.status_code == 302
    assert response.url == reverse("utility:dashboard", kwargs={"utility_slug": "alpha"})
    user = User.objects.get(email="newcomer@example.test")
    assert user.full_name == "Rosa Parks"
    assert user.check_password(STRONG_PASSWORD)
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (user.email, True, True)
    assert Membership.objects.filter(user=user, utility=utility_a, role=Role.PROGRAM_ANALYST)
    assert client.get(response.url).status_code == 200  # signed in
    invitation = Invitation.objects.get(email=user.email)
    assert (invitation.status, invitation.accepted_by) == ("accepted", user)
    with scopes_disabled():
        actions = set(AuditEvent.objects.filter(utility=utility_a).values_list("action", flat=True))
    assert {"invitation.accepted", "membership.created", "user.created"} <= actions


def test_it_applies_the_password_validators(client, send):
    token = send("weak@example.test")
    response = new_account(client, token, password1="short", password2="short")
    assert response.status_code == 200
    assert "password1" in response.context["form"].errors
    response = new_account(client, token, password2="something-else-entirely")
    assert "password2" in response.context["form"].errors
    response = new_account(
        client, token, password1="weak@example.test", password2="weak@example.test"
    )
    assert "password1" in response.context["form"].errors  # too similar to the email
    assert not User.objects.filter(email="weak@example.test").exists()


def test_it_does_not_create_twice_on_a_double_submit(client, send, utility_a):
    token = send("double@example.test")
    first = new_account(client, token)
    second = new_account(client, token)
    assert first.status_code == second.status_code == 302
    assert second.url == first.url
    assert User.objects.filter(email="double@example.test").count() == 1
    assert Membership.objects.filter(user__email="double@example.test").count() == 1


def test_it_refuses_a_double_submit_from_another_browser(client, send, django_user_model):
    token = send("twobrowsers@example.test")
    new_account(client, token)
    other_browser = type(client)()
    response = other_browser.post(
        accept_url(token),
        {"full_name": "X", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
    )
    assert response.status_code == 410
    assert b"already accepted" in response.content
    assert django_user_model.objects.filter(email="twobrowsers@example.test").count() == 1


def test_it_keeps_a_race_between_two_new_account_submits_to_one_account(send):
    token = send("race@example.test")
    accept_invitation_as_new_user(token=token, full_name="A", password=STRONG_PASSWORD)
    with pytest.raises(InvitationUnavailable) as error:
        accept_invitation_as_new_user(token=token, full_name="B", password=STRONG_PASSWORD)
    assert error.value.status == "accepted"
    assert User.objects.filter(email="race@example.test").count() == 1


def test_it_sends_an_existing_user_to_sign_in_first(client, send):
    existing = UserFactory(email="known@example.test")
    token = send("KNOWN@example.test")
    response = client.get(accept_url(token))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert accept_url(token) in response.url
    assert not Membership.objects.filter(user=existing).exists()


def test_it_adds_the_membership_for_the_signed_in_invitee(client, send, utility_a):
    existing = make_member(Role.INSTALLER_USER, installer=InstallerCompanyFactory())
    token = send(existing.email, role=Role.AUDITOR)
    client.force_login(existing)
    page = client.get(accept_url(token))
    assert page.status_code == 200
    assert b"Accept invitation" in page.content
    response = client.post(accept_url(token))
    assert response.status_code == 302
    assert Membership.objects.filter(user=existing, utility=utility_a, role=Role.AUDITOR)
    # A second submit changes nothing and lands in the same place.
    again = client.post(accept_url(token))
    assert again.url == response.url
    assert Membership.objects.filter(user=existing, utility=utility_a).count() == 1


def test_it_signs_an_invitee_in_through_the_login_page(client, send, utility_a):
    existing = UserFactory(email="login@example.test")
    token = send(existing.email)
    response = client.post(
        reverse("account_login") + f"?next={accept_url(token)}",
        {"login": existing.email, "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    assert response.url == accept_url(token)
    client.post(accept_url(token))
    assert Membership.objects.filter(user=existing, utility=utility_a).exists()


def test_it_refuses_someone_signed_in_as_another_account(client, send):
    token = send("intended@example.test")
    intruder = UserFactory()
    client.force_login(intruder)
    page = client.get(accept_url(token))
    assert page.status_code == 403
    assert b"intended@example.test" in page.content
    response = client.post(accept_url(token))
    assert response.status_code == 403
    assert not User.objects.filter(email="intended@example.test").exists()
    assert not Membership.objects.filter(user=intruder).exists()


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        ("expired", "Invitation expired"),
        ("revoked", "Invitation withdrawn"),
        ("accepted", "Invitation already accepted"),
    ],
)
def test_it_explains_an_unusable_invitation(client, send, status, heading):
    token = send(f"{status}@example.test")
    invitation = Invitation.objects.get()
    now = timezone.now()
    if status == "expired":
        invitation.expires_at = now - timedelta(minutes=1)
    elif status == "revoked":
        invitation.revoked_at = now
    else:
        invitation.accepted_at = now
    invitation.save()
    for method in (client.get, client.post):
        response = method(accept_url(token))
        assert response.status_code == 410
        assert heading in response.content.decode()
    assert not User.objects.filter(email=f"{status}@example.test").exists()


@pytest.mark.parametrize("token", ["nope", "x" * 300, "%00", "%E2%98%83"])
def test_it_answers_an_unknown_token_with_a_clear_404(client, token, db):
    response = client.get(f"/invite/{token}/")
    assert response.status_code == 404
    assert b"not valid" in response.content


def test_it_accepts_an_installer_invitation_into_the_company(client, send):
    company = InstallerCompanyFactory()
    token = send("crew@example.test", role=Role.INSTALLER_USER, organization=company)
    response = new_account(client, token)
    assert response.url == reverse("installer_workspace", kwargs={"org_slug": company.slug})
    assert Membership.objects.filter(
        user__email="crew@example.test", installer=company, role=Role.INSTALLER_USER
    ).exists()


def test_it_accepts_an_ahj_reviewer_invitation(client, send):
    ahj = AHJFactory()
    token = send("reviewer@example.test", role=Role.AHJ_REVIEWER, organization=ahj)
    response = new_account(client, token)
    assert response.url == reverse("ahj_workspace", kwargs={"org_slug": ahj.slug})
    assert Membership.objects.filter(user__email="reviewer@example.test", ahj=ahj).exists()


# --- The email task ---------------------------------------------------------------------------


def test_it_emails_only_once_the_invitation_is_committed(
    utility_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = invite(
            email="pending@example.test",
            role=Role.AUDITOR,
            organization=utility_a,
            invited_by=None,
            audit_utility=utility_a,
        )
    assert len(callbacks) == 1
    assert invitation.sent_at is None
    assert not mail.outbox


def test_it_sends_once_even_when_the_message_is_delivered_twice(send):
    send("once@example.test")
    invitation = Invitation.objects.get()
    token_hash = invitation.token_hash
    send_invitation.apply(kwargs={"invitation_id": invitation.pk})
    invitation.refresh_from_db()
    assert len(mail.outbox) == 1
    assert invitation.token_hash == token_hash


def test_it_skips_revoked_and_missing_invitations(utility_a):
    _, token_hash = Invitation.new_token()
    invitation = Invitation.objects.create(
        email="gone@example.test",
        role=Role.AUDITOR,
        utility=utility_a,
        token_hash=token_hash,
        expires_at=timezone.now() + timedelta(days=1),
        revoked_at=timezone.now(),
    )
    send_invitation.apply(kwargs={"invitation_id": invitation.pk})
    send_invitation.apply(kwargs={"invitation_id": invitation.pk + 1000})
    assert not mail.outbox


class FlakyBackend(EmailBackend):
    """The mail server drops the first connection, then works."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


def test_it_retries_a_dropped_mail_server_and_sends_a_working_link(
    client, utility_a, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.failures = 1
    with django_capture_on_commit_callbacks(execute=True):
        invite(
            email="retry@example.test",
            role=Role.AUDITOR,
            organization=utility_a,
            invited_by=None,
            audit_utility=utility_a,
        )
    assert FlakyBackend.failures == 0
    assert len(mail.outbox) == 1
    token = mail.outbox[0].body.split("/invite/")[1].split("/")[0]
    assert client.get(accept_url(token)).status_code == 200


def test_it_does_not_retry_a_programming_error(utility_a, monkeypatch):
    _, token_hash = Invitation.new_token()
    invitation = Invitation.objects.create(
        email="bug@example.test",
        role=Role.AUDITOR,
        utility=utility_a,
        token_hash=token_hash,
        expires_at=timezone.now() + timedelta(days=1),
    )
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise KeyError("template bug")

    monkeypatch.setattr("portal.tasks._send", broken)
    result = send_invitation.apply(kwargs={"invitation_id": invitation.pk})
    assert isinstance(result.result, KeyError)
    assert len(calls) == 1
    invitation.refresh_from_db()
    assert invitation.sent_at is None  # rolled back, so a later resend still sends


def test_it_names_the_tasks_stably():
    from portal.tasks import notify_access_request

    assert send_invitation.name == "portal.send_invitation"
    assert notify_access_request.name == "portal.notify_access_request"
