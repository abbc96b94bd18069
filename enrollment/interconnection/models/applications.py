"""Interconnection applications: one shared application across installer, utility and AHJ.

Two tracks run in parallel on the same row: the utility's review (``status``) and the AHJ's
permit and inspection (``permit_status``). Each has a ``Status`` choices class and an
``ALLOWED`` map; ``enrollment.interconnection.services`` holds one function per transition.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.customers.models import ServiceAccount
from portal.models import AHJ, InstallerCompany, TenantOwned


class Transformer(TenantOwned):
    """A distribution transformer: the aggregate-export screen sums approved and pending
    export behind it against its threshold."""

    code = models.CharField(max_length=40)
    feeder = models.CharField(max_length=40, blank=True)
    rating_kva = models.FloatField()
    export_threshold_kw = models.FloatField(
        help_text="Aggregate export allowed behind this transformer without a study."
    )

    class Meta:
        db_table = "enrollment_transformer"
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "code"], name="unique_transformer_code")
        ]

    def __str__(self) -> str:
        return self.code


# Business-day targets per SLA stage (DOMAIN: acknowledge 3, completeness 10, supplemental
# review 40–60, AHJ permit ~5, inspection ~a week, PTO ≤ 10 after completion).
DEFAULT_SLA_BUSINESS_DAYS = {
    "acknowledgement": 3,
    "completeness": 10,
    "technical_review": 50,
    "pto": 10,
    "permit": 5,
    "inspection": 5,
}


class InterconnectionPolicy(TenantOwned):
    """A utility's interconnection settings; a utility without a row uses the defaults."""

    fast_track_max_export_kw = models.FloatField(
        default=11.5, help_text="Largest export a fast-track (screens-only) approval may grant."
    )
    sla_business_days = models.JSONField(
        default=dict, blank=True, help_text="Overrides per stage, e.g. {'completeness': 7}."
    )

    class Meta:
        db_table = "enrollment_interconnectionpolicy"
        verbose_name_plural = "interconnection policies"
        constraints = [
            models.UniqueConstraint(fields=["utility"], name="one_interconnection_policy")
        ]

    def target_business_days(self, stage: str) -> int:
        return int(self.sla_business_days.get(stage, DEFAULT_SLA_BUSINESS_DAYS[stage]))


