"""The audit trail: one append-only row per state change or administrative action."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

from portal.models.tenancy import Utility
from portal.models.users import User


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
    # The hash chain (see portal/audit_chain.py), filled by the sealing pass, never by a save.
    chain_seq = models.BigIntegerField(null=True, editable=False)
    prev_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    row_hash = models.CharField(max_length=64, blank=True, default="", editable=False)

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
