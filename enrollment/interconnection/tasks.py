"""Emails to the parties of an application on every transition and every message.

Two steps, so a retry never mails anyone twice and no row stays locked while the mail server
answers: ``notify_transition`` / ``notify_message`` write one ``ApplicationNotification``
row per address (unique per transition or message and address, so a rerun adds nothing)
and send one ``send_notification`` task per row on commit; ``send_notification`` claims its
row with a compare-and-set, sends one email with no transaction open, and marks it sent.
Tasks take ids and run in the application's utility scope; only transient mail errors retry.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from enrollment.interconnection.models import (
    ApplicationMessage,
    ApplicationNotification,
    ApplicationTransition,
    InterconnectionApplication,
)
from portal.celery import app
from portal.mail import MAIL_RETRY, send_templated
from portal.models import Membership
from portal.tasking import TenantTask, enqueue_on_commit

Party = ApplicationMessage.Party
# A claim older than this belongs to a worker that died mid-send: the row may be taken again.
SEND_LEASE = timedelta(minutes=10)


def _party_emails(application: InterconnectionApplication) -> dict[str, list[str]]:
    """Addresses of each party of the application (parties without any are left out)."""
    from enrollment.interconnection.services import engineers_of

    def members(**org) -> list[str]:
        return sorted(set(Membership.objects.filter(**org).values_list("user__email", flat=True)))

    parties = {Party.INSTALLER: members(installer_id=application.installer_id)}
    if application.ahj_id:
        parties[Party.AHJ] = members(ahj_id=application.ahj_id)
    if application.assigned_engineer_id:
        parties[Party.UTILITY] = [application.assigned_engineer.email]
    else:
        parties[Party.UTILITY] = sorted(
            engineers_of(application.utility_id).values_list("email", flat=True)
        )
    return {party: [e for e in emails if e] for party, emails in parties.items() if emails}


def party_link(application: InterconnectionApplication, party: str) -> str:
    """The application's page for ``party``, absolute."""
    if party == Party.INSTALLER:
        path = reverse(
            "installer_interconnection_detail",
            kwargs={"org_slug": application.installer.slug, "pk": application.pk},
        )
    elif party == Party.AHJ:
        path = reverse(
            "ahj_interconnection_detail",
            kwargs={"org_slug": application.ahj.slug, "pk": application.pk},
        )
    else:
        path = reverse(
            "utility:interconnection_detail",
            kwargs={"utility_slug": application.utility.slug, "pk": application.pk},
        )
    return settings.SITE_URL + path


def _fan_out(
    *, application: InterconnectionApplication, skip_party: str = "", **about
) -> list[int]:
    """One notification row per address of every party but ``skip_party``; returns the ids
    of the rows still unsent (a rerun finds the rows already there and sends the rest)."""
    rows = [
        ApplicationNotification(
            utility_id=application.utility_id,
            application=application,
            party=party,
            email=email,
            **about,
        )
        for party, emails in _party_emails(application).items()
        if party != skip_party
        for email in emails
    ]
    ApplicationNotification.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        ApplicationNotification.objects.filter(sent_at__isnull=True, **about).values_list(
            "pk", flat=True
        )
    )


def _send_each(*, utility_id: int, notification_ids: list[int]) -> None:
    for notification_id in notification_ids:
        enqueue_on_commit(send_notification, utility_id=utility_id, notification_id=notification_id)


APPLICATION_RELATED = ("utility", "installer", "ahj", "assigned_engineer", "service_account")


@app.task(bind=True, base=TenantTask, name="interconnection.notify_transition")
def notify_transition(self, *, utility_id: int, transition_id: int) -> None:
    """Fan a transition out to one email task per address of every party."""
    transition = (
        ApplicationTransition.objects.select_related(
            *(f"application__{name}" for name in APPLICATION_RELATED)
        )
        .filter(pk=transition_id)
        .first()
    )
    if transition is None:
        return
    with transaction.atomic():
        pending = _fan_out(application=transition.application, transition=transition)
        ApplicationTransition.objects.filter(pk=transition.pk, notified_at__isnull=True).update(
            notified_at=timezone.now()
        )
        _send_each(utility_id=utility_id, notification_ids=pending)


@app.task(bind=True, base=TenantTask, name="interconnection.notify_message")
def notify_message(self, *, utility_id: int, message_id: int) -> None:
    """Fan a new message out to one email task per address of the parties other than its
    author's."""
    message = (
        ApplicationMessage.objects.select_related(
            *(f"application__{name}" for name in APPLICATION_RELATED)
        )
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        return
    with transaction.atomic():
        pending = _fan_out(
            application=message.application, skip_party=message.party, message=message
        )
        ApplicationMessage.objects.filter(pk=message.pk, notified_at__isnull=True).update(
            notified_at=timezone.now()
        )
        _send_each(utility_id=utility_id, notification_ids=pending)


def _email(notification: ApplicationNotification) -> tuple[str, dict]:
    """The template and context of one notification."""
    application = notification.application
    context = {
        "application": application,
        "party": notification.party,
        "url": party_link(application, notification.party),
    }
    if notification.transition_id:
        transition = notification.transition
        labels = dict(
            application.PermitStatus.choices
            if transition.track == transition.Track.AHJ
            else application.Status.choices
        )
        context.update(
            transition=transition,
            state_label=labels.get(transition.to_state, transition.to_state),
        )
        return "interconnection/email/transition", context
    context["message"] = notification.message
    return "interconnection/email/message", context


@app.task(bind=True, base=TenantTask, name="interconnection.send_notification", **MAIL_RETRY)
def send_notification(self, *, utility_id: int, notification_id: int) -> None:
    """Send one notification email, at most once per row: claim, send (no transaction or
    lock held while the mail server answers), mark sent. A failed send releases the claim
    so the retry can take it."""
    now = timezone.now()
    claimed = (
        ApplicationNotification.objects.filter(pk=notification_id, sent_at__isnull=True)
        .filter(Q(sending_since__isnull=True) | Q(sending_since__lt=now - SEND_LEASE))
        .update(sending_since=now)
    )
    if claimed != 1:
        return  # sent already, or another worker is sending it right now
    notification = ApplicationNotification.objects.select_related(
        "transition",
        "message",
        *(f"application__{name}" for name in APPLICATION_RELATED),
    ).get(pk=notification_id)
    template, context = _email(notification)
    try:
        send_templated(template=template, to=[notification.email], context=context)
    except BaseException:
        ApplicationNotification.objects.filter(pk=notification_id, sent_at__isnull=True).update(
            sending_since=None
        )
        raise
    ApplicationNotification.objects.filter(pk=notification_id).update(
        sent_at=timezone.now(), sending_since=None
    )