class InterconnectionApplication(TenantOwned):
    class Configuration(models.TextChoices):
        CHARGE_ONLY = "charge_only", "Charge only (no export)"
        BACKUP_V2H = "backup_v2h", "Backup-only V2H (transfer switch, NEC 702)"
        GRID_PARALLEL_V2H = "grid_parallel_v2h", "Grid-parallel V2H (IEEE 1547, UL 1741-SB)"
        V2G = "v2g", "V2G export (IEEE 1547, UL 1741-SB, UL 9741)"

    class ReviewPath(models.TextChoices):
        NONE = "none", "No interconnection review"
        SIMPLIFIED = "simplified", "Simplified review"
        FULL = "full", "Full review"

    class Status(models.TextChoices):
        """The utility's track."""

        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        COMPLETENESS_REVIEW = "completeness_review", "Completeness review"
        NEEDS_INFO = "needs_info", "Needs information"
        TECHNICAL_REVIEW = "technical_review", "Engineering review"
        APPROVED_TO_INSTALL = "approved_to_install", "Approved to install"
        INSTALLED = "installed", "Installed, awaiting PTO"
        PTO_GRANTED = "pto_granted", "Permission to operate"
        PTO_REVOKED = "pto_revoked", "Permission to operate revoked"
        NO_REVIEW_NEEDED = "no_review_needed", "No interconnection needed"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    ALLOWED = {
        Status.DRAFT: {Status.SUBMITTED, Status.NO_REVIEW_NEEDED, Status.WITHDRAWN},
        Status.SUBMITTED: {Status.COMPLETENESS_REVIEW, Status.WITHDRAWN},
        Status.COMPLETENESS_REVIEW: {
            Status.NEEDS_INFO, Status.TECHNICAL_REVIEW, Status.APPROVED_TO_INSTALL,
            Status.WITHDRAWN,
        },
        Status.NEEDS_INFO: {
            Status.COMPLETENESS_REVIEW, Status.TECHNICAL_REVIEW, Status.INSTALLED,
            Status.WITHDRAWN,
        },
        Status.TECHNICAL_REVIEW: {
            Status.NEEDS_INFO, Status.APPROVED_TO_INSTALL, Status.REJECTED, Status.WITHDRAWN,
        },
        Status.APPROVED_TO_INSTALL: {Status.INSTALLED, Status.WITHDRAWN},
        Status.INSTALLED: {Status.NEEDS_INFO, Status.PTO_GRANTED},
        # The utility may withdraw permission (an unapproved change, a failed re-test) and
        # grant it again once the premise is back in order.
        Status.PTO_GRANTED: {Status.PTO_REVOKED},
        Status.PTO_REVOKED: {Status.PTO_GRANTED},
    }  # fmt: skip
    # In the utility's hands or the installer's after submission, not finished.
    OPEN_STATES = [
        Status.SUBMITTED, Status.COMPLETENESS_REVIEW, Status.NEEDS_INFO,
        Status.TECHNICAL_REVIEW, Status.APPROVED_TO_INSTALL, Status.INSTALLED,
    ]  # fmt: skip
    FINAL_STATES = [
        Status.PTO_GRANTED, Status.PTO_REVOKED, Status.NO_REVIEW_NEEDED, Status.REJECTED,
        Status.WITHDRAWN,
    ]  # fmt: skip

    class PermitStatus(models.TextChoices):
        """The AHJ's track."""

        NOT_SUBMITTED = "not_submitted", "Not submitted"
        PERMIT_REVIEW = "permit_review", "Permit review"
        CORRECTIONS = "corrections", "Corrections requested"
        PERMIT_ISSUED = "permit_issued", "Permit issued"
        INSPECTION_REQUESTED = "inspection_requested", "Inspection requested"
        INSPECTION_SCHEDULED = "inspection_scheduled", "Inspection scheduled"
        INSPECTION_FAILED = "inspection_failed", "Inspection failed, corrections needed"
        INSPECTION_PASSED = "inspection_passed", "Final inspection passed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    PERMIT_ALLOWED = {
        PermitStatus.NOT_SUBMITTED: {PermitStatus.PERMIT_REVIEW, PermitStatus.WITHDRAWN},
        PermitStatus.PERMIT_REVIEW: {
            PermitStatus.CORRECTIONS, PermitStatus.PERMIT_ISSUED, PermitStatus.WITHDRAWN,
        },
        PermitStatus.CORRECTIONS: {PermitStatus.PERMIT_REVIEW, PermitStatus.WITHDRAWN},
        PermitStatus.PERMIT_ISSUED: {PermitStatus.INSPECTION_REQUESTED, PermitStatus.WITHDRAWN},
        PermitStatus.INSPECTION_REQUESTED: {
            PermitStatus.INSPECTION_SCHEDULED, PermitStatus.INSPECTION_PASSED,
            PermitStatus.INSPECTION_FAILED, PermitStatus.WITHDRAWN,
        },
        PermitStatus.INSPECTION_SCHEDULED: {
            PermitStatus.INSPECTION_PASSED, PermitStatus.INSPECTION_FAILED,
            PermitStatus.WITHDRAWN,
        },
        PermitStatus.INSPECTION_FAILED: {
            PermitStatus.INSPECTION_REQUESTED, PermitStatus.WITHDRAWN,
        },
    }  # fmt: skip

    class WitnessTest(models.TextChoices):
        UNDECIDED = "undecided", "Not decided"
        SCHEDULED = "scheduled", "Scheduled"
        WAIVED = "waived", "Waived"
        PASSED = "passed", "Passed"

    id = models.BigAutoField(primary_key=True)
    reference = models.CharField(max_length=24, blank=True)
    installer = models.ForeignKey(
        InstallerCompany, on_delete=models.PROTECT, related_name="interconnection_applications"
    )
    ahj = models.ForeignKey(
        AHJ,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="interconnection_applications",
        verbose_name="AHJ",
    )
    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.PROTECT, related_name="interconnection_applications"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    configuration = models.CharField(max_length=20, choices=Configuration.choices)
    review_path = models.CharField(max_length=10, choices=ReviewPath.choices, blank=True)
    vehicle = models.ForeignKey(
        "devices.Vehicle", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    charger = models.ForeignKey(
        "devices.Charger", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transfer_switch_model = models.CharField(max_length=120, blank=True)
    transformer = models.ForeignKey(
        Transformer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    nameplate_kw = models.FloatField(null=True, blank=True)
    requested_export_kw = models.FloatField(null=True, blank=True)
    panel_rating_amps = models.PositiveIntegerField(null=True, blank=True)
    busbar_rating_amps = models.PositiveIntegerField(null=True, blank=True)
    main_breaker_amps = models.PositiveIntegerField(null=True, blank=True)
    backfeed_breaker_amps = models.PositiveIntegerField(
        null=True, blank=True, help_text="The EVSE's backfed breaker (120% busbar rule)."
    )
    installer_license = models.CharField(max_length=40, blank=True)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    permit_status = models.CharField(
        max_length=20, choices=PermitStatus.choices, default=PermitStatus.NOT_SUBMITTED
    )
    # Where each track goes back to when the applicant answers a deficiency.
    status_before_info = models.CharField(max_length=20, blank=True)
    witness_test = models.CharField(
        max_length=10, choices=WitnessTest.choices, default=WitnessTest.UNDECIDED
    )
    witness_test_on = models.DateField(null=True, blank=True)
    screen_results = models.JSONField(default=list, blank=True)
    screened_at = models.DateTimeField(null=True, blank=True)
    fast_tracked = models.BooleanField(default=False)
    assigned_engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    deficiency_rounds = models.PositiveSmallIntegerField(
        default=0, help_text="Times the utility sent it back (0 = accepted first pass)."
    )
    permit_number = models.CharField(max_length=40, blank=True)
    inspection_on = models.DateField(null=True, blank=True)
    # The day the final inspection actually happened (``inspection_on`` is when it was
    # scheduled; an inspector may come earlier or later).
    inspected_on = models.DateField(null=True, blank=True)
    approved_export_kw = models.FloatField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    permit_issued_at = models.DateTimeField(null=True, blank=True)
    inspection_passed_at = models.DateTimeField(null=True, blank=True)
    pto_at = models.DateTimeField(null=True, blank=True)
    pto_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    business_days_to_pto = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "enrollment_interconnectionapplication"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["utility", "status", "-created_at"], name="ic_queue"),
            models.Index(fields=["installer", "-created_at"], name="ic_installer"),
            models.Index(fields=["ahj", "permit_status", "-created_at"], name="ic_ahj"),
            models.Index(fields=["utility", "transformer", "status"], name="ic_transformer"),
        ]

    def __str__(self) -> str:
        return self.reference or f"Draft application #{self.pk}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def needs_interconnection(self) -> bool:
        return self.configuration != self.Configuration.CHARGE_ONLY
