"""Transition emails: one task and one record per address, so a retry never mails a party
already mailed, and nothing is locked or in a transaction while the mail server answers."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from enrollment.interconnection import services
from enrollment.interconnection.models import ApplicationNotification, ApplicationTransition
from enrollment.interconnection.tasks import SEND_LEASE, notify_transition, send_notification
from tests.interconnection.factories import draft, make_site, walk

Notification = ApplicationNotification
FLAKY = "flaky@mail.test"


class FlakyBackend(LocmemBackend):
    """The outer edge: a mail server that refuses one address, and a record of whether the
    sender held a transaction open while talking to it."""

    refuse = True
    in_transaction: list[bool] = []

    def send_messages(self, messages):
        FlakyBackend.in_transaction.append(connection.in_atomic_block)
        if FlakyBackend.refuse and any(FLAKY in m.to for m in messages):
            raise smtplib.SMTPServerDisconnected("connection lost")
        return super().send_messages(messages)


@pytest.fixture
def flaky_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.refuse = True
    FlakyBackend.in_transaction = []
    mail.outbox = []
    return FlakyBackend


@pytest.fixture
def sent(monkeypatch):
    """Notification tasks sent (kwargs), not run: the test plays the worker."""
    calls: list[dict] = []
    for task in (notify_transition, send_notification):
        monkeypatch.setattr(task, "apply_async", lambda kwargs, **_: calls.append(kwargs))
    return calls


@pytest.mark.django_db
def test_it_sends_one_email_per_address_and_records_each(
    utility_a, django_capture_on_commit_callbacks
):
    site = make_site(utility_a)
    app = walk(site, draft(site), to="submitted")
    mail.outbox = []
    with scope(utility=site.utility.pk), django_capture_on_commit_callbacks(execute=True):
        services.acknowledge(application=app, actor=site.engineer)
    addresses = [m.to for m in mail.outbox]
    assert all(len(to) == 1 for to in addresses)
    assert sorted(to[0] for to in addresses) == sorted(
        {site.installer_user.email, site.ahj_user.email, site.engineer.email}
    )
    with scopes_disabled():
        transition = ApplicationTransition.objects.get(action="acknowledged")
        rows = list(Notification.objects.filter(transition=transition))
    assert len(rows) == 3 and all(row.sent_at for row in rows)
    # A redelivered fan-out or send task mails nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        notify_transition.apply(
            kwargs={"utility_id": site.utility.pk, "transition_id": transition.pk}
        )
    for row in rows:
        send_notification.apply(kwargs={"utility_id": site.utility.pk, "notification_id": row.pk})
    assert len(mail.outbox) == 3


@pytest.mark.django_db(transaction=True)
def test_a_retry_mails_only_the_address_that_failed_and_holds_no_transaction(
    utility_a, flaky_mail, sent
):
    site = make_site(utility_a)
    app = walk(site, draft(site), to="submitted")
    with scopes_disabled():
        site.engineer.email = FLAKY
        site.engineer.save(update_fields=["email"])
    sent.clear()
    with scope(utility=site.utility.pk):
        services.acknowledge(application=app, actor=site.engineer)
    [fan_out] = sent
    sent.clear()
    notify_transition(**fan_out)
    assert len(sent) == 3  # one send task per address
    mail.outbox = []
    failed = []
    for kwargs in sent:
        try:
            send_notification(**kwargs)
        except smtplib.SMTPException:
            failed.append(kwargs)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [site.installer_user.email, site.ahj_user.email]
    )
    with scopes_disabled():
        row = Notification.objects.get(pk=failed[0]["notification_id"])
    assert row.email == FLAKY
    assert row.sent_at is None and row.sending_since is None  # released for the retry

    # Every task runs again (retries, redeliveries): only the refused address gets mail.
    flaky_mail.refuse = False
    for kwargs in sent * 2:
        send_notification(**kwargs)
    notify_transition(**fan_out)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [site.installer_user.email, site.ahj_user.email, FLAKY]
    )
    # No transaction (so no row lock) was open while the mail server answered.
    assert flaky_mail.in_transaction and not any(flaky_mail.in_transaction)


@pytest.mark.django_db
def test_a_row_another_worker_is_sending_is_left_to_it(
    utility_a, django_capture_on_commit_callbacks
):
    site = make_site(utility_a)
    with django_capture_on_commit_callbacks(execute=True):
        app = walk(site, draft(site), to="submitted")
    with scopes_disabled():
        row = Notification.objects.filter(transition__application=app).first()
        Notification.objects.filter(pk=row.pk).update(sent_at=None, sending_since=timezone.now())
    mail.outbox = []
    send_notification.apply(kwargs={"utility_id": site.utility.pk, "notification_id": row.pk})
    assert mail.outbox == []
    # A claim older than the lease is a worker lost mid-send: the row is taken again.
    with scopes_disabled():
        Notification.objects.filter(pk=row.pk).update(
            sending_since=timezone.now() - SEND_LEASE - timedelta(seconds=1)
        )
    send_notification.apply(kwargs={"utility_id": site.utility.pk, "notification_id": row.pk})
    assert [m.to for m in mail.outbox] == [[row.email]]
