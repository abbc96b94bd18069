"""Reads for identity: teams (memberships and invitations), invitees, access requests.

Membership and Invitation are not tenant-scoped tables, so every query here names its
organization explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db.models import Q, QuerySet
from django_scopes import scopes_disabled

from portal.models import (
    AHJ,
    AccessRequest,
    InstallerApproval,
    InstallerCompany,
    Invitation,
    Membership,
    User,
    Utility,
)
from portal.roles import (
    GRANTABLE_BY_INSTALLER_ADMIN,
    GRANTABLE_BY_UTILITY_ADMIN,
    OrgKind,
    Role,
)


def ahjs_in_territory(*, utility: Utility) -> QuerySet[AHJ]:
    """AHJs whose jurisdiction overlaps the utility's territory (explicit join, no scope)."""
    return AHJ.objects.filter(territories__utility=utility).order_by("name")


@dataclass(frozen=True)
class Team:
    """The people an admin manages: a utility's staff plus the reviewers of the AHJs in its
    territory (AHJs have no admin of their own), or an installer company's staff."""

    kind: str  # OrgKind.UTILITY | OrgKind.INSTALLER
    organization: Utility | InstallerCompany

    def _filter(self) -> Q:
        if self.kind == OrgKind.UTILITY:
            return Q(utility=self.organization) | Q(
                ahj__in=ahjs_in_territory(utility=self.organization)
            )
        return Q(installer=self.organization)

    def memberships(self) -> QuerySet[Membership]:
        return (
            Membership.objects.filter(self._filter())
            .select_related("user", "ahj")
            .order_by("user__email", "role")
        )

    def invitations(self) -> QuerySet[Invitation]:
        return (
            Invitation.objects.filter(self._filter())
            .select_related("ahj", "invited_by", "accepted_by")
            .order_by("-created_at", "-pk")
        )

    @property
    def grantable_roles(self) -> list[str]:
        if self.kind == OrgKind.UTILITY:
            return [*GRANTABLE_BY_UTILITY_ADMIN, Role.AHJ_REVIEWER]
        return list(GRANTABLE_BY_INSTALLER_ADMIN)


def utility_team(utility: Utility) -> Team:
    return Team(kind=OrgKind.UTILITY, organization=utility)


def installer_team(company: InstallerCompany) -> Team:
    return Team(kind=OrgKind.INSTALLER, organization=company)


def invitation_for_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.by_token(token)
        .select_related("utility", "installer", "ahj", "invited_by", "accepted_by")
        .first()
    )


def user_for_email(email: str) -> User | None:
    """The account that owns ``email``: as its login, or as a verified extra address."""
    user = User.objects.filter(email__iexact=email).first()
    if user is not None:
        return user
    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .select_related("user")
        .first()
    )
    return address.user if address is not None else None


def company_with_licence(*, license_state: str, license_number: str) -> InstallerCompany | None:
    return InstallerCompany.objects.filter(
        license_state__iexact=license_state, license_number__iexact=license_number
    ).first()


def access_requests(*, status: str | None) -> QuerySet[AccessRequest]:
    """The current utility's access requests (scoped), newest first."""
    qs = AccessRequest.objects.select_related("installer", "decided_by")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def program_admin_emails(*, utility: Utility) -> list[str]:
    return sorted(
        set(
            Membership.objects.filter(
                utility=utility, role=Role.PROGRAM_ADMIN, user__is_active=True
            ).values_list("user__email", flat=True)
        )
    )


def requestable_utilities(*, company: InstallerCompany) -> QuerySet[Utility]:
    """Utilities the company could still ask for: not approved there, nothing pending."""
    with scopes_disabled():
        approved = set(
            InstallerApproval.objects.filter(installer=company, active=True).values_list(
                "utility_id", flat=True
            )
        )
        pending = set(
            AccessRequest.objects.filter(
                installer=company, status=AccessRequest.Status.PENDING
            ).values_list("utility_id", flat=True)
        )
    return Utility.objects.exclude(pk__in=approved | pending).order_by("name")
