"""The benchmark tenant's bulk data: its audit trail, its customer count, and fresh planner
statistics after a bulk load."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import connection, models, transaction
from django.utils import timezone
from django_scopes import scope

from demo.customers import BULK_BATCH_SIZE
from demo.organizations import SCALE_SLUG
from portal.customers.models import ServiceAccount
from portal.models import (
    AuditEvent,
    Utility,
)


def refresh_planner_statistics(*, model_classes: list[type[models.Model]]) -> None:
    """ANALYZE tables after a bulk load: until autovacuum gets to them, the query planner
    believes they are nearly empty and picks plans that are slow for 100,000 rows."""
    with connection.cursor() as cursor:
        for model in model_classes:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


SCALE_AUDIT_COMMENT = "Benchmark data"
_SCALE_AUDIT_ACTIONS = (
    ("customer.updated", "", ""),
    ("customer.contact_changed", "", ""),
    ("enrollment.submitted", "", "submitted"),
    ("enrollment.approved", "submitted", "approved"),
    ("event.opted_out", "enrolled", "opted_out"),
)


def ensure_scale_audit_trail(*, utility: Utility, count: int) -> int:
    """Top the tenant's audit trail up to ``count`` rows spread over the past year, each about
    one of its customers. Bulk-inserted: the trail is append-only, so nothing is updated."""
    label = ServiceAccount._meta.label_lower
    now = timezone.now()
    with scope(utility=utility.pk):
        have = AuditEvent.objects.filter(comment=SCALE_AUDIT_COMMENT).count()
        wanted = max(count - have, 0)
        if not wanted:
            return 0
        customers = list(
            ServiceAccount.objects.order_by("pk").values_list("pk", "account_number")[:wanted]
        )
        if not customers:
            return 0
        rows = []
        for offset in range(wanted):
            index = have + offset
            rng = random.Random(f"{utility.slug}:audit:{index}")
            pk, account_number = customers[offset % len(customers)]
            action, from_state, to_state = rng.choice(_SCALE_AUDIT_ACTIONS)
            rows.append(
                AuditEvent(
                    utility=utility,
                    created_at=now - timedelta(seconds=rng.randint(0, 365 * 86_400)),
                    actor_label="system",
                    action=action,
                    object_type=label,
                    object_id=str(pk),
                    object_repr=account_number,
                    from_state=from_state,
                    to_state=to_state,
                    comment=SCALE_AUDIT_COMMENT,
                )
            )
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows, batch_size=BULK_BATCH_SIZE)
    return wanted


def scale_customer_count() -> int:
    utility = Utility.objects.filter(slug=SCALE_SLUG).first()
    if utility is None:
        return 0
    with scope(utility=utility.pk):
        return ServiceAccount.objects.count()
