"""Celery tasks of the tenancy core: invitation and access-request emails.

Both take ids, lock their row, and keep a durable "already sent" marker in the database, so
a redelivered message (acks_late) does not email twice. Only transient mail errors retry.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.audit import record
from portal.celery import app
from portal.identity import selectors
from portal.mail import MAIL_RETRY, send_templated
from portal.models import AccessRequest, AuditEvent, Invitation
from portal.tasking import PlatformTask, TenantTask

logger = logging.getLogger(__name__)


def _send(*, template: str, to: list[str], context: dict) -> None:
    send_templated(template=f"identity/email/{template}", to=to, context=context)


@app.task(bind=True, base=PlatformTask, name="portal.send_invitation", **MAIL_RETRY)
def send_invitation(self, *, invitation_id: int) -> None:
    """Mint the invitation's token and email the link. A platform task: the invitation may
    be to an installer company or an AHJ, not a utility."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("utility", "installer", "ahj", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.status != "open" or invitation.sent_at is not None:
            # Withdrawn, used, expired, or sent by an earlier delivery of this message.
            return
        token, invitation.token_hash = Invitation.new_token()
        invitation.sent_at = timezone.now()
        invitation.save(update_fields=["token_hash", "sent_at"])
        # Sent inside the transaction: if the mail server fails, the token and sent_at roll
        # back and the retry mints a new one.
        _send(
            template="invitation",
            to=[invitation.email],
            context={
                "invitation": invitation,
                "organization": invitation.organization,
                "accept_url": settings.SITE_URL
                + reverse("accept_invitation", kwargs={"token": token}),
            },
        )


# Which status an access request must still be in for each notification to make sense.
ACCESS_REQUEST_EVENTS = {
    "created": AccessRequest.Status.PENDING,
    "approved": AccessRequest.Status.APPROVED,
    "rejected": AccessRequest.Status.REJECTED,
}


@app.task(bind=True, base=TenantTask, name="portal.notify_access_request", **MAIL_RETRY)
def notify_access_request(self, *, utility_id: int, access_request_id: int, event: str) -> None:
    """A new request goes to the utility's program admins; a decision goes to the contact."""
    expected_status = ACCESS_REQUEST_EVENTS[event]
    with transaction.atomic():
        access_request = (
            AccessRequest.objects.select_for_update(of=("self",))
            .select_related("utility", "installer")
            .filter(pk=access_request_id)
            .first()
        )
        if access_request is None or access_request.status != expected_status:
            return  # gone, or decided since: this notification is stale
        already_sent = AuditEvent.objects.filter(
            action="access_request.notified",
            object_type=AccessRequest._meta.label_lower,
            object_id=str(access_request.pk),
            to_state=expected_status,
        ).exists()
        if already_sent:
            return
        utility = access_request.utility
        if event == "created":
            recipients = selectors.program_admin_emails(utility=utility)
            detail = reverse(
                "utility:access_request_detail",
                kwargs={"utility_slug": utility.slug, "pk": access_request.pk},
            )
            context = {"access_request": access_request, "url": settings.SITE_URL + detail}
            template = "access_request_created"
        else:
            recipients = [access_request.contact_email]
            context = {"access_request": access_request, "login_url": settings.SITE_URL}
            template = "access_request_decided"
        if not recipients:
            logger.warning(
                "Access request %s: %s has no program admin to notify", access_request.pk, utility
            )
            return
        _send(template=template, to=recipients, context=context)
        record(
            action="access_request.notified",
            utility=utility,
            obj=access_request,
            to_state=expected_status,
            changes={"event": event, "recipients": recipients},
        )


@app.task(base=PlatformTask, name="portal.seal_audit_chain")
def seal_audit_chain() -> int:
    """Give new audit rows their place in their utility's hash chain (every minute)."""
    from portal import audit_chain

    return audit_chain.seal()
