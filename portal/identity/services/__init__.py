"""Writes for identity: invitations, memberships and installer access requests.

Every state change locks or compare-and-sets its row, writes an audit row and schedules its
emails with ``enqueue_on_commit``, so a rolled-back change never sends anything.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django_scopes import scope

from portal.audit import record
from portal.errors import DomainError
from portal.identity import selectors
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
from portal.roles import ROLE_ORG_KIND, OrgKind, Role
from portal.tasking import enqueue_on_commit

Organization = Utility | InstallerCompany | AHJ

# The role that keeps an organization manageable; its last holder cannot be removed.
ADMIN_ROLE = {OrgKind.UTILITY: Role.PROGRAM_ADMIN, OrgKind.INSTALLER: Role.INSTALLER_ADMIN}

_ORG_FIELD = {OrgKind.UTILITY: "utility", OrgKind.INSTALLER: "installer", OrgKind.AHJ: "ahj"}
_ORG_MODEL = {OrgKind.UTILITY: Utility, OrgKind.INSTALLER: InstallerCompany, OrgKind.AHJ: AHJ}


class IdentityError(DomainError):
    """A refused identity action."""

    code = "identity_error"


class AlreadyInvited(IdentityError):
    code = "already_invited"


class AlreadyMember(IdentityError):
    code = "already_member"


class LastAdmin(IdentityError):
    code = "last_admin"


class InvitationUnavailable(IdentityError):
    """The invitation is unknown, expired, revoked or already accepted (``status``)."""

    code = "invitation_unavailable"

    def __init__(self, message: str, *, status: str, invitation: Invitation | None = None):
        super().__init__(message)
        self.status = status
        self.invitation = invitation


class WrongAccount(IdentityError):
    code = "wrong_account"


class AccessRequestAlreadyDecided(IdentityError):
    code = "already_decided"

    def __init__(self, message: str, *, access_request: AccessRequest | None = None):
        super().__init__(message)
        self.access_request = access_request


class DuplicateAccessRequest(IdentityError):
    code = "duplicate_access_request"


class AlreadyApproved(IdentityError):
    code = "already_approved"


# --- Invitations ------------------------------------------------------------------------------


def _org_kwargs(*, role: str, organization: Organization) -> dict[str, Organization]:
    kind = ROLE_ORG_KIND[role]
    if not isinstance(organization, _ORG_MODEL[kind]):
        raise ValueError(f"Role {role} belongs to a {kind}, not to {organization!r}.")
    return {_ORG_FIELD[kind]: organization}


def _new_expiry():
    return timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS)


def _schedule_invitation_email(invitation: Invitation) -> None:
    from portal.tasks import send_invitation

    enqueue_on_commit(send_invitation, invitation_id=invitation.pk)


@transaction.atomic
def invite(
    *,
    email: str,
    role: str,
    organization: Organization,
    invited_by: User | None,
    audit_utility: Utility | None,
) -> Invitation:
    """Invite ``email`` to hold ``role`` in ``organization``; the email goes out on commit.

    ``audit_utility`` is the utility the action is recorded under (None for an installer
    company inviting its own staff)."""
    email = email.strip().lower()
    org_kwargs = _org_kwargs(role=role, organization=organization)
    role_label = Role(role).label
    if Membership.objects.filter(user__email__iexact=email, role=role, **org_kwargs).exists():
        raise AlreadyMember(f"{email} is already a {role_label} of {organization}.")
    if Invitation.objects.open().filter(email__iexact=email, role=role, **org_kwargs).exists():
        raise AlreadyInvited(
            f"{email} already has an open invitation as {role_label}. Resend it instead."
        )
    # The token that works is minted by the email task; this placeholder's token is discarded,
    # so the invitation cannot be accepted before its email exists.
    _, placeholder_hash = Invitation.new_token()
    invitation = Invitation.objects.create(
        email=email,
        role=role,
        token_hash=placeholder_hash,
        invited_by=invited_by,
        expires_at=_new_expiry(),
        **org_kwargs,
    )
    record(
        action="invitation.created",
        utility=audit_utility,
        obj=invitation,
        actor=invited_by,
        to_state="open",
        changes={"email": email, "role": role, "organization": str(organization)},
    )
    _schedule_invitation_email(invitation)
    return invitation


def _lock_invitation(pk: int) -> Invitation:
    return Invitation.objects.select_for_update(of=("self",)).get(pk=pk)


@transaction.atomic
def revoke_invitation(
    *, invitation: Invitation, actor: User, audit_utility: Utility | None
) -> None:
    previous = invitation.status
    revoked = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if revoked != 1:
        current = Invitation.objects.get(pk=invitation.pk)
        raise InvitationUnavailable(
            f"The invitation for {invitation.email} is already {current.status}.",
            status=current.status,
            invitation=current,
        )
    record(
        action="invitation.revoked",
        utility=audit_utility,
        obj=invitation,
        actor=actor,
        from_state=previous,
        to_state="revoked",
    )


@transaction.atomic
def resend_invitation(
    *, invitation: Invitation, actor: User, audit_utility: Utility | None
) -> Invitation:
    """A fresh token, a fresh expiry and a new email; the old link stops working now."""
    invitation = _lock_invitation(invitation.pk)
    previous = invitation.status
    if previous in ("accepted", "revoked"):
        raise InvitationUnavailable(
            f"The invitation for {invitation.email} is already {previous}; it cannot be resent.",
            status=previous,
            invitation=invitation,
        )
    _, invitation.token_hash = Invitation.new_token()
    invitation.expires_at = _new_expiry()
    invitation.sent_at = None  # "an email is owed": the task sends once, then sets it
    invitation.save(update_fields=["token_hash", "expires_at", "sent_at"])
    record(
        action="invitation.resent",
        utility=audit_utility,
        obj=invitation,
        actor=actor,
        from_state=previous,
        to_state="open",
    )
    _schedule_invitation_email(invitation)
    return invitation


def _lock_invitation_by_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.by_token(token)
        .select_for_update(of=("self",))
        .select_related("utility", "installer", "ahj")
        .first()
    )
    if invitation is None:
        raise InvitationUnavailable(
            "This invitation link is not valid. If you were sent a newer invitation, use the "
            "link in that email, or ask the person who invited you to resend it.",
            status="unknown",
        )
    status = invitation.status
    if status == "open":
        return invitation
    messages = {
        "accepted": "This invitation has already been accepted.",
        "revoked": "This invitation was withdrawn by the organization that sent it.",
        "expired": "This invitation has expired. Ask the person who invited you to resend it.",
    }
    raise InvitationUnavailable(messages[status], status=status, invitation=invitation)


def _grant(invitation: Invitation, user: User) -> Membership:
    membership, created = Membership.objects.get_or_create(
        user=user,
        role=invitation.role,
        utility=invitation.utility,
        installer=invitation.installer,
        ahj=invitation.ahj,
        defaults={"created_by": invitation.invited_by},
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record(
        action="invitation.accepted",
        utility=invitation.utility,
        obj=invitation,
        actor=user,
        from_state="open",
        to_state="accepted",
    )
    if created:
        record(
            action="membership.created",
            utility=invitation.utility,
            obj=membership,
            actor=user,
            to_state=membership.role,
            changes={"user": user.email, "organization": str(invitation.organization)},
        )
    # The per-object membership cache would otherwise hide the new workspace this request.
    user.__dict__.pop("_portal_memberships", None)
    return membership


@transaction.atomic
def accept_invitation(*, token: str, user: User) -> Membership:
    """An existing, signed-in person accepts an invitation addressed to one of their emails."""
    invitation = _lock_invitation_by_token(token)
    if selectors.user_for_email(invitation.email) != user:
        raise WrongAccount(
            f"This invitation is for {invitation.email}, but you are signed in as "
            f"{user.email}. Sign out, then open the link again."
        )
    return _grant(invitation, user)


@transaction.atomic
def accept_invitation_as_new_user(*, token: str, full_name: str, password: str) -> Membership:
    """Someone new accepts: their account is created with the invited (so verified) email."""
    invitation = _lock_invitation_by_token(token)
    if selectors.user_for_email(invitation.email) is not None:
        raise WrongAccount(
            f"An account for {invitation.email} already exists. Sign in to accept the invitation."
        )
    user = User.objects.create_user(
        email=invitation.email, password=password, full_name=full_name.strip()
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    record(
        action="user.created",
        utility=invitation.utility,
        obj=user,
        actor=user,
        comment="Account created by accepting an invitation.",
    )
    return _grant(invitation, user)


# --- Memberships ------------------------------------------------------------------------------


@transaction.atomic
def revoke_membership(
    *, membership: Membership, actor: User, audit_utility: Utility | None
) -> None:
    org_kwargs = {_ORG_FIELD[membership.org_kind]: membership.organization}
    admin_role = ADMIN_ROLE.get(membership.org_kind)
    if membership.role == admin_role:
        # Lock every admin row of the organization, so two admins removing each other at
        # the same moment cannot both succeed and leave nobody in charge.
        admin_ids = list(
            Membership.objects.select_for_update()
            .filter(role=admin_role, **org_kwargs)
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


# --- Access requests --------------------------------------------------------------------------


def _notify_access_request(access_request: AccessRequest, event: str) -> None:
    from portal.tasks import notify_access_request

    enqueue_on_commit(
        notify_access_request,
        utility_id=access_request.utility_id,
        access_request_id=access_request.pk,
        event=event,
    )


def submit_access_request(
    *,
    utility: Utility,
    company_name: str,
    license_state: str,
    license_number: str,
    contact_name: str,
    contact_email: str,
    message: str = "",
    installer: InstallerCompany | None = None,
    actor: User | None = None,
) -> AccessRequest:
    """An installer company (new, or ``installer``) asks to work in ``utility``. Opens the
    utility's scope itself: the public page runs outside any."""
    license_state = license_state.strip().upper()
    license_number = license_number.strip().upper() if installer is None else license_number
    with scope(utility=utility.pk), transaction.atomic():
        if InstallerApproval.objects.filter(
            utility=utility,
            active=True,
            installer__license_state=license_state,
            installer__license_number=license_number,
        ).exists():
            raise AlreadyApproved(
                f"The company with licence {license_state} {license_number} is already "
                f"approved in {utility}. Ask your company's installer admin for an invitation."
            )
        duplicate = DuplicateAccessRequest(
            f"A request for licence {license_state} {license_number} is already waiting for "
            f"{utility}'s decision."
        )
        pending = AccessRequest.objects.filter(
            utility=utility,
            status=AccessRequest.Status.PENDING,
            license_state=license_state,
            license_number=license_number,
        )
        if pending.exists():
            raise duplicate
        try:
            with transaction.atomic():
                access_request = AccessRequest.objects.create(
                    utility=utility,
                    installer=installer,
                    company_name=company_name.strip(),
                    license_state=license_state,
                    license_number=license_number,
                    contact_name=contact_name.strip(),
                    contact_email=contact_email.strip().lower(),
                    message=message.strip(),
                )
        except IntegrityError:
            # Two submissions raced past the check; the partial unique index kept one.
            raise duplicate from None
        record(
            action="access_request.submitted",
            utility=utility,
            obj=access_request,
            actor=actor,
            to_state=access_request.status,
            comment=f"Submitted by {access_request.contact_email}",
            label="" if actor else f"{access_request.contact_email} (public form)",
        )
        _notify_access_request(access_request, "created")
    return access_request


