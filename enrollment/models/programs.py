"""Programs, their terms, enrollments and consent, and customer CSV imports."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from portal.customers.models import ServiceAccount
from portal.models import TenantOwned


class Program(TenantOwned):
    """A utility's vehicle-grid program: its kind, seasons, event windows and limits, the
    eligibility rules enrollments are checked against, and its incentive budget."""

    class Kind(models.TextChoices):
        V1G = "v1g", "Managed charging (V1G)"
        V2H = "v2h", "Vehicle-to-home (V2H)"
        V2G = "v2g", "Vehicle-to-grid (V2G)"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for enrollment"
        CLOSED = "closed", "Closed to new enrollment"

    class MedicalNeedPolicy(models.TextChoices):
        EXCLUDE_FROM_EVENTS = "exclude_from_events", "Enroll, but never dispatch in events"
        EXCLUDE_FROM_PROGRAM = "exclude_from_program", "Not eligible for the program"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60)
    kind = models.CharField(max_length=4, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    description = models.TextField(blank=True)
    # Seasons: [{"name": "Summer", "months": [6, 7, 8, 9]}, ...]; months not listed are off-season.
    seasons = models.JSONField(default=list, blank=True)
    # Event window in local time, e.g. weekdays (0=Monday) 16:00–21:00.
    event_weekdays = models.JSONField(default=list, blank=True)
    event_window_start = models.TimeField(null=True, blank=True)
    event_window_end = models.TimeField(null=True, blank=True)
    enrollment_cap = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: no cap.")
    max_events_per_season = models.PositiveSmallIntegerField(null=True, blank=True)
    max_events_per_month = models.PositiveSmallIntegerField(null=True, blank=True)
    max_hours_per_event = models.FloatField(null=True, blank=True)
    min_notice_minutes = models.PositiveIntegerField(default=60)
    discharge_soc_floor_pct = models.FloatField(
        null=True, blank=True, help_text="Program floor for V2H/V2G discharge."
    )
    # Eligibility rules.
    eligible_zip_codes = models.JSONField(
        default=list, blank=True, help_text="Empty: the utility's whole service territory."
    )
    eligible_account_numbers = models.JSONField(
        default=list, blank=True, help_text="A premise list; empty: no premise restriction."
    )
    eligible_rate_classes = models.JSONField(default=list, blank=True, help_text="Empty: any.")
    require_approved_equipment = models.BooleanField(default=True)
    require_permission_to_operate = models.BooleanField(
        default=False, help_text="V2H grid-parallel and V2G need interconnection PTO."
    )
    require_smart_meter = models.BooleanField(default=True)
    one_enrollment_per_premise = models.BooleanField(default=False)
    conflicting_programs = models.ManyToManyField("self", blank=True, symmetrical=True)
    income_qualified_tier = models.BooleanField(default=False)
    medical_need_policy = models.CharField(
        max_length=24,
        choices=MedicalNeedPolicy.choices,
        default=MedicalNeedPolicy.EXCLUDE_FROM_EVENTS,
    )
    rules_version = models.PositiveIntegerField(
        default=1, help_text="Bumped when eligibility rules change; enrollments re-evaluate."
    )
    budget_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "slug"], name="unique_program_slug")
        ]

    def __str__(self) -> str:
        return self.name


class TermsVersion(TenantOwned):
    """A version of a program's terms; consent records point at the version accepted."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="terms_versions")
    version = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    body = models.TextField()
    effective_on = models.DateField()
    consent_valid_days = models.PositiveIntegerField(default=365)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "-effective_on"]
        constraints = [
            models.UniqueConstraint(fields=["program", "version"], name="unique_terms_version")
        ]

    def __str__(self) -> str:
        return f"{self.program} terms v{self.version}"


