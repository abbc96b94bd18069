"""Demand-response events. An event's status is never stored: it is derived from the clock and
the actions taken on it (``Event.status_at``), so no task has to flip it on time."""

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


class EventPlanRun(TenantOwned):
    """One planning run of an event: the first plan of a revision, or a re-plan during the
    event (opt-outs, rejections, offline vehicles, shortfall). ``committed_kw[i]`` is the kW
    committed for the interval starting at ``interval_starts[i]`` after this run."""

    class Kind(models.TextChoices):
        PLAN = "plan", "Plan"
        REPLAN = "replan", "Re-plan"

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="plan_runs")
    revision = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    created_at = models.DateTimeField()
    interval_minutes = models.PositiveIntegerField(default=15)
    interval_starts = models.JSONField(default=list)  # ISO 8601 UTC strings
    goal_kw = models.FloatField(null=True, blank=True)
    committed_kw = models.JSONField(default=list)
    selected = models.PositiveIntegerField(default=0)
    reserves = models.PositiveIntegerField(default=0)
    excluded = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0)
    commands = models.PositiveIntegerField(default=0)
    # Why a re-plan ran: {"opted out during the event": 3, "offline": 1, ...}
    reasons = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["event", "created_at", "id"]
        indexes = [models.Index(fields=["event", "revision"], name="plan_run_event_revision")]


class EventParticipant(TenantOwned):
    """One vehicle's part in an event: dispatched, held in reserve, excluded (and why), or
    dropped during the event. Holds the vehicle's planned command and, once measured, its
    per-interval baseline, actual and delivered kW (on the M&V interval grid)."""

    class Role(models.TextChoices):
        SELECTED = "selected", "Dispatched"
        RESERVE = "reserve", "Reserve"
        EXCLUDED = "excluded", "Excluded"
        DROPPED = "dropped", "Dropped during the event"

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="participants")
    vehicle = models.ForeignKey("devices.Vehicle", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        "enrollment.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    reason = models.CharField(max_length=80, blank=True)
    revision = models.PositiveIntegerField(default=0)
    # The planned command (``dispatch.planning.planner`` sign convention: − discharge, + charge,
    # 0 curtailed) and its active window; empty for excluded vehicles.
    power_kw = models.FloatField(default=0)
    active_from = models.DateTimeField(null=True, blank=True)
    active_until = models.DateTimeField(null=True, blank=True)
    baseline_charging_kw = models.FloatField(default=0)  # V1G: the charging curtailed
    energy_kwh = models.FloatField(default=0)
    # The planner's per-interval values on the plan run's grid (for re-planning).
    plan_offset_minutes = models.PositiveIntegerField(default=0)
    plan_duration_hours = models.FloatField(default=0)
    setpoints_kw = models.JSONField(default=list, blank=True)
    contribution_kw = models.JSONField(default=list, blank=True)
    available_kwh = models.FloatField(default=0)
    events_this_season = models.PositiveIntegerField(default=0)
    # The kW the device can deliver at most (M&V caps delivered kW at it).
    rating_kw = models.FloatField(default=0)
    selected_at = models.DateTimeField(null=True, blank=True)
    dropped_at = models.DateTimeField(null=True, blank=True)
    # Measurement and verification, per M&V interval (``Event.measurement["interval_starts"]``).
    baseline_kw = models.JSONField(null=True, blank=True)
    actual_kw = models.JSONField(null=True, blank=True)
    delivered_kw = models.JSONField(null=True, blank=True)
    delivered_kwh = models.FloatField(null=True, blank=True)
    # The hour after the event: load above the baseline per rebound interval
    # (``Event.measurement["rebound"]["intervals"]``), never counted as delivery.
    rebound_kw = models.JSONField(null=True, blank=True)
    rebound_kwh = models.FloatField(null=True, blank=True)
    measured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "vehicle"], name="unique_event_participant")
        ]
        indexes = [
            models.Index(fields=["event", "role"], name="participant_event_role"),
            models.Index(fields=["vehicle", "role"], name="participant_vehicle_role"),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} in event {self.event_id} ({self.role})"


class GridSignalSource(TenantOwned):
    """A grid operator's system that calls events: the portal polls it as an OpenADR 2.0b VEN
    (``dispatch.grid.ven``) and turns its events into the utility's events
    (``dispatch.grid.openadr``)."""

    class Protocol(models.TextChoices):
        OPENADR_20B = "openadr_2.0b", "OpenADR 2.0b (VEN, HTTP pull)"

    name = models.CharField(max_length=120)
    protocol = models.CharField(
        max_length=20, choices=Protocol.choices, default=Protocol.OPENADR_20B
    )
    vtn_url = models.URLField(
        max_length=300, help_text="e.g. http://127.0.0.1:8080/OpenADR2/Simple/2.0b"
    )
    ven_name = models.CharField(max_length=100, help_text="The name this portal registers under.")
    # When set, every message from the VTN must carry an XML signature by this certificate.
    vtn_fingerprint = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)
    # Assigned by the VTN when the VEN registers.
    ven_id = models.CharField(max_length=100, blank=True)
    registration_id = models.CharField(max_length=100, blank=True)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "name"], name="unique_grid_source_name")
        ]

    def __str__(self) -> str:
        return self.name


class GridSignalRoute(TenantOwned):
    """Which program (and event type) a source's market context calls."""

    source = models.ForeignKey(GridSignalSource, on_delete=models.CASCADE, related_name="routes")
    market_context = models.CharField(max_length=200, help_text="e.g. oadr://pvp/peak-relief")
    program = models.ForeignKey("enrollment.Program", on_delete=models.PROTECT, related_name="+")
    event_type = models.CharField(
        max_length=24,
        choices=Event.Type.choices,
        blank=True,
        help_text="Empty: the program's kind decides (V1G load reduction, V2H home supply, "
        "V2G export).",
    )

    class Meta:
        ordering = ["market_context"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "market_context"], name="unique_grid_route_context"
            )
        ]

    def __str__(self) -> str:
        return f"{self.market_context} → {self.program_id}"


class GridSignal(TenantOwned):
    """One event (one modification of it) a source sent, what it said and what the portal
    answered: the log that makes a repeated delivery get the same answer."""

    class Response(models.TextChoices):
        OPT_IN = "optIn", "Opted in"
        OPT_OUT = "optOut", "Opted out"

    source = models.ForeignKey(GridSignalSource, on_delete=models.CASCADE, related_name="signals")
    vtn_event_id = models.CharField(max_length=100)
    modification_number = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()
    market_context = models.CharField(max_length=200, blank=True)
    vtn_status = models.CharField(max_length=20, blank=True)  # far, near, active, cancelled…
    starts_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    target_kw = models.FloatField(null=True, blank=True)
    test_event = models.BooleanField(default=False)
    response = models.CharField(max_length=6, choices=Response.choices)
    outcome = models.CharField(max_length=500)
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="grid_signals"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "vtn_event_id", "modification_number"],
                name="unique_grid_signal_modification",
            )
        ]

    def __str__(self) -> str:
        return f"{self.vtn_event_id} #{self.modification_number} ({self.response})"
