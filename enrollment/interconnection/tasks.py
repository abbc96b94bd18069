"""Emails to the parties of an application on every transition and every message. Takes ids, runs in the
application's utility scope, and marks the transition notified so a redelivered message
(acks_late) sends nothing twice. Only transient mail errors retry."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from enrollment.models import ApplicationMessage, ApplicationTransition
from portal.celery import app
from portal.mail import MAIL_RETRY, send_templated
from portal.models import Membership
from portal.tasking import TenantTask


def _recipients(application) -> list[tuple[str, list[str], str]]:
    """(party, addresses, link) for each party of the application."""
    from enrollment.interconnection.services import engineers_of

    parties = []
    installer_emails = sorted(
        set(
            Membership.objects.filter(installer_id=application.installer_id).values_list(
                "user__email", flat=True
            )
        )
    )
    parties.append(
        (
            "installer",
            installer_emails,
            reverse(
                "installer_interconnection_detail",
                kwargs={"org_slug": application.installer.slug, "pk": application.pk},
            ),
        )
    )
    if application.ahj_id:
        ahj_emails = sorted(
            set(
                Membership.objects.filter(ahj_id=application.ahj_id).values_list(
                    "user__email", flat=True
                )
            )
        )
        parties.append(
            (
                "ahj",
                ahj_emails,
                reverse(
                    "ahj_interconnection_detail",
                    kwargs={"org_slug": application.ahj.slug, "pk": application.pk},
                ),
            )
        )
    if application.assigned_engineer_id:
        utility_emails = [application.assigned_engineer.email]
    else:
        utility_emails = sorted(
            engineers_of(application.utility_id).values_list("email", flat=True)
        )
    parties.append(
        (
            "utility",
            utility_emails,
            reverse(
                "utility:interconnection_detail",
                kwargs={"utility_slug": application.utility.slug, "pk": application.pk},
            ),
        )
    )
    return [(party, emails, link) for party, emails, link in parties if emails]


@app.task(bind=True, base=TenantTask, name="interconnection.notify_transition", **MAIL_RETRY)
def notify_transition(self, *, utility_id: int, transition_id: int) -> None:
    with transaction.atomic():
        transition = (
            ApplicationTransition.objects.select_for_update(of=("self",))
            .select_related(
                "application",
                "application__utility",
                "application__installer",
                "application__ahj",
                "application__assigned_engineer",
                "application__service_account",
            )
            .filter(pk=transition_id)
            .first()
        )
        if transition is None or transition.notified_at is not None:
            return
        application = transition.application
        labels = dict(
            application.PermitStatus.choices
            if transition.track == transition.Track.AHJ
            else application.Status.choices
        )
        for party, emails, link in _recipients(application):
            context = {
                "transition": transition,
                "application": application,
                "party": party,
                "state_label": labels.get(transition.to_state, transition.to_state),
                "url": settings.SITE_URL + link,
            }
            send_templated(template="interconnection/email/transition", to=emails, context=context)
        # Sent inside the transaction: a mail failure rolls the marker back and retries.
        transition.notified_at = timezone.now()
        transition.save(update_fields=["notified_at"])


@app.task(bind=True, base=TenantTask, name="interconnection.notify_message", **MAIL_RETRY)
def notify_message(self, *, utility_id: int, message_id: int) -> None:
    """Email a new message to the parties other than its author's."""
    with transaction.atomic():
        message = (
            ApplicationMessage.objects.select_for_update(of=("self",))
            .select_related(
                "application",
                "application__utility",
                "application__installer",
                "application__ahj",
                "application__assigned_engineer",
                "application__service_account",
            )
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.notified_at is not None:
            return
        application = message.application
        for party, emails, link in _recipients(application):
            if party == message.party:
                continue
            context = {
                "message": message,
                "application": application,
                "party": party,
                "url": settings.SITE_URL + link,
            }
            send_templated(template="interconnection/email/message", to=emails, context=context)
        # Sent inside the transaction: a mail failure rolls the marker back and retries.
        message.notified_at = timezone.now()
        message.save(update_fields=["notified_at"])