def _decide(
    *, utility: Utility, access_request_id: int, actor: User, to: str, reason: str
) -> AccessRequest:
    """Compare-and-set pending → ``to``; exactly one decision wins."""
    changed = AccessRequest.objects.filter(
        utility=utility, pk=access_request_id, status=AccessRequest.Status.PENDING
    ).update(status=to, decided_at=timezone.now(), decided_by=actor, decision_reason=reason)
    access_request = AccessRequest.objects.select_related("installer", "decided_by").get(
        utility=utility, pk=access_request_id
    )
    if changed != 1:
        who = access_request.decided_by.email if access_request.decided_by else "someone else"
        raise AccessRequestAlreadyDecided(
            f"This request was already {access_request.get_status_display().lower()} by "
            f"{who}; nothing was changed.",
            access_request=access_request,
        )
    record(
        action=f"access_request.{to}",
        utility=utility,
        obj=access_request,
        actor=actor,
        from_state=AccessRequest.Status.PENDING,
        to_state=to,
        comment=reason,
    )
    return access_request


def _unique_company_slug(name: str) -> str:
    base = slugify(name)[:50] or "installer"
    slug, n = base, 1
    while InstallerCompany.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _company_for(
    access_request: AccessRequest, *, utility: Utility, actor: User
) -> tuple[InstallerCompany, bool]:
    """The requesting company: the one named, the one holding the licence, or a new one."""
    if access_request.installer_id:
        return access_request.installer, False
    existing = selectors.company_with_licence(
        license_state=access_request.license_state, license_number=access_request.license_number
    )
    if existing is not None:
        return existing, False
    name = access_request.company_name
    if InstallerCompany.objects.filter(name__iexact=name).exists():
        # A different licence under the same name is a different company.
        name = f"{name} ({access_request.license_state} {access_request.license_number})"
    company = InstallerCompany.objects.create(
        name=name,
        slug=_unique_company_slug(name),
        license_state=access_request.license_state,
        license_number=access_request.license_number,
    )
    record(
        action="installer_company.created",
        utility=utility,
        obj=company,
        actor=actor,
        comment=f"From access request #{access_request.pk}",
    )
    return company, True


