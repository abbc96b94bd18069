"""Customers of a utility: service accounts and the CSV imports that create them.

The tables keep the names they had when these models lived in the enrollment app."""

from __future__ import annotations

from django.db import models

from portal.models import TenantOwned
from portal.models.tenancy import zip_code_validator


class ServiceAccount(TenantOwned):
    """A utility customer's service account at one premise, with minimal contact data."""

    class RateClass(models.TextChoices):
        RESIDENTIAL = "residential", "Residential"
        RESIDENTIAL_TOU = "residential_tou", "Residential time-of-use"
        RESIDENTIAL_EV = "residential_ev", "Residential EV rate"
        SMALL_COMMERCIAL = "small_commercial", "Small commercial"

    account_number = models.CharField(max_length=32)
    customer_name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    premise_address = models.CharField(max_length=250)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=2)
    zip_code = models.CharField(max_length=5, validators=[zip_code_validator])
    meter_id = models.CharField(max_length=32, blank=True)
    feeder = models.CharField(
        max_length=40, blank=True, help_text="Distribution feeder serving the premise (GIS)."
    )
    rate_class = models.CharField(max_length=20, choices=RateClass.choices)
    tariff = models.CharField(max_length=100, blank=True, help_text="Tariff name, e.g. EV2-A")
    smart_meter = models.BooleanField(default=True)
    income_qualified = models.BooleanField(
        default=False, help_text="Verified for the income-qualified incentive tier."
    )
    medical_need = models.BooleanField(
        default=False, help_text="Medical baseline / life-support customer."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "enrollment_serviceaccount"
        ordering = ["account_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "account_number"], name="unique_account_number"
            )
        ]
        indexes = [
            models.Index(fields=["utility", "zip_code"], name="account_utility_zip"),
            models.Index(fields=["utility", "customer_name"], name="account_utility_name"),
        ]

    def __str__(self) -> str:
        return f"{self.account_number} — {self.customer_name}"


class CustomerImport(TenantOwned):
    """One upload of the utility's customer CSV extract and its row-level report, kept so
    the report can be downloaded later and nothing about an import is lost."""

    uploaded_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=20, default="upload", help_text="upload or command")
    filename = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    unknown_columns = models.JSONField(default=list, blank=True)
    # [{"row": 2, "account_number": "...", "outcome": "rejected", "reasons": ["..."]}, ...]
    report = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "enrollment_customerimport"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Customer import #{self.pk} ({self.filename})"

    @property
    def total(self) -> int:
        return self.imported + self.updated + self.unchanged + self.rejected
