"""Changes made in the admin site, in the append-only audit trail.

``PortalAdminSite`` gives every model admin this mixin, so one place covers the portal's
models and the libraries' (allauth's authenticators, OAuth applications, beat schedules).
Each add, change or delete writes one row on the object, in the object's utility when it
has one (its auditors see it; platform-level otherwise), with the fields that changed, from
and to. A row changed through an inline (a membership on a user's page) gets its own row
too, in its own utility. The rows are written in the admin's transaction: a change that
fails leaves no row. Secrets (passwords, client secrets, tokens, keys) are never written.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest

from portal.audit import build
from portal.models import Utility

ADDED = "admin.added"
CHANGED = "admin.changed"
DELETED = "admin.deleted"
# Every admin action's name starts with this, so the audit list can pick them out.
ADMIN_ACTION_PREFIX = "admin."

_SECRET_FIELD_MARKERS = ("password", "secret", "token", "key")
_REDACTED = "[redacted]"
_VALUE_MAX = 200
# Fields whose change is also shown as the row's from → to state.
_STATE_FIELDS = ("status", "role")
_STASH = "_portal_admin_audit_changes"


class AuditedAdmin:
    """Mixin for ``ModelAdmin``: audit rows beside Django's own admin log entries."""

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        # The admin calls this just before log_addition / log_change, with the forms that
        # those methods no longer see.
        setattr(request, _STASH, (form_changes(form), inline_changes(formsets)))
        return message

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        _record_with_inlines(request, ADDED, obj, entry.get_change_message())
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        _record_with_inlines(request, CHANGED, obj, entry.get_change_message())
        return entry

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        for obj in queryset:  # still there: the admin logs before it deletes
            _record(request, DELETED, obj, fields={}, comment="Deleted in the admin site.")
        return entries


def _record_with_inlines(request: HttpRequest, action: str, obj, comment: str) -> None:
    fields, inlines = getattr(request, _STASH, ({}, []))
    if hasattr(request, _STASH):
        delattr(request, _STASH)
    _record(request, action, obj, fields=fields, comment=comment, inlines=inlines)
    for inline_action, inline_obj, inline_fields in inlines:
        _record(
            request,
            inline_action,
            inline_obj,
            fields=inline_fields,
            comment=f"Through {obj._meta.verbose_name} {obj} in the admin site.",
        )


def _record(
    request: HttpRequest,
    action: str,
    obj: models.Model,
    *,
    fields: dict[str, Any],
    comment: str,
    inlines: list | None = None,
) -> None:
    state_field = next((name for name in _STATE_FIELDS if name in fields), None)
    changes: dict[str, Any] = {"fields": fields} if fields else {}
    if inlines:
        changes["inlines"] = [
            {"action": a, "object_type": o._meta.label_lower, "object": str(o)[:_VALUE_MAX]}
            for a, o, _ in inlines
        ]
    build(
        action=action,
        utility_id=_utility_id(obj, deleting=action == DELETED),
        obj=obj,
        actor=request.user,
        from_state=_state(fields, state_field, "from"),
        to_state=_state(fields, state_field, "to"),
        comment=comment,
        changes=changes,
    ).save(force_insert=True)


def _utility_id(obj: models.Model, *, deleting: bool) -> int | None:
    if isinstance(obj, Utility):
        # A row cannot point at a utility being deleted (the trail protects its utilities).
        return None if deleting else obj.pk
    try:
        obj._meta.get_field("utility")
    except FieldDoesNotExist:  # a model outside any utility
        return None
    return getattr(obj, "utility_id", None)


def _state(fields: dict[str, Any], name: str | None, side: str) -> str:
    if name is None or not isinstance(fields[name], dict):
        return ""
    return str(fields[name][side] or "")[:64]


def form_changes(form: forms.BaseForm | None) -> dict[str, Any]:
    """``{field: {"from": …, "to": …}}`` for each field the form changed; secrets redacted."""
    if form is None:
        return {}
    changes: dict[str, Any] = {}
    for name in form.changed_data:
        if any(marker in name.lower() for marker in _SECRET_FIELD_MARKERS):
            changes[name] = _REDACTED
            continue
        field = form.fields.get(name)
        changes[name] = {
            "from": _shown(_initial_value(field, form.initial.get(name))),
            "to": _shown(form.cleaned_data.get(name)),
        }
    return changes


def inline_changes(formsets) -> list[tuple[str, models.Model, dict[str, Any]]]:
    """(action, object, field changes) for each row added, changed or deleted inline."""
    rows: list[tuple[str, models.Model, dict[str, Any]]] = []
    for formset in formsets or []:
        form_of = {id(form.instance): form for form in formset.forms}
        for obj in formset.new_objects:
            rows.append((ADDED, obj, form_changes(form_of.get(id(obj)))))
        for obj, _names in formset.changed_objects:
            rows.append((CHANGED, obj, form_changes(form_of.get(id(obj)))))
        for obj in formset.deleted_objects:
            rows.append((DELETED, obj, {}))
    return rows


def _initial_value(field: forms.Field | None, value: Any) -> Any:
    """A foreign key's initial value is its id; show the object, as the new value is."""
    if isinstance(field, forms.ModelChoiceField) and not isinstance(
        field, forms.ModelMultipleChoiceField
    ):
        if value not in (None, ""):
            return field.queryset.filter(pk=value).first() or value
    return value


def _shown(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set) or isinstance(value, models.QuerySet):
        return [_shown(item) for item in value]
    return str(value)[:_VALUE_MAX]
