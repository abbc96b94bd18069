"""Installer access requests: the public form, the installer admin's form, and the program
admin's decision."""

import threading

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from portal.identity.services.access_requests import approve_access_request, submit_access_request
from portal.identity.services.errors import AccessRequestAlreadyDecided, DuplicateAccessRequest
from portal.models import (
    AccessRequest,
    AuditEvent,
    InstallerApproval,
    InstallerCompany,
    Invitation,
)
from portal.roles import Role
from portal.tasks import notify_access_request
from tests.portal.factories import InstallerApprovalFactory, InstallerCompanyFactory, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _eager_tasks_and_fresh_rate_limits(eager_tasks):
    cache.clear()  # the public form's rate limit counts per IP in the cache
    yield
    cache.clear()


@pytest.fixture
def program_admin(utility_a):
    return make_member(Role.PROGRAM_ADMIN, utility=utility_a)


@pytest.fixture
def admin_client(client, program_admin, monkeypatch):
    monkeypatch.setattr("portal.middleware.requires_mfa", lambda user: False)
    client.force_login(program_admin)
    return client


def public_form(for_utility, **overrides):
    return {
        "company_name": "Sunrise Electric",
        "license_state": "ca",
        "license_number": " c10-555111 ",
        "contact_name": "Dana Reyes",
        "contact_email": "Dana@Sunrise.example",
        "utility": for_utility.pk,
        "message": "We install bidirectional chargers in the county.",
        **overrides,
    }


def submit(client, captured, data):
    with captured(execute=True):
        return client.post(reverse("request_access"), data)


def pending_request(utility, **fields):
    defaults = {
        "company_name": "Sunrise Electric",
        "license_state": "CA",
        "license_number": "C10-555111",
        "contact_name": "Dana Reyes",
        "contact_email": "dana@sunrise.example",
    }
    with scope(utility=utility.pk):
        return AccessRequest.objects.create(utility=utility, **{**defaults, **fields})


def detail_url(access_request):
    return reverse(
        "utility:access_request_detail",
        kwargs={"utility_slug": access_request.utility.slug, "pk": access_request.pk},
    )


def audit_actions():
    with scopes_disabled():
        return list(AuditEvent.objects.values_list("action", flat=True))


# --- Public form ------------------------------------------------------------------------------


def test_it_takes_a_request_from_an_anonymous_installer(
    client, utility_a, program_admin, django_capture_on_commit_callbacks
):
    assert client.get(reverse("request_access")).status_code == 200
    response = submit(client, django_capture_on_commit_callbacks, public_form(utility_a))
    assert response.status_code == 302
    assert response.url == reverse("request_access_sent")
    with scope(utility=utility_a.pk):
        access_request = AccessRequest.objects.get()
    assert access_request.license_state == "CA"
    assert access_request.license_number == "C10-555111"
    assert access_request.contact_email == "dana@sunrise.example"
    assert access_request.installer is None
    assert access_request.status == AccessRequest.Status.PENDING
    assert mail.outbox[0].to == [program_admin.email]
    assert "Sunrise Electric" in mail.outbox[0].subject
    assert detail_url(access_request) in mail.outbox[0].body
    assert {"access_request.submitted", "access_request.notified"} <= set(audit_actions())


