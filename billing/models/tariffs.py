"""Tariffs (versions of a URDB tariff) and their assignments to rate classes and accounts."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from billing.rates.schedule import TariffSchedule
from portal.customers.models import ServiceAccount
from portal.models import TenantOwned


class Tariff(TenantOwned):
    """One version of a utility's tariff, as imported from an OpenEI URDB document.

    Versions of the same tariff share ``name``; they never overlap in time (the import service
    closes the previous version the day before a new one starts and refuses overlaps).
    ``supported`` is False when the document has constructs the bill engine cannot compute;
    they are listed in ``unsupported``."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=300)
    utility_name = models.CharField(max_length=300, blank=True)
    urdb_label = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField()
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    document = models.JSONField(help_text="The URDB tariff object as imported.")
    schedule = models.JSONField(help_text="TariffSchedule.to_json(): what the engine bills.")
    supported = models.BooleanField()
    unsupported = models.JSONField(default=list, blank=True)  # [description, ...]
    created_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "name", "version"], name="tariff_unique_version"
            ),
            models.UniqueConstraint(
                fields=["utility", "name", "effective_from"], name="tariff_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="tariff_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    @property
    def schedule_obj(self) -> TariffSchedule:
        cached = getattr(self, "_schedule_obj", None)
        if cached is None:
            cached = self._schedule_obj = TariffSchedule.from_json(self.schedule)
        return cached


class TariffAssignment(TenantOwned):
    """A tariff applied to a whole rate class, or to one service account (which wins), over
    a span of dates. The assignment names the tariff; the version in force on a given day is
    the one of the same name effective that day (``billing.selectors.tariffs.tariff_for``)."""

    id = models.BigAutoField(primary_key=True)
    tariff = models.ForeignKey(Tariff, on_delete=models.PROTECT, related_name="assignments")
    rate_class = models.CharField(
        max_length=20, choices=ServiceAccount.RateClass.choices, blank=True
    )
    service_account = models.ForeignKey(
        "customers.ServiceAccount",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_from", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(rate_class="") & Q(service_account__isnull=False))
                | (~Q(rate_class="") & Q(service_account__isnull=True)),
                name="tariffassignment_class_xor_account",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="tariffassignment_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["service_account", "effective_from"], name="tariffassign_account"),
            models.Index(fields=["rate_class", "effective_from"], name="tariffassign_class"),
        ]

    def __str__(self) -> str:
        return f"{self.tariff.name} for {self.target_label}"

    @property
    def target_label(self) -> str:
        if self.service_account_id:
            return f"account {self.service_account.account_number}"
        return f"rate class {self.get_rate_class_display()}"
