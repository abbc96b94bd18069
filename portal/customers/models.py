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


class CustomerAuthorization(TenantOwned):
    """The customer's permission for one automaker partner or one installer to act for a
    service account: a one-time code the utility gives the customer (printed on the bill,
    mailed, or read out by customer service), which the party presents with the account
    number and ZIP code.

    Only a keyed hash of the code is stored. A code is good until ``expires_at`` and is
    redeemed once: the party that redeems it is from then on related to the account (it may
    link vehicles, enroll, open applications for it without a new code) until staff revoke the
    authorization. Issued → redeemed → revoked, or issued → revoked; expiry is read from time.
    """

    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, related_name="authorizations"
    )
    code_hash = models.CharField(max_length=64)
    issued_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_by_partner = models.ForeignKey(
        "portal.AutomakerPartner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    redeemed_by_installer = models.ForeignKey(
        "portal.InstallerCompany",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "code_hash"], name="unique_authorization_code"
            ),
            models.CheckConstraint(
                condition=models.Q(redeemed_by_partner__isnull=True)
                | models.Q(redeemed_by_installer__isnull=True),
                name="authorization_redeemed_by_one_party",
            ),
            models.CheckConstraint(
                condition=models.Q(redeemed_at__isnull=True)
                | models.Q(redeemed_by_partner__isnull=False)
                | models.Q(redeemed_by_installer__isnull=False),
                name="authorization_redeemed_by_someone",
            ),
        ]
        indexes = [
            models.Index(
                fields=["service_account", "redeemed_by_partner"], name="auth_account_partner"
            ),
            models.Index(
                fields=["service_account", "redeemed_by_installer"], name="auth_account_installer"
            ),
        ]

    def __str__(self) -> str:
        return f"Authorization {self.pk} for {self.service_account_id}"

    @property
    def redeemed_by(self):
        return self.redeemed_by_partner or self.redeemed_by_installer

    def state(self, now) -> str:
        if self.revoked_at:
            return "revoked"
        if self.redeemed_at:
            return "redeemed"
        return "expired" if self.expires_at <= now else "issued"


class CustomerLookupFailure(TenantOwned):
    """A failed customer lookup by a partner client or an installer: the account number, ZIP
    code or authorization code did not match. Counted on the utility's page of failed lookups;
    the account number tried is kept so staff can see which customer was being probed."""

    class Channel(models.TextChoices):
        PARTNER_API = "partner_api", "Partner API"
        INSTALLER = "installer", "Installer workspace"

    channel = models.CharField(max_length=20, choices=Channel.choices)
    partner = models.ForeignKey(
        "portal.AutomakerPartner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    client_id = models.CharField(max_length=100, blank=True)
    installer = models.ForeignKey(
        "portal.InstallerCompany", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.GenericIPAddressField(null=True, blank=True)
    account_number_tried = models.CharField(max_length=32, blank=True)
    blocked = models.BooleanField(
        default=False, help_text="Refused because the party or address had spent its budget."
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["utility", "at"], name="lookup_failure_utility_at")]

    @property
    def party(self):
        return self.partner or self.installer
