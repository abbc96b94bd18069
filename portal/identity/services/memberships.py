"""Memberships: which organization a role belongs to, and removing a role without leaving an
organization with nobody in charge."""

from __future__ import annotations

from django.db import transaction

from portal.audit import record
from portal.identity.services.errors import LastAdmin
from portal.models import AHJ, InstallerCompany, Membership, User, Utility
from portal.roles import ROLE_ORG_KIND, OrgKind, Role

Organization = Utility | InstallerCompany | AHJ

# The role that keeps an organization manageable; its last holder cannot be removed.
ADMIN_ROLE = {OrgKind.UTILITY: Role.PROGRAM_ADMIN, OrgKind.INSTALLER: Role.INSTALLER_ADMIN}

_ORG_FIELD = {OrgKind.UTILITY: "utility", OrgKind.INSTALLER: "installer", OrgKind.AHJ: "ahj"}
_ORG_MODEL = {OrgKind.UTILITY: Utility, OrgKind.INSTALLER: InstallerCompany, OrgKind.AHJ: AHJ}


def org_kwargs(*, role: str, organization: Organization) -> dict[str, Organization]:
    """The one organization foreign key ``role`` sets, as keyword arguments."""
    kind = ROLE_ORG_KIND[role]
    if not isinstance(organization, _ORG_MODEL[kind]):
        raise ValueError(f"Role {role} belongs to a {kind}, not to {organization!r}.")
    return {_ORG_FIELD[kind]: organization}


@transaction.atomic
def revoke_membership(
    *, membership: Membership, actor: User, audit_utility: Utility | None
) -> None:
    org_fields = {_ORG_FIELD[membership.org_kind]: membership.organization}
    admin_role = ADMIN_ROLE.get(membership.org_kind)
    if membership.role == admin_role:
        # Lock every admin row of the organization, so two admins removing each other at
        # the same moment cannot both succeed and leave nobody in charge.
        admin_ids = list(
            Membership.objects.select_for_update()
            .filter(role=admin_role, **org_fields)
            .values_list("pk", flat=True)
        )
        if admin_ids == [membership.pk]:
            who = "You are" if membership.user_id == actor.pk else f"{membership.user.email} is"
            raise LastAdmin(
                f"{who} the last {Role(admin_role).label} of {membership.organization}. "
                "Invite another one before removing this role."
            )
    deleted, _ = Membership.objects.filter(pk=membership.pk).delete()
    if not deleted:
        return  # someone else removed it first; the outcome is the same
    record(
        action="membership.revoked",
        utility=audit_utility,
        obj=membership,
        actor=actor,
        from_state=membership.role,
        changes={"user": membership.user.email, "organization": str(membership.organization)},
    )
