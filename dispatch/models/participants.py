"""How an event was planned and who took part: plan runs and participants."""

from __future__ import annotations

from django.db import models

from dispatch.models.events import Event
from portal.models import TenantOwned


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
