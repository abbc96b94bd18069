"""Installer access requests: a company asks to work in a utility, a program admin approves
(approval, the company if new, an invitation for its contact) or rejects with a reason."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django_scopes import scope

from portal.audit import record
from portal.identity import selectors
from portal.identity.services.errors import (
    AccessRequestAlreadyDecided,
    AlreadyApproved,
    AlreadyInvited,
    AlreadyMember,
    DuplicateAccessRequest,
)
from portal.identity.services.invitations import invite
from portal.models import (
    AccessRequest,
    InstallerApproval,
    InstallerCompany,
    Membership,
    User,
    Utility,
)
from portal.roles import Role
from portal.tasking import enqueue_on_commit


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