@transaction.atomic
def approve_access_request(
    *, utility: Utility, access_request_id: int, actor: User
) -> AccessRequest:
    access_request = _decide(
        utility=utility,
        access_request_id=access_request_id,
        actor=actor,
        to=AccessRequest.Status.APPROVED,
        reason="",
    )
    company, company_is_new = _company_for(access_request, utility=utility, actor=actor)
    if access_request.installer_id is None:
        access_request.installer = company
        access_request.save(update_fields=["installer"])

    approval, created = InstallerApproval.objects.get_or_create(
        utility=utility, installer=company, defaults={"approved_by": actor}
    )
    if created:
        record(
            action="installer_approval.created",
            utility=utility,
            obj=approval,
            actor=actor,
            to_state="active",
        )
    elif not approval.active:
        approval.active = True
        approval.approved_at = timezone.now()
        approval.approved_by = actor
        approval.save(update_fields=["active", "approved_at", "approved_by"])
        record(
            action="installer_approval.reactivated",
            utility=utility,
            obj=approval,
            actor=actor,
            from_state="inactive",
            to_state="active",
        )

    contact_is_member = Membership.objects.filter(
        installer=company, user__email__iexact=access_request.contact_email
    ).exists()
    if company_is_new or not contact_is_member:
        try:
            invite(
                email=access_request.contact_email,
                role=Role.INSTALLER_ADMIN,
                organization=company,
                invited_by=actor,
                audit_utility=utility,
            )
        except (AlreadyInvited, AlreadyMember):
            pass  # the open invitation already in their inbox does the job
    _notify_access_request(access_request, "approved")
    return access_request


@transaction.atomic
def reject_access_request(
    *, utility: Utility, access_request_id: int, actor: User, reason: str
) -> AccessRequest:
    reason = reason.strip()
    if not reason:
        raise ValueError("A rejection needs a reason.")
    access_request = _decide(
        utility=utility,
        access_request_id=access_request_id,
        actor=actor,
        to=AccessRequest.Status.REJECTED,
        reason=reason,
    )
    _notify_access_request(access_request, "rejected")
    return access_request
