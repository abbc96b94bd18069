"""Who acts for which organization: memberships (roles), the invitations that grant them and
installer companies' requests to work in a utility."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.models.organizations import AHJ, InstallerCompany
from portal.models.tenancy import TenantOwned, Utility
from portal.models.users import User
from portal.roles import AHJ_ROLES, INSTALLER_ROLES, UTILITY_ROLES, OrgKind, Role


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
