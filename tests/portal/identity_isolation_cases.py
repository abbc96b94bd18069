"""Tenant-isolation cases for the identity pages, to be merged into the suite in
tests/portal/test_tenant_isolation.py (``**IDENTITY_CASES`` into UTILITY_CASES,
``**IDENTITY_NOT_TENANT_DATA`` into NOT_TENANT_DATA). Every ``make`` may run several times
for one utility in one test, so each row it creates is numbered."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

from django.utils import timezone
from django_scopes import scope

from portal.models import AccessRequest, Invitation, Membership
from portal.roles import Role
from tests.isolation import Case, pk_kwargs
from tests.portal.factories import UserFactory, make_member

_serial = count(1)


def _membership(utility) -> Membership:
    user = UserFactory(email=f"{utility.slug}-marker-member-{next(_serial)}@example.test")
    make_member(Role.PROGRAM_ANALYST, utility=utility, user=user)
    return Membership.objects.get(user=user, utility=utility)


def _invitation(utility) -> Invitation:
    _, token_hash = Invitation.new_token()
    return Invitation.objects.create(
        email=f"{utility.slug}-marker-invitee-{next(_serial)}@example.test",
        role=Role.AUDITOR,
        utility=utility,
        token_hash=token_hash,
        expires_at=timezone.now() + timedelta(days=7),
    )


def _access_request(utility) -> AccessRequest:
    n = next(_serial)
    with scope(utility=utility.pk):
        return AccessRequest.objects.create(
            utility=utility,
            company_name=f"{utility.name} Marker Installer {n}",
            license_number=f"C10-{900000 + n}",
            contact_name="Marker Contact",
            contact_email=f"contact-{n}@example.test",
        )


def _email(obj) -> str:
    return obj.user.email if isinstance(obj, Membership) else obj.email


IDENTITY_CASES: dict[str, Case] = {
    "utility:member_list": Case(make=_membership, marker=_email),
    "utility:membership_revoke": Case(make=_membership, kwargs=pk_kwargs, marker=_email),
    "utility:invitation_revoke": Case(make=_invitation, kwargs=pk_kwargs, marker=_email),
    "utility:invitation_resend": Case(make=_invitation, kwargs=pk_kwargs, marker=_email),
    "utility:access_request_list": Case(make=_access_request, marker=lambda r: r.company_name),
    "utility:access_request_detail": Case(
        make=_access_request, kwargs=pk_kwargs, marker=lambda r: r.company_name
    ),
}

IDENTITY_NOT_TENANT_DATA: dict[str, str] = {
    "request_access": "public form; writes inside the chosen utility's scope "
    "(test_identity_access_requests)",
    "request_access_sent": "static thank-you page",
    "installer_request_access": "the installer admin's own company only "
    "(test_identity_access_requests)",
    "installer_team": "the installer admin's own company only (test_identity_team)",
    "installer_membership_revoke": "rows of the admin's own company only (test_identity_team)",
    "installer_invitation_revoke": "rows of the admin's own company only (test_identity_team)",
    "installer_invitation_resend": "rows of the admin's own company only (test_identity_team)",
    "accept_invitation": "the invitation named by its secret token, for the invited "
    "email only (test_identity_invitations)",
}
