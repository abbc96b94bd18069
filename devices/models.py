"""The fleet: vehicles, chargers, approved equipment, battery/warranty policies, customer
preferences, telemetry, partner adapter configuration and the normalized command queue.

Physical quantities carry their units in their names (``_kw``, ``_kwh``, ``_pct``); times are
aware UTC. Power sign convention everywhere: + charging (import), − discharging (export).
"""

from __future__ import annotations

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from devices.vin import validate_vin
from portal.models import AutomakerPartner, PartnerAgreement, TenantOwned

pct_validators = [MinValueValidator(0), MaxValueValidator(100)]
non_negative = [MinValueValidator(0)]


class Mode(models.TextChoices):
    V1G = "v1g", "V1G managed charging"
    V2H = "v2h", "V2H vehicle-to-home"
    V2G = "v2g", "V2G vehicle-to-grid"


class Vehicle(TenantOwned):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    vin = models.CharField("VIN", max_length=17, validators=[validate_vin])
    partner = models.ForeignKey(AutomakerPartner, on_delete=models.PROTECT, related_name="+")
    partner_vehicle_id = models.CharField(
        max_length=64, help_text="The automaker's own id for this vehicle."
    )
    model = models.CharField(max_length=100)
    model_year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(2010), MaxValueValidator(2035)]
    )
    usable_battery_kwh = models.FloatField(
        validators=[MinValueValidator(1), MaxValueValidator(400)]
    )
    supports_v1g = models.BooleanField("V1G", default=True)
    supports_v2h = models.BooleanField("V2H", default=False)
    supports_v2g = models.BooleanField("V2G", default=False)
    max_charge_kw = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(350)])
    max_discharge_kw = models.FloatField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(350)]
    )
    firmware_version = models.CharField(max_length=40, blank=True)
    service_account = models.ForeignKey(
        "customers.ServiceAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="vehicles",
    )
    charger = models.ForeignKey(
        "devices.Charger", null=True, blank=True, on_delete=models.SET_NULL, related_name="vehicles"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vin"]
        constraints = [
            # A VIN is active in at most one utility at a time — across all tenants.
            models.UniqueConstraint(
                fields=["vin"], condition=Q(status="active"), name="vin_active_in_one_utility"
            ),
            models.UniqueConstraint(
                fields=["utility", "partner", "partner_vehicle_id"],
                condition=Q(status="active"),
                name="unique_partner_vehicle_id",
            ),
        ]
        indexes = [models.Index(fields=["utility", "partner", "status"], name="vehicle_partner")]

    def __str__(self) -> str:
        return f"{self.model_year} {self.model} {self.vin}"

    @property
    def modes(self) -> list[str]:
        return [
            m
            for m, ok in (
                (Mode.V1G, self.supports_v1g),
                (Mode.V2H, self.supports_v2h),
                (Mode.V2G, self.supports_v2g),
            )
            if ok
        ]


class Charger(TenantOwned):
    class CurrentType(models.TextChoices):
        AC = "ac", "AC"
        DC = "dc", "DC"

    maker = models.CharField(max_length=100)
    model = models.CharField(max_length=100)
    serial = models.CharField(max_length=64)
    current_type = models.CharField(max_length=2, choices=CurrentType.choices)
    max_charge_kw = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(350)])
    max_discharge_kw = models.FloatField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(350)]
    )
    backup_capable = models.BooleanField(default=False)
    cert_ul9741 = models.BooleanField("UL 9741", default=False)
    cert_ul1741_sb = models.BooleanField("UL 1741-SB", default=False)
    cert_sae_j3072 = models.BooleanField("SAE J3072", default=False)
    firmware_version = models.CharField(max_length=40, blank=True)
    service_account = models.ForeignKey(
        "customers.ServiceAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chargers",
        help_text="The premise where the charger is installed.",
    )
    partner = models.ForeignKey(
        AutomakerPartner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The charger maker's cloud, when it is a partner of ours.",
    )
    partner_charger_id = models.CharField(max_length=64, blank=True)
    approved_export_kw = models.FloatField(
        null=True,
        blank=True,
        validators=non_negative,
        help_text="Export limit approved at interconnection; empty until approved.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["maker", "model", "serial"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "maker", "serial"], name="unique_charger_serial"
            )
        ]

    def __str__(self) -> str:
        return f"{self.maker} {self.model} #{self.serial}"

    @property
    def certifications(self) -> list[str]:
        return [
            label
            for label, ok in (
                ("UL 9741", self.cert_ul9741),
                ("UL 1741-SB", self.cert_ul1741_sb),
                ("SAE J3072", self.cert_sae_j3072),
            )
            if ok
        ]


