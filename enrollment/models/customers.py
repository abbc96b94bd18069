"""Customers (service accounts) of a utility."""

from __future__ import annotations

from django.db import models

from portal.models import TenantOwned, zip_code_validator


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
