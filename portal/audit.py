"""Writing the audit trail. Every state change and administrative action calls ``record``."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.models import AuditEvent, User, Utility
from portal.request_context import get_request_id

# Audit rows are append-only, so rows written before a model moved to another app keep its
# old label in ``object_type``: current label → the labels it had before.
FORMER_OBJECT_TYPES: dict[str, tuple[str, ...]] = {
    "customers.serviceaccount": ("enrollment.serviceaccount",),
    "customers.customerimport": ("enrollment.customerimport",),
}


def object_types(model: type[models.Model]) -> tuple[str, ...]:
    """Every ``object_type`` an audit row about an instance of ``model`` may carry."""
    label = model._meta.label_lower
    return (label, *FORMER_OBJECT_TYPES.get(label, ()))


def object_types_containing(text: str) -> tuple[str, ...]:
    """The former labels of the models whose current label contains ``text``, so that a
    search by today's label also finds the rows written under an older one."""
    text = text.lower()
    return tuple(
        former
        for label, formers in FORMER_OBJECT_TYPES.items()
        if text in label
        for former in formers
    )


def actor_label(*, user: User | None = None, client_id: str = "", partner_name: str = "") -> str:
    if user is not None and user.is_authenticated:
        return user.email
    if client_id:
        return f"API client {client_id}" + (f" ({partner_name})" if partner_name else "")
    return "system"


def record(
    *,
    action: str,
    utility: Utility | None,
    obj: models.Model | None = None,
    actor: User | None = None,
    client_id: str = "",
    partner_name: str = "",
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    changes: dict[str, Any] | None = None,
    label: str = "",
) -> AuditEvent:
    """Append one audit row. ``actor`` is the person; ``client_id`` an API client; neither
    means the system itself (a scheduled task), unless ``label`` names an outside party who
    has no account (e.g. the contact on a public access request)."""
    return AuditEvent.objects.create(
        utility=utility,
        actor_user=actor if actor is not None and actor.is_authenticated else None,
        actor_client_id=client_id,
        actor_label=label
        or actor_label(user=actor, client_id=client_id, partner_name=partner_name),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:254] if obj is not None else "",
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        changes=changes or {},
        request_id=get_request_id(),
    )
