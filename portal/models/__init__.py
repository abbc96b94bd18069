"""The tenancy core: utilities (tenants), the organizations around them, people and roles,
partner agreements, invitations, access requests and the audit trail."""

from __future__ import annotations

import hashlib
import secrets
import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_scopes import ScopedManager

from portal.roles import AHJ_ROLES, INSTALLER_ROLES, UTILITY_ROLES, OrgKind, Role

zip_code_validator = RegexValidator(r"^\d{5}$", "Enter a five-digit ZIP code.")


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone.") from None


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Which organizations they act for, and how, is in ``Membership``."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May use the platform admin site.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split(" ")[0]


class Utility(models.Model):
    """The tenant. Every customer, enrollment, application, event and bill belongs to one."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    service_territory = models.TextField(
        help_text="Description of the service territory (counties, cities)."
    )
    territory_zip_codes = models.JSONField(
        default=list, blank=True, help_text="Five-digit ZIP codes served."
    )
    holiday_country = models.CharField(max_length=2, default="US")
    holiday_subdivision = models.CharField(max_length=10, blank=True, help_text="e.g. CA, CO")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "utilities"

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def clean(self) -> None:
        for code in self.territory_zip_codes or []:
            zip_code_validator(code)


class TenantOwned(models.Model):
    """Base for every table that belongs to one utility.

    The default manager refuses to run a query unless a utility scope is active
    (``django_scopes.scope(utility=...)``), so forgetting to scope fails closed.
    """

    utility = models.ForeignKey(Utility, on_delete=models.PROTECT, related_name="+")

    objects = ScopedManager(utility="utility")

    class Meta:
        abstract = True


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


class Membership(models.Model):
    """A user's role in one organization: a utility, an installer company or an AHJ.

    Not scoped by ``utility``: this is the table that decides which scopes a person may enter,
    and every query on it is filtered by user or by organization explicitly.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    utility = models.ForeignKey(
        Utility, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    installer = models.ForeignKey(
        InstallerCompany,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    ahj = models.ForeignKey(
        AHJ, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["user__email", "role"]
        constraints = [
            models.CheckConstraint(
                name="membership_org_matches_role",
                condition=(
                    Q(
                        role__in=UTILITY_ROLES,
                        utility__isnull=False,
                        installer__isnull=True,
                        ahj__isnull=True,
                    )
                    | Q(
                        role__in=INSTALLER_ROLES,
                        utility__isnull=True,
                        installer__isnull=False,
                        ahj__isnull=True,
                    )
                    | Q(
                        role__in=AHJ_ROLES,
                        utility__isnull=True,
                        installer__isnull=True,
                        ahj__isnull=False,
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["user", "role", "utility"],
                condition=Q(utility__isnull=False),
                name="unique_utility_membership",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "installer"],
                condition=Q(installer__isnull=False),
                name="unique_installer_membership",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "ahj"],
                condition=Q(ahj__isnull=False),
                name="unique_ahj_membership",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} @ {self.organization}"

    @property
    def organization(self):
        return self.utility or self.installer or self.ahj

    @property
    def org_kind(self) -> str:
        if self.utility_id:
            return OrgKind.UTILITY
        if self.installer_id:
            return OrgKind.INSTALLER
        return OrgKind.AHJ


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def open(self):
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )

    def by_token(self, token: str):
        return self.filter(token_hash=_hash_token(token))


class Invitation(models.Model):
    """An emailed invitation to join an organization with a role. Only the token's hash is
    stored, so a database reader cannot accept someone else's invitation."""

    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    utility = models.ForeignKey(
        Utility, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    installer = models.ForeignKey(
        InstallerCompany, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    ahj = models.ForeignKey(AHJ, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="invitation_org_matches_role",
                condition=(
                    Q(
                        role__in=UTILITY_ROLES,
                        utility__isnull=False,
                        installer__isnull=True,
                        ahj__isnull=True,
                    )
                    | Q(
                        role__in=INSTALLER_ROLES,
                        utility__isnull=True,
                        installer__isnull=False,
                        ahj__isnull=True,
                    )
                    | Q(
                        role__in=AHJ_ROLES,
                        utility__isnull=True,
                        installer__isnull=True,
                        ahj__isnull=False,
                    )
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email} as {self.get_role_display()}"

    @staticmethod
    def new_token() -> tuple[str, str]:
        """A fresh (token, hash) pair; the token goes in the email, the hash in the table."""
        token = secrets.token_urlsafe(32)
        return token, _hash_token(token)

    @property
    def organization(self):
        return self.utility or self.installer or self.ahj

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


class AccessRequest(TenantOwned):
    """An installer company asking to work in a utility; a program admin decides."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    ALLOWED = {Status.PENDING: {Status.APPROVED, Status.REJECTED}}

    installer = models.ForeignKey(
        InstallerCompany,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="access_requests",
        help_text="Set when an existing company asks; empty for a company new to the portal.",
    )
    company_name = models.CharField(max_length=200)
    license_number = models.CharField(max_length=40)
    license_state = models.CharField(max_length=2, default="CA")
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    message = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "license_state", "license_number"],
                condition=Q(status="pending"),
                name="one_pending_access_request_per_licence",
            )
        ]

    def __str__(self) -> str:
        return f"{self.company_name} → {self.utility} ({self.status})"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditTrailIsAppendOnly("Audit events cannot be changed.")

    def delete(self):
        raise AuditTrailIsAppendOnly("Audit events cannot be deleted.")


class AuditTrailIsAppendOnly(Exception):
    pass


class AuditEvent(models.Model):
    """One row per state change or administrative action. Append-only: the model refuses
    updates and deletes, and a database trigger refuses them too (see the migration)."""

    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    utility = models.ForeignKey(
        Utility,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for platform-level actions outside any utility.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_client_id = models.CharField(max_length=100, blank=True)
    actor_label = models.CharField(max_length=254, help_text="Who, as shown at the time.")
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=254, blank=True)
    from_state = models.CharField(max_length=64, blank=True)
    to_state = models.CharField(max_length=64, blank=True)
    comment = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)

    objects = ScopedManager(
        utility="utility", _manager_class=models.Manager.from_queryset(AuditEventQuerySet)
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["utility", "-created_at"], name="audit_utility_time")]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"
        )

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditTrailIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailIsAppendOnly("Audit events cannot be deleted.")
