"""Demand-response events and dispatch groups. An event's status is never stored: it is derived
from the clock and the actions taken on it (``Event.status_at``), so no task has to flip it on
time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.models import TenantOwned

# OpenADR ``SIMPLE`` level 3 ("special"): the portal's emergency treatment.
EMERGENCY_LEVEL = 3


@dataclass(frozen=True)
class ProfileStep:
    """One interval of an event's target profile, in absolute time."""

    starts_at: datetime
    ends_at: datetime
    target_kw: float | None  # None: all available; 0: nothing dispatched in this interval
    level: float | None = None  # the OpenADR SIMPLE level, when the grid operator sent one

    @property
    def duration_minutes(self) -> int:
        return round((self.ends_at - self.starts_at).total_seconds() / 60)

    @property
    def emergency(self) -> bool:
        return self.level is not None and self.level >= EMERGENCY_LEVEL


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
    # The target interval by interval (a grid operator's event of several intervals):
    # [{"offset_minutes", "duration_minutes", "target_kw", "level"}, ...] from ``starts_at``.
    # Empty: one interval of ``target_kw`` for the whole event (``profile_steps``).
    target_profile = models.JSONField(default=list, blank=True)
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

    def profile_steps(self) -> list[ProfileStep]:
        """The target interval by interval, up to the event's end: an extension lengthens
        the last interval, an early end cuts the profile short."""
        if not self.target_profile:
            return [ProfileStep(self.starts_at, self.ends_at, self.target_kw)]
        steps = []
        last = len(self.target_profile) - 1
        for i, row in enumerate(self.target_profile):
            begins = self.starts_at + timedelta(minutes=row["offset_minutes"])
            if begins >= self.ends_at:
                break
            ends = begins + timedelta(minutes=row["duration_minutes"])
            ends = self.ends_at if i == last else min(ends, self.ends_at)
            steps.append(ProfileStep(begins, ends, row["target_kw"], row.get("level")))
        return steps

    def step_at(self, moment: datetime) -> ProfileStep | None:
        for step in self.profile_steps():
            if step.starts_at <= moment < step.ends_at:
                return step
        return None

    def emergency_at(self, moment: datetime) -> bool:
        """An emergency event, or one whose interval running at ``moment`` is SIMPLE level 3
        (emergency treatment for that interval only)."""
        if self.event_type == self.Type.EMERGENCY:
            return True
        step = self.step_at(moment)
        return step is not None and step.emergency

    @property
    def has_emergency_interval(self) -> bool:
        return any((row.get("level") or 0) >= EMERGENCY_LEVEL for row in self.target_profile)

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
