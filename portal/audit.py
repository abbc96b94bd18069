"""Writing the audit trail. Every state change and administrative action calls ``record``."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q, QuerySet

from portal.models import AuditEvent, User, Utility
from portal.request_context import get_request_id


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
    event = build(
        action=action,
        utility_id=utility.pk if utility is not None else None,
        obj=obj,
        actor=actor,
        client_id=client_id,
        partner_name=partner_name,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        changes=changes,
        label=label,
    )
    event.save(force_insert=True)
    return event


def build(
    *,
    action: str,
    utility_id: int | None,
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
    """The row ``record`` writes, unsaved: for paths that write many in one ``bulk_create``."""
    return AuditEvent(
        utility_id=utility_id,
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


# --- Reading an object's rows ---------------------------------------------------------------
# A row names its object by the model's label when it was written. The trail is never
# rewritten, so a model that moved to another app (its AppConfig says ``former_app_label``)
# is found under both labels.


def labels_of(model: type[models.Model]) -> list[str]:
    """Every label audit rows may name ``model`` by: the current one first."""
    meta = model._meta
    former = getattr(meta.app_config, "former_app_label", "")
    return [meta.label_lower, *([f"{former}.{meta.model_name}"] if former else [])]


def history_of(obj: models.Model) -> QuerySet[AuditEvent]:
    """The object's audit rows, whichever label they were written with."""
    return AuditEvent.objects.filter(object_type__in=labels_of(type(obj)), object_id=str(obj.pk))


def object_type_matches(text: str) -> Q:
    """Rows whose object type contains ``text``, and the rows of the same models under their
    other labels (before or after a move), so a search finds a moved model's whole trail."""
    text = text.strip().lower()
    same_models: list[str] = []
    for model in apps.get_models():
        labels = labels_of(model)
        if any(text in label for label in labels):
            same_models.extend(labels)
    return Q(object_type__icontains=text) | Q(object_type__in=same_models)