def test_it_validates_the_public_form(client, utility_a):
    response = client.post(
        reverse("request_access"),
        public_form(utility_a, license_state="California", contact_email="nope", utility=9999),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert {"license_state", "contact_email", "utility"} <= set(errors)
    with scopes_disabled():
        assert not AccessRequest.objects.exists()


def test_it_refuses_a_second_pending_request_for_the_same_licence(
    client, utility_a, utility_b, django_capture_on_commit_callbacks
):
    submit(client, django_capture_on_commit_callbacks, public_form(utility_a))
    response = submit(
        client,
        django_capture_on_commit_callbacks,
        public_form(utility_a, company_name="Other name", license_number="C10-555111"),
    )
    assert response.status_code == 200
    assert "already waiting" in " ".join(response.context["form"].errors["license_number"])
    # The same licence may ask another utility.
    response = submit(client, django_capture_on_commit_callbacks, public_form(utility_b))
    assert response.status_code == 302
    with scopes_disabled():
        assert AccessRequest.objects.count() == 2


def test_it_turns_a_racing_duplicate_into_the_same_form_error(utility_a, monkeypatch):
    pending_request(utility_a)
    # Pretend the pre-check ran before the other request committed: the unique index decides.
    monkeypatch.setattr("django.db.models.query.QuerySet.exists", lambda self: False)
    with pytest.raises(DuplicateAccessRequest):
        submit_access_request(
            utility=utility_a,
            company_name="Sunrise Electric",
            license_state="CA",
            license_number="C10-555111",
            contact_name="Dana",
            contact_email="dana@sunrise.example",
        )


def test_it_tells_an_already_approved_company_to_ask_its_admin(
    client, utility_a, django_capture_on_commit_callbacks
):
    company = InstallerCompanyFactory(license_number="C10-777000")
    InstallerApprovalFactory(utility=utility_a, installer=company)
    response = submit(
        client,
        django_capture_on_commit_callbacks,
        public_form(utility_a, license_number="c10-777000"),
    )
    assert response.status_code == 200
    assert "already approved" in " ".join(response.context["form"].errors["license_number"])


def test_it_rate_limits_the_public_form(
    client, utility_a, settings, django_capture_on_commit_callbacks
):
    settings.ACCOUNT_RATE_LIMITS = {
        **settings.ACCOUNT_RATE_LIMITS,
        "portal_request_access": "2/h/ip",
    }
    for n in range(2):
        data = public_form(utility_a, license_number=f"C10-{n}")
        assert submit(client, django_capture_on_commit_callbacks, data).status_code == 302
    response = submit(
        client, django_capture_on_commit_callbacks, public_form(utility_a, license_number="C10-9")
    )
    assert response.status_code == 429
    assert b"Too many requests" in response.content


# --- Installer admin's request ----------------------------------------------------------------


def test_it_lets_an_installer_admin_ask_for_another_utility(
    client, utility_a, utility_b, django_capture_on_commit_callbacks
):
    company = InstallerCompanyFactory()
    InstallerApprovalFactory(utility=utility_a, installer=company)
    installer_admin = make_member(Role.INSTALLER_ADMIN, installer=company)
    bravo_admin = make_member(Role.PROGRAM_ADMIN, utility=utility_b)
    client.force_login(installer_admin)
    url = reverse("installer_request_access", kwargs={"org_slug": company.slug})
    page = client.get(url)
    assert page.status_code == 200
    choices = list(page.context["form"].fields["utility"].queryset)
    assert choices == [utility_b]  # already approved in Alpha
    response = client.post(url, {"utility": utility_a.pk})
    assert "utility" in response.context["form"].errors
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"utility": utility_b.pk, "message": "Expanding east."})
    assert response.status_code == 302
    with scope(utility=utility_b.pk):
        access_request = AccessRequest.objects.get()
    assert access_request.installer == company
    assert access_request.contact_email == installer_admin.email
    assert mail.outbox[0].to == [bravo_admin.email]


def test_it_keeps_installer_users_and_outsiders_from_requesting(client, utility_a):
    company = InstallerCompanyFactory()
    url = reverse("installer_request_access", kwargs={"org_slug": company.slug})
    client.force_login(make_member(Role.INSTALLER_USER, installer=company))
    assert client.get(url).status_code == 403
    client.force_login(make_member(Role.INSTALLER_ADMIN, installer=InstallerCompanyFactory()))
    assert client.get(url).status_code == 404


# --- Program admin's decision -----------------------------------------------------------------


def test_it_lists_pending_requests_for_the_utility_only(admin_client, utility_a, utility_b):
    mine = pending_request(utility_a, company_name="Mine Co")
    pending_request(utility_b, company_name="Theirs Co")
    response = admin_client.get(reverse("utility:access_request_list", args=["alpha"]))
    assert response.status_code == 200
    assert list(response.context["access_requests"]) == [mine]
    assert b"Theirs Co" not in response.content


