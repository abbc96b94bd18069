"""What happened to an application: each move of either track (``ApplicationTransition``),
and the SLA clock of each stage (``SlaClock``), in business days."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from enrollment.interconnection.models.applications import InterconnectionApplication
from portal.models import TenantOwned


class ApplicationTransition(TenantOwned):
    """One move of one track, shown to every party as the application's history.
    ``notified_at`` marks that its notifications (one row per address) were created."""

    class Track(models.TextChoices):
        UTILITY = "utility", "Utility"
        AHJ = "ahj", "AHJ"

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(
        InterconnectionApplication, on_delete=models.CASCADE, related_name="transitions"
    )
    track = models.CharField(max_length=8, choices=Track.choices)
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=24, blank=True)
    to_state = models.CharField(max_length=24)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "enrollment_applicationtransition"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.application} {self.action}: {self.from_state} → {self.to_state}"

    @property
    def action_label(self) -> str:
        return self.action.replace("_", " ")


class SlaClock(TenantOwned):
    """The time one stage took, in business days of the utility's holiday calendar. Paused
    while the applicant owes an answer; ``due_on`` moves out by the paused days."""

    class Stage(models.TextChoices):
        ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
        COMPLETENESS = "completeness", "Completeness review"
        TECHNICAL_REVIEW = "technical_review", "Engineering (supplemental) review"
        PTO = "pto", "Completion to PTO"
        PERMIT = "permit", "AHJ permit"
        INSPECTION = "inspection", "AHJ inspection"

    AHJ_STAGES = [Stage.PERMIT, Stage.INSPECTION]

    id = models.BigAutoField(primary_key=True)
    application = models.ForeignKey(
        InterconnectionApplication, on_delete=models.CASCADE, related_name="clocks"
    )
    track = models.CharField(max_length=8, choices=ApplicationTransition.Track.choices)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    started_on = models.DateField()
    target_business_days = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    paused_since = models.DateField(null=True, blank=True)
    paused_business_days = models.PositiveIntegerField(default=0)
    stopped_on = models.DateField(null=True, blank=True)
    elapsed_business_days = models.PositiveIntegerField(null=True, blank=True)
    breached = models.BooleanField(null=True, blank=True)

    class Meta:
        db_table = "enrollment_slaclock"
        ordering = ["started_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "track"],
                condition=Q(stopped_on__isnull=True),
                name="one_open_clock_per_track",
            )
        ]
        indexes = [
            models.Index(fields=["utility", "stopped_on", "due_on"], name="ic_clock_due"),
            models.Index(
                fields=["utility", "stage", "elapsed_business_days"], name="ic_clock_stage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} clock of {self.application_id}"
