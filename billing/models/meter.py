"""Premise meter data: the imported interval files and the intervals they brought."""

from __future__ import annotations

from django.db import models

from portal.models import TenantOwned


class MeterImport(TenantOwned):
    """One import of a Green Button or CSV interval file into one service account, with its
    report (readings imported, duplicates skipped, rejected readings with reasons, warnings).
    A re-import of the same file is a new row pointing at the first (``previous``)."""

    REJECTED_KEPT = 1000

    class Kind(models.TextChoices):
        GREEN_BUTTON = "green_button", "Green Button"
        CSV = "csv", "CSV"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        COMMAND = "command", "Command"

    id = models.BigAutoField(primary_key=True)
    service_account = models.ForeignKey(
        "customers.ServiceAccount", on_delete=models.PROTECT, related_name="+"
    )
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    usage_point = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The earlier import of the same file into the same account.",
    )
    readings_in_file = models.PositiveIntegerField(default=0)
    readings_imported = models.PositiveIntegerField(default=0)
    duplicates_skipped = models.PositiveIntegerField(default=0)
    readings_rejected = models.PositiveIntegerField(default=0)
    # [[where, reason], ...]: the first REJECTED_KEPT of ``readings_rejected``
    rejected = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)  # [text, ...]
    first_start = models.DateTimeField(null=True, blank=True)
    last_end = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["service_account", "sha256"], name="meterimport_account_sha256"),
            models.Index(fields=["utility", "-created_at"], name="meterimport_utility_recent"),
        ]

    def __str__(self) -> str:
        return f"Meter import #{self.pk} ({self.filename})"


class MeterInterval(TenantOwned):
    """One metered interval of a premise: kWh > 0 imported from the grid, < 0 exported.
    At most one per account and start, so importing a file twice adds nothing."""

    id = models.BigAutoField(primary_key=True)
    service_account = models.ForeignKey(
        "customers.ServiceAccount", on_delete=models.CASCADE, related_name="+"
    )
    start = models.DateTimeField()
    seconds = models.PositiveIntegerField()
    # 1 mWh resolution (billing.intervals.series.KWH_QUANTUM), up to 10^8 kWh.
    kwh = models.DecimalField(max_digits=14, decimal_places=6)
    meter_import = models.ForeignKey(MeterImport, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["service_account", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_account", "start"], name="unique_meter_interval_account_start"
            ),
            models.CheckConstraint(
                condition=models.Q(seconds__gt=0), name="meter_interval_seconds_positive"
            ),
        ]
        indexes = [models.Index(fields=["meter_import"], name="meterinterval_import")]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.kwh} kWh"