def test_it_gives_404_for_another_utilitys_request(admin_client, utility_b):
    theirs = pending_request(utility_b)
    url = reverse(
        "utility:access_request_detail", kwargs={"utility_slug": "alpha", "pk": theirs.pk}
    )
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url, {"decision": "approved"}).status_code == 404
    with scope(utility=utility_b.pk):
        assert AccessRequest.objects.get().status == AccessRequest.Status.PENDING


def test_it_needs_the_decide_capability(client, utility_a):
    access_request = pending_request(utility_a)
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    assert client.get(detail_url(access_request)).status_code == 403
    assert client.post(detail_url(access_request), {"decision": "approved"}).status_code == 403
    list_url = reverse("utility:access_request_list", args=["alpha"])
    assert client.get(list_url).status_code == 403


def test_it_approves_a_new_company_end_to_end(
    admin_client, utility_a, program_admin, django_capture_on_commit_callbacks
):
    access_request = pending_request(utility_a)
    page = admin_client.get(detail_url(access_request))
    assert b"Approving creates the company" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(detail_url(access_request), {"decision": "approved"})
    assert response.status_code == 302
    company = InstallerCompany.objects.get(license_number="C10-555111")
    assert (company.name, company.slug) == ("Sunrise Electric", "sunrise-electric")
    with scope(utility=utility_a.pk):
        access_request.refresh_from_db()
        approval = InstallerApproval.objects.get(installer=company)
    assert access_request.status == AccessRequest.Status.APPROVED
    assert access_request.decided_by == program_admin
    assert access_request.installer == company
    assert (approval.active, approval.approved_by) == (True, program_admin)
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.installer, invitation.role) == (
        "dana@sunrise.example",
        company,
        Role.INSTALLER_ADMIN,
    )
    recipients = sorted(tuple(m.to) for m in mail.outbox)
    assert recipients == [("dana@sunrise.example",), ("dana@sunrise.example",)]
    subjects = " | ".join(m.subject for m in mail.outbox)
    assert "approved" in subjects and "invited" in subjects
    assert {
        "access_request.approved",
        "installer_company.created",
        "installer_approval.created",
        "invitation.created",
    } <= set(audit_actions())


def test_it_approves_an_existing_company_without_re_inviting_its_member(
    admin_client, utility_a, django_capture_on_commit_callbacks
):
    company = InstallerCompanyFactory(license_number="C10-555111")
    member = make_member(Role.INSTALLER_ADMIN, installer=company)
    InstallerApprovalFactory(utility=utility_a, installer=company, active=False)
    access_request = pending_request(utility_a, installer=company, contact_email=member.email)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(detail_url(access_request), {"decision": "approved"})
    assert InstallerCompany.objects.count() == 1
    with scope(utility=utility_a.pk):
        assert InstallerApproval.objects.get().active
    assert not Invitation.objects.exists()
    assert "installer_approval.reactivated" in audit_actions()


def test_it_invites_a_new_contact_of_a_known_licence_after_warning(
    admin_client, utility_a, django_capture_on_commit_callbacks
):
    company = InstallerCompanyFactory(name="Sunrise Electric", license_number="C10-555111")
    access_request = pending_request(utility_a)  # public form: no company linked
    page = admin_client.get(detail_url(access_request))
    assert b"already in the portal" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(detail_url(access_request), {"decision": "approved"})
    assert InstallerCompany.objects.count() == 1
    assert Invitation.objects.get().installer == company


def test_it_gives_a_name_clash_its_own_company(admin_client, utility_a):
    InstallerCompanyFactory(name="Sunrise Electric", slug="sunrise-electric", license_number="X1")
    access_request = pending_request(utility_a)
    admin_client.post(detail_url(access_request), {"decision": "approved"})
    company = InstallerCompany.objects.get(license_number="C10-555111")
    assert company.name == "Sunrise Electric (CA C10-555111)"
    assert company.slug == "sunrise-electric-ca-c10-555111"