class Enrollment(TenantOwned):
    """A vehicle at a service account enrolled in a program."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Submitted"
        ELIGIBILITY_REVIEW = "eligibility_review", "Eligibility review"
        WAITLISTED = "waitlisted", "Waitlisted"
        AWAITING_INTERCONNECTION = "awaiting_interconnection", "Awaiting interconnection"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        WITHDRAWN = "withdrawn", "Withdrawn"
        ENDED = "ended", "Ended"

    ALLOWED = {
        Status.SUBMITTED: {Status.ELIGIBILITY_REVIEW, Status.WAITLISTED, Status.AWAITING_INTERCONNECTION, Status.ACTIVE, Status.WITHDRAWN},
        Status.ELIGIBILITY_REVIEW: {Status.WAITLISTED, Status.AWAITING_INTERCONNECTION, Status.ACTIVE, Status.WITHDRAWN, Status.ENDED},
        Status.WAITLISTED: {Status.ELIGIBILITY_REVIEW, Status.AWAITING_INTERCONNECTION, Status.ACTIVE, Status.WITHDRAWN},
        Status.AWAITING_INTERCONNECTION: {Status.ACTIVE, Status.ELIGIBILITY_REVIEW, Status.WITHDRAWN, Status.ENDED},
        Status.ACTIVE: {Status.SUSPENDED, Status.WITHDRAWN, Status.ENDED, Status.ELIGIBILITY_REVIEW},
        Status.SUSPENDED: {Status.ACTIVE, Status.WITHDRAWN, Status.ENDED},
    }  # fmt: skip
    # States that block conflicting enrollments (the partial unique constraint below).
    OPEN_STATES = [
        Status.SUBMITTED, Status.ELIGIBILITY_REVIEW, Status.WAITLISTED,
        Status.AWAITING_INTERCONNECTION, Status.ACTIVE, Status.SUSPENDED,
    ]  # fmt: skip
    # States that hold one of the program's seats (``enrollment_cap``). Admitted enrollments
    # keep their seat while they wait for PTO or are suspended, so a participant whose
    # consent lapsed or whose automaker left can come back without queueing again.
    SEAT_STATES = [Status.AWAITING_INTERCONNECTION, Status.ACTIVE, Status.SUSPENDED]

    class SuspensionCause(models.TextChoices):
        STAFF = "staff", "Suspended by staff"
        CONSENT_EXPIRED = "consent_expired", "Consent expired"
        PARTNER_OFFBOARDED = "partner_offboarded", "Partner agreement ended"

    class Channel(models.TextChoices):
        AUTOMAKER_APP = "automaker_app", "Automaker app"
        CHARGER_MARKETPLACE = "charger_marketplace", "Charger marketplace"
        INSTALLER = "installer", "Installer"
        STAFF = "staff", "Utility staff"

    id = models.BigAutoField(primary_key=True)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="enrollments"
    )
    vehicle = models.ForeignKey(
        "devices.Vehicle", on_delete=models.PROTECT, related_name="enrollments"
    )
    partner = models.ForeignKey(
        "portal.AutomakerPartner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SUBMITTED)
    status_reason = models.CharField(max_length=250, blank=True)
    # Per-rule results: [{"rule": "territory", "passed": true, "detail": "ZIP 94110 served"}, ...]
    eligibility = models.JSONField(default=list, blank=True)
    eligibility_rules_version = models.PositiveIntegerField(default=0)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    failed_rules = models.JSONField(default=list, blank=True)
    override_reason = models.TextField(blank=True)
    # The failed rules staff approved despite; a re-evaluation failing only these keeps the
    # enrollment where it is.
    overridden_rules = models.JSONField(default=list, blank=True)
    override_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    income_qualified = models.BooleanField(default=False)
    excluded_from_events = models.BooleanField(
        default=False, help_text="Medical-need customer: enrolled, but never dispatched."
    )
    suspension_cause = models.CharField(max_length=20, choices=SuspensionCause.choices, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    # SHA-256 of the request body that created it: a retry with the same key must match.
    idempotency_fingerprint = models.CharField(max_length=64, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    waitlisted_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "vehicle"],
                condition=Q(
                    status__in=[
                        "submitted", "eligibility_review", "waitlisted",
                        "awaiting_interconnection", "active", "suspended",
                    ]
                ),
                name="one_open_enrollment_per_vehicle_and_program",
            ),
            models.UniqueConstraint(
                fields=["partner", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="unique_enrollment_idempotency_key",
            ),
        ]  # fmt: skip
        indexes = [
            models.Index(fields=["utility", "status", "-submitted_at"], name="enrollment_queue"),
            models.Index(fields=["program", "status", "waitlisted_at"], name="enrollment_waitlist"),
            models.Index(fields=["utility", "-submitted_at", "-id"], name="enrollment_recent"),
            # The partner API's ?changed_since= pull.
            models.Index(fields=["partner", "updated_at", "id"], name="enrollment_partner_changes"),
        ]

    def __str__(self) -> str:
        return f"Enrollment #{self.pk} ({self.get_status_display()})"


class Consent(TenantOwned):
    """What the customer agreed to: which terms version, when, through which channel, which
    data may be shared, and until when."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="consents")
    terms_version = models.ForeignKey(TermsVersion, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField()
    channel = models.CharField(max_length=20, choices=Enrollment.Channel.choices)
    data_sharing_scope = models.JSONField(
        default=list, help_text='e.g. ["telemetry", "location", "charging_schedule"]'
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at"]
        indexes = [models.Index(fields=["utility", "expires_at"], name="consent_expiry")]