class ApprovedEquipment(TenantOwned):
    """A vehicle model × charger model pair the utility approves, and the modes it may run."""

    partner = models.ForeignKey(AutomakerPartner, on_delete=models.PROTECT, related_name="+")
    vehicle_model = models.CharField(max_length=100)
    charger_maker = models.CharField(max_length=100)
    charger_model = models.CharField(max_length=100)
    allows_v1g = models.BooleanField("V1G", default=True)
    allows_v2h = models.BooleanField("V2H", default=False)
    allows_v2g = models.BooleanField("V2G", default=False)
    notes = models.CharField(max_length=250, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner__name", "vehicle_model", "charger_maker", "charger_model"]
        verbose_name_plural = "approved equipment"
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "partner", "vehicle_model", "charger_maker", "charger_model"],
                name="unique_approved_pair",
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.vehicle_model} × {self.charger_maker} {self.charger_model}"


class BatteryPolicy(TenantOwned):
    """An automaker's battery-warranty limits, for all its models or one model (optionally a
    firmware range). The most specific active match applies."""

    partner = models.ForeignKey(AutomakerPartner, on_delete=models.PROTECT, related_name="+")
    vehicle_model = models.CharField(max_length=100, blank=True, help_text="Empty: all models.")
    firmware_min = models.CharField(max_length=40, blank=True)
    firmware_max = models.CharField(max_length=40, blank=True)
    discharge_soc_floor_pct = models.FloatField(validators=pct_validators)
    max_discharge_kw = models.FloatField(validators=non_negative)
    max_charge_kw = models.FloatField(null=True, blank=True, validators=non_negative)
    events_per_month_peak = models.PositiveSmallIntegerField()
    events_per_month_off_peak = models.PositiveSmallIntegerField()
    peak_months = models.JSONField(default=list, help_text="Months (1–12) that count as peak.")
    max_hours_per_event = models.FloatField(validators=non_negative)
    annual_discharge_kwh = models.FloatField(validators=non_negative)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner__name", "vehicle_model"]
        verbose_name_plural = "battery policies"

    def __str__(self) -> str:
        return f"{self.partner} {self.vehicle_model or 'all models'} policy"


class CustomerPreference(TenantOwned):
    """What the driver set in the automaker's app."""

    vehicle = models.OneToOneField(Vehicle, on_delete=models.CASCADE, related_name="preference")
    reserve_soc_pct = models.FloatField(null=True, blank=True, validators=pct_validators)
    reserve_miles = models.FloatField(null=True, blank=True, validators=non_negative)
    miles_per_kwh = models.FloatField(
        default=2.5,
        validators=[MinValueValidator(0.5), MaxValueValidator(6)],
        help_text="Used to turn a reserve in miles into energy.",
    )
    departure_time = models.TimeField(null=True, blank=True, help_text="Local time.")
    target_soc_pct = models.FloatField(null=True, blank=True, validators=pct_validators)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Preferences for {self.vehicle_id}"


class TelemetryReading(TenantOwned):
    """One reading as reported (after normalization). (vehicle, ts) is unique: re-posting the
    same reading is a no-op."""

    id = models.BigAutoField(primary_key=True)
    # The unique (vehicle, ts) index serves every lookup by vehicle; a second one would only
    # slow bulk ingest.
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="+", db_index=False)
    ts = models.DateTimeField()
    soc_pct = models.FloatField()
    power_kw = models.FloatField(help_text="+ charging, − discharging")
    plugged_in = models.BooleanField()
    charging_state = models.CharField(max_length=16)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "ts"], name="unique_reading_vehicle_ts")
        ]


class VehicleState(TenantOwned):
    """The latest reading per vehicle, kept current on ingest (only a newer reading wins)."""

    vehicle = models.OneToOneField(
        Vehicle, on_delete=models.CASCADE, primary_key=True, related_name="state"
    )
    ts = models.DateTimeField()
    soc_pct = models.FloatField()
    power_kw = models.FloatField()
    plugged_in = models.BooleanField()
    charging_state = models.CharField(max_length=16)
    updated_at = models.DateTimeField()


class TelemetryRollup(TenantOwned):
    """Energy charged and discharged per vehicle per 15-minute interval."""

    id = models.BigAutoField(primary_key=True)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="+")
    interval_start = models.DateTimeField()
    energy_charged_kwh = models.FloatField(default=0)
    energy_discharged_kwh = models.FloatField(default=0)
    mean_power_kw = models.FloatField(default=0)
    readings = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vehicle", "interval_start"], name="unique_rollup_vehicle_interval"
            )
        ]