def test_it_requires_a_reason_to_reject(admin_client, utility_a):
    access_request = pending_request(utility_a)
    response = admin_client.post(
        detail_url(access_request), {"decision": "rejected", "reason": " "}
    )
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    with scope(utility=utility_a.pk):
        access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.PENDING


def test_it_rejects_with_a_reason_and_tells_the_contact(
    admin_client, utility_a, django_capture_on_commit_callbacks
):
    access_request = pending_request(utility_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            detail_url(access_request),
            {"decision": "rejected", "reason": "Licence lapsed in March."},
        )
    assert response.status_code == 302
    with scope(utility=utility_a.pk):
        access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.REJECTED
    assert access_request.decision_reason == "Licence lapsed in March."
    assert not InstallerCompany.objects.exists()
    assert mail.outbox[0].to == ["dana@sunrise.example"]
    assert "Licence lapsed in March." in mail.outbox[0].body
    with scopes_disabled():
        event = AuditEvent.objects.get(action="access_request.rejected")
    assert (event.from_state, event.to_state, event.comment) == (
        "pending",
        "rejected",
        "Licence lapsed in March.",
    )


def test_it_tells_the_second_decider_it_was_already_decided(
    client, admin_client, utility_a, program_admin
):
    access_request = pending_request(utility_a)
    second_admin = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    second = type(client)()
    second.force_login(second_admin)
    assert second.get(detail_url(access_request)).status_code == 200  # both see "pending"
    admin_client.post(detail_url(access_request), {"decision": "approved"})
    response = second.post(
        detail_url(access_request), {"decision": "rejected", "reason": "Too late"}, follow=True
    )
    assert response.status_code == 200
    assert f"already approved by {program_admin.email}" in response.content.decode()
    with scope(utility=utility_a.pk):
        access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.APPROVED
    assert access_request.decision_reason == ""
    assert InstallerCompany.objects.count() == 1
    assert InstallerApproval.objects.with_scopes_disabled().count() == 1
    assert Invitation.objects.count() == 1
    assert audit_actions().count("access_request.approved") == 1
    assert "access_request.rejected" not in audit_actions()


@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_two_concurrent_approvals_win(utility_a):
    access_request = pending_request(utility_a)
    admins = [make_member(Role.PROGRAM_ADMIN, utility=utility_a) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(admin):
        try:
            with scope(utility=utility_a.pk):
                barrier.wait()
                approve_access_request(
                    utility=utility_a, access_request_id=access_request.pk, actor=admin
                )
            outcomes.append("won")
        except AccessRequestAlreadyDecided:
            outcomes.append("already decided")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already decided", "won"]
    assert audit_actions().count("access_request.approved") == 1
    assert InstallerCompany.objects.count() == 1
    assert Invitation.objects.count() == 1


def test_it_skips_a_stale_or_repeated_notification(utility_a, program_admin):
    access_request = pending_request(utility_a)
    kwargs = {
        "utility_id": utility_a.pk,
        "access_request_id": access_request.pk,
        "event": "created",
    }
    notify_access_request.apply(kwargs=kwargs)
    notify_access_request.apply(kwargs=kwargs)  # redelivered
    assert len(mail.outbox) == 1
    notify_access_request.apply(kwargs={**kwargs, "event": "approved"})  # still pending
    assert len(mail.outbox) == 1


def test_it_notifies_no_one_when_the_utility_has_no_program_admin(utility_a):
    make_member(Role.AUDITOR, utility=utility_a)
    access_request = pending_request(utility_a)
    notify_access_request.apply(
        kwargs={
            "utility_id": utility_a.pk,
            "access_request_id": access_request.pk,
            "event": "created",
        }
    )
    assert not mail.outbox


def test_it_shows_the_request_on_the_installer_workspace(client, utility_a):
    company = InstallerCompanyFactory()
    pending_request(utility_a, installer=company, license_number=company.license_number)
    client.force_login(make_member(Role.INSTALLER_ADMIN, installer=company))
    response = client.get(reverse("installer_workspace", kwargs={"org_slug": company.slug}))
    assert b"Pending" in response.content
