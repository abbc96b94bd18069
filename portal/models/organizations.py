"""The organizations around a utility: installer companies and their approvals, AHJs and
their territories, automaker partners, their agreements and API clients."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.models.tenancy import TenantOwned, Utility
from portal.models.users import User


class InstallerCompany(models.Model):
    """An EVSE contractor. Not a tenant: it works in several utilities' territories."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    license_number = models.CharField(max_length=40)
    license_state = models.CharField(max_length=2, default="CA")
    phone = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "installer companies"
        constraints = [
            models.UniqueConstraint(
                fields=["license_state", "license_number"], name="unique_installer_license"
            )
        ]

    def __str__(self) -> str:
        return self.name


class InstallerApproval(TenantOwned):
    """An installer company approved to work in a utility's territory."""

    installer = models.ForeignKey(
        InstallerCompany, on_delete=models.CASCADE, related_name="approvals"
    )
    approved_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["installer__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "installer"], name="unique_installer_approval"
            )
        ]

    def __str__(self) -> str:
        return f"{self.installer} in {self.utility}"


class AHJ(models.Model):
    """Authority having jurisdiction: a city or county building department."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    jurisdiction = models.CharField(max_length=200, help_text="e.g. City of Riverside, CA")
    zip_codes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "AHJ"
        verbose_name_plural = "AHJs"

    def __str__(self) -> str:
        return self.name


class AHJTerritory(TenantOwned):
    """An AHJ whose jurisdiction overlaps a utility's service territory."""

    ahj = models.ForeignKey(AHJ, on_delete=models.CASCADE, related_name="territories")

    class Meta:
        ordering = ["ahj__name"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "ahj"], name="unique_ahj_territory")
        ]

    def __str__(self) -> str:
        return f"{self.ahj} in {self.utility}"


class AutomakerPartner(models.Model):
    """An automaker (OEM) or charger-maker cloud that talks to the portal over its API."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartnerAgreement(TenantOwned):
    """A partner's agreement with one utility. API access exists only while it is active."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        ENDED = "ended", "Ended"

    partner = models.ForeignKey(
        AutomakerPartner, on_delete=models.PROTECT, related_name="agreements"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    starts_on = models.DateField(default=timezone.localdate)
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner__name"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "partner"], name="unique_partner_agreement")
        ]

    def __str__(self) -> str:
        return f"{self.partner} × {self.utility} ({self.status})"


class PartnerClient(models.Model):
    """Binds an OAuth2 client-credentials application to a partner and the utilities it may
    act in. Effective access is these utilities ∩ the partner's active agreements."""

    partner = models.ForeignKey(AutomakerPartner, on_delete=models.CASCADE, related_name="clients")
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="partner_client",
    )
    utilities = models.ManyToManyField(Utility, related_name="+")
    allowed_scopes = models.JSONField(
        default=list, help_text="OAuth scopes this client may request."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.partner} client {self.application.client_id}"
