"""Messages between the parties of an application, and the one-email-per-address records
that make their (and the transitions') notifications idempotent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from enrollment.interconnection.models.applications import InterconnectionApplication
from enrollment.interconnection.models.history import ApplicationTransition
from portal.models import TenantOwned


class ApplicationMessage(TenantOwned):
    """A message between the parties of an application (installer, utility, AHJ), shown to
    all of them oldest first; the other parties are emailed once (``ApplicationNotification``)."""

    class Party(models.TextChoices):
        INSTALLER = "installer", "Installer"
        UTILITY = "utility", "Utility"
        AHJ = "ahj", "AHJ"

    MAX_LENGTH = 4000

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(
        InterconnectionApplication, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=254)
    party = models.CharField(max_length=10, choices=Party.choices)
    body = models.TextField(max_length=MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "enrollment_applicationmessage"
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["application", "created_at"], name="ic_message_thread"),
        ]

    def __str__(self) -> str:
        return f"{self.get_party_display()} message on {self.application_id}"


class ApplicationNotification(TenantOwned):
    """One email to one address about one transition or message: the record that makes a
    notification idempotent. A worker claims the row (``sending_since``) before talking to
    the mail server and marks it ``sent_at`` after, so a retried or redelivered task never
    mails an address twice; a claim older than the lease (a worker lost mid-send) may be
    taken again."""

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(
        InterconnectionApplication, on_delete=models.CASCADE, related_name="notifications"
    )
    transition = models.ForeignKey(
        ApplicationTransition,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    message = models.ForeignKey(
        ApplicationMessage,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    party = models.CharField(max_length=10, choices=ApplicationMessage.Party.choices)
    email = models.EmailField()
    created_at = models.DateTimeField(default=timezone.now)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "enrollment_applicationnotification"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(transition__isnull=True) ^ Q(message__isnull=True),
                name="notification_of_transition_or_message",
            ),
            models.UniqueConstraint(
                fields=["transition", "email"],
                condition=Q(transition__isnull=False),
                name="one_notification_per_transition_address",
            ),
            models.UniqueConstraint(
                fields=["message", "email"],
                condition=Q(message__isnull=False),
                name="one_notification_per_message_address",
            ),
        ]

    def __str__(self) -> str:
        return f"Notification to {self.email} on {self.application_id}"