class AdapterConfig(TenantOwned):
    """How the portal talks to a partner in one utility: push to its webhook, or let it pull.

    Holds the circuit-breaker state too, so every worker sees the same circuit.
    """

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Partner webhook (push)"
        PULL = "pull", "Partner pull (API)"

    class PowerUnit(models.TextChoices):
        KW = "kW", "kW"
        W = "W", "W"

    class SocUnit(models.TextChoices):
        PERCENT = "percent", "Percent (0–100)"
        FRACTION = "fraction", "Fraction (0–1)"

    class Circuit(models.TextChoices):
        CLOSED = "closed", "Closed (healthy)"
        OPEN = "open", "Open (failing, not calling)"
        HALF_OPEN = "half_open", "Half-open (trying one call)"

    agreement = models.OneToOneField(
        PartnerAgreement, on_delete=models.CASCADE, related_name="adapter_config"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PULL)
    endpoint_url = models.URLField(blank=True, help_text="Webhook endpoint for pushed commands.")
    signing_secret = models.CharField(max_length=128, default=secrets.token_hex, editable=False)
    timeout_seconds = models.FloatField(default=5.0, validators=[MinValueValidator(0.1)])
    max_batch_size = models.PositiveIntegerField(default=500)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    power_unit = models.CharField(max_length=2, choices=PowerUnit.choices, default=PowerUnit.KW)
    soc_unit = models.CharField(max_length=8, choices=SocUnit.choices, default=SocUnit.PERCENT)
    field_map = models.JSONField(
        default=dict,
        blank=True,
        help_text='Partner field name → portal field name, e.g. {"stateOfCharge": "soc"}.',
    )
    circuit_state = models.CharField(max_length=10, choices=Circuit.choices, default=Circuit.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.agreement}"


class DeviceCommand(TenantOwned):
    """A normalized command to one vehicle. The idempotency key is derived from its source
    (event, vehicle, revision), so re-sending never actuates twice."""

    class Kind(models.TextChoices):
        CHARGE = "charge", "Charge at setpoint"
        DISCHARGE = "discharge", "Discharge at setpoint"
        CURTAIL = "curtail", "Hold / curtail charging"
        RESTORE = "restore", "Restore normal charging"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        OPTED_OUT = "opted_out", "Opted out"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = {
        Status.REJECTED,
        Status.COMPLETED,
        Status.FAILED,
        Status.OPTED_OUT,
        Status.CANCELLED,
    }
    ALLOWED = {
        Status.PENDING: {
            Status.SENT,
            Status.ACCEPTED,
            Status.REJECTED,
            Status.FAILED,
            Status.CANCELLED,
            Status.OPTED_OUT,
        },
        Status.SENT: {
            Status.ACCEPTED,
            Status.REJECTED,
            Status.FAILED,
            Status.CANCELLED,
            Status.OPTED_OUT,
            Status.COMPLETED,
        },
        Status.ACCEPTED: {Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.OPTED_OUT},
    }

    id = models.BigAutoField(primary_key=True)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="commands")
    partner = models.ForeignKey(AutomakerPartner, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    setpoint_kw = models.FloatField(default=0, help_text="+ charge, − discharge, 0 hold")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # Unique by a constraint, not ``unique=True``: that would add a second (LIKE) index on
    # PostgreSQL, which every one of an event's 100,000 inserts would have to maintain.
    idempotency_key = models.CharField(max_length=120)
    source_type = models.CharField(max_length=40, blank=True, help_text="e.g. dispatch.event")
    source_id = models.CharField(max_length=64, blank=True)
    revision = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=250, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The delivery queue: only commands waiting for an answer, in the order they are
            # sent (soonest window first), so a claim reads the next chunk, not the queue.
            models.Index(
                fields=["partner", "starts_at", "id"],
                name="command_deliverable",
                condition=Q(status__in=["pending", "sent"]),
            ),
            models.Index(fields=["source_type", "source_id"], name="command_source"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="command_idempotency_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.setpoint_kw} kW → {self.vehicle_id} ({self.status})"


class AdapterAttempt(TenantOwned):
    """Every call to a partner's cloud: when, how long, what came back."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        HTTP_ERROR = "http_error", "HTTP error"
        TIMEOUT = "timeout", "Timeout"
        CONNECTION_ERROR = "connection_error", "Connection error"
        CIRCUIT_OPEN = "circuit_open", "Skipped: circuit open"
        INVALID_RESPONSE = "invalid_response", "Invalid response"

    id = models.BigAutoField(primary_key=True)
    agreement = models.ForeignKey(PartnerAgreement, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    command_count = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["agreement", "-started_at"], name="attempt_agreement_time")]


class OptOut(TenantOwned):
    """The customer opted out in the automaker's app: for one event, or for a time range."""

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="opt_outs")
    partner = models.ForeignKey(AutomakerPartner, on_delete=models.PROTECT, related_name="+")
    event_ref = models.CharField(max_length=64, blank=True, help_text="The event opted out of.")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=250, blank=True)
    partner_reference = models.CharField(
        max_length=100, blank=True, help_text="The partner's id for this opt-out (idempotency)."
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(
                name="opt_out_event_or_range",
                condition=~Q(event_ref="") | Q(starts_at__isnull=False, ends_at__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["partner", "partner_reference"],
                condition=~Q(partner_reference=""),
                name="unique_opt_out_reference",
            ),
        ]
