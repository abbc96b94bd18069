"""Demand-response events and dispatch groups. An event's status is never stored: it is derived
from the clock and the actions taken on it (``Event.status_at``), so no task has to flip it on
time."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.models import TenantOwned


class Event(TenantOwned):
    class Type(models.TextChoices):
        LOAD_REDUCTION = "load_reduction", "Load reduction / shift (V1G)"
        V2H_HOME_SUPPLY = "v2h_home_supply", "V2H home supply"
        V2G_EXPORT = "v2g_export", "V2G export"
        PRICE_SIGNAL = "price_signal", "Price signal"
        EMERGENCY = "emergency", "Emergency"
        RESILIENCE_PRECHARGE = "resilience_precharge", "Resilience pre-charge"
        TEST = "test", "Test"

    class Targeting(models.TextChoices):
        WHOLE_PROGRAM = "whole_program", "Whole program"
        GROUPS = "groups", "Dispatch groups"
        FEEDERS = "feeders", "Feeders"
        NAMED_VEHICLES = "named_vehicles", "Named vehicles"

    class Source(models.TextChoices):
        STAFF = "staff", "Staff"
        GRID_PROTOCOL = "grid_protocol", "Grid protocol"
        API = "api", "API"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        NOTIFIED = "notified", "Notified"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    # Which derived statuses each action accepts.
    CANCELLABLE = {Status.DRAFT, Status.SCHEDULED, Status.NOTIFIED}
    ENDABLE = {Status.ACTIVE}
    EXTENDABLE = {Status.SCHEDULED, Status.NOTIFIED, Status.ACTIVE}

    program = models.ForeignKey(
        "enrollment.Program", on_delete=models.PROTECT, related_name="events"
    )
    event_type = models.CharField(max_length=24, choices=Type.choices)
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    notification_lead_minutes = models.PositiveIntegerField(default=60)
    randomize_start_minutes = models.PositiveIntegerField(default=0)
    target_kw = models.FloatField(null=True, blank=True, help_text="Empty: all available.")
    targeting = models.CharField(
        max_length=16, choices=Targeting.choices, default=Targeting.WHOLE_PROGRAM
    )
    vehicles = models.ManyToManyField("devices.Vehicle", blank=True, related_name="+")
    groups = models.ManyToManyField("dispatch.DispatchGroup", blank=True, related_name="events")
    # Feeder codes (``ServiceAccount.feeder``) for ``Targeting.FEEDERS``.
    feeders = models.JSONField(default=list, blank=True)
    priority = models.IntegerField(default=0)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.STAFF)
    modification_number = models.PositiveIntegerField(default=0)
    # Null while a draft; set when the guardrails passed and the event was committed.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    ended_early_at = models.DateTimeField(null=True, blank=True)
    extended_minutes = models.PositiveIntegerField(default=0)
    # Derived from the fields above by ``refresh_times`` (kept so lists filter by status in SQL).
    notify_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # The guardrail results when the event was scheduled: [{"rule", "ok", "message"}, ...].
    guardrail_results = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Measurement and verification (``dispatch.measurement``): when the event was measured,
    # and the per-interval totals and summary it produced.
    measured_at = models.DateTimeField(null=True, blank=True)
    # "Measure now" on a large event: measured in the background, asked for at this time.
    measure_requested_at = models.DateTimeField(null=True, blank=True)
    measurement = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["utility", "-starts_at", "-id"], name="event_recent"),
            models.Index(fields=["program", "starts_at"], name="event_program_start"),
        ]

    def __str__(self) -> str:
        return f"Event #{self.pk} ({self.get_event_type_display()})"

    def refresh_times(self) -> None:
        """Recompute ``notify_at`` and ``ends_at``: an early end wins over the planned end.
        Customers cannot be told before the event exists: one scheduled inside its lead time
        is notified when it is scheduled (``notified_at_once``)."""
        ahead = self.starts_at - timedelta(minutes=self.notification_lead_minutes)
        self.notify_at = max(ahead, self.scheduled_at) if self.scheduled_at else ahead
        planned = self.starts_at + timedelta(minutes=self.duration_minutes + self.extended_minutes)
        self.ends_at = min(self.ended_early_at, planned) if self.ended_early_at else planned

    @property
    def notified_at_once(self) -> bool:
        """Scheduled inside its notification lead time, so notified as it was scheduled."""
        lead = timedelta(minutes=self.notification_lead_minutes)
        return self.scheduled_at is not None and self.notify_at > self.starts_at - lead

    def status_at(self, now: datetime) -> str:
        """The one definition of an event's status; ``status_q`` is its SQL twin."""
        if self.cancelled_at is not None:
            return self.Status.CANCELLED
        if self.scheduled_at is None:
            return self.Status.DRAFT
        if now >= self.ends_at:
            return self.Status.COMPLETED
        if now >= self.starts_at:
            return self.Status.ACTIVE
        if now >= self.notify_at:
            return self.Status.NOTIFIED
        return self.Status.SCHEDULED

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    def get_status_display(self) -> str:
        return self.Status(self.status).label

    @classmethod
    def status_q(cls, status: str, now: datetime) -> Q:
        live = Q(cancelled_at__isnull=True, scheduled_at__isnull=False)
        return {
            cls.Status.CANCELLED: Q(cancelled_at__isnull=False),
            cls.Status.DRAFT: Q(cancelled_at__isnull=True, scheduled_at__isnull=True),
            cls.Status.COMPLETED: live & Q(ends_at__lte=now),
            cls.Status.ACTIVE: live & Q(starts_at__lte=now, ends_at__gt=now),
            cls.Status.NOTIFIED: live & Q(notify_at__lte=now, starts_at__gt=now, ends_at__gt=now),
            cls.Status.SCHEDULED: live & Q(notify_at__gt=now, starts_at__gt=now, ends_at__gt=now),
        }[status]


class DispatchGroup(TenantOwned):
    """A named set of vehicles staff can target together (a pilot cohort, a fleet depot, a
    substation's customers), within one utility."""

    name = models.CharField(max_length=100)
    description = models.CharField(max_length=250, blank=True)
    vehicles = models.ManyToManyField("devices.Vehicle", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "name"], name="unique_dispatch_group_name")
        ]

    def __str__(self) -> str:
        return self.name
