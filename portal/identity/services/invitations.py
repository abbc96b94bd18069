"""Invitations: invite, revoke, resend and accept (by a signed-in person or someone new).

The email goes out with ``enqueue_on_commit``, so a rolled-back change never sends anything.
"""

from __future__ import annotations

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit import record
from portal.identity import selectors
from portal.identity.services.errors import (
    AlreadyInvited,
    AlreadyMember,
    InvitationUnavailable,
    WrongAccount,
)
from portal.identity.services.memberships import Organization, org_kwargs
from portal.models import Invitation, Membership, User, Utility
from portal.roles import Role
from portal.tasking import enqueue_on_commit


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
    org_fields = org_kwargs(role=role, organization=organization)
    role_label = Role(role).label
    if Membership.objects.filter(user__email__iexact=email, role=role, **org_fields).exists():
        raise AlreadyMember(f"{email} is already a {role_label} of {organization}.")
    if Invitation.objects.open().filter(email__iexact=email, role=role, **org_fields).exists():
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
        **org_fields,
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
