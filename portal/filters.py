"""Filters shared by list pages (and, where they exist, the API lists of the same objects)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q

from portal.admin_audit import ADMIN_ACTION_PREFIX
from portal.audit import object_type_matches
from portal.identity.services.security_events import SECURITY_ACTION_PREFIX
from portal.models import AuditEvent

# The audit list's categories: action-name prefixes.
AUDIT_CATEGORIES = {
    "security": (SECURITY_ACTION_PREFIX, "Security events (sign-in, MFA, passwords)"),
    "admin": (ADMIN_ACTION_PREFIX, "Changes made in the admin site"),
}


class IPAddressFilter(django_filters.CharFilter):
    field_class = forms.GenericIPAddressField


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", label="Actor (email or client)"
    )
    category = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (_prefix, label) in AUDIT_CATEGORIES.items()],
        method="filter_category",
        label="Category",
        empty_label="All",
    )
    action = django_filters.CharFilter(lookup_expr="icontains", label="Action")
    user = django_filters.CharFilter(
        method="filter_user",
        label="Account (email)",
        help_text="The person acting, or the account a security event is about.",
    )
    ip = IPAddressFilter(method="filter_ip", label="IP address")
    object_type = django_filters.CharFilter(method="filter_object_type", label="Object type")
    object_id = django_filters.CharFilter(label="Object id")
    request_id = django_filters.CharFilter(label="Request id")
    since = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="From date",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="To date",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_category(self, queryset, name, value):
        return queryset.filter(action__startswith=AUDIT_CATEGORIES[value][0])

    def filter_user(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # A failed sign-in has no actor: the account it named is its object (or, for an
        # unknown address, the "login" it recorded).
        return queryset.filter(
            Q(actor_label__icontains=value)
            | Q(object_type="portal.user", object_repr__icontains=value)
            | Q(changes__login__icontains=value)
        )

    def filter_ip(self, queryset, name, value):
        return queryset.filter(changes__ip=value)

    def filter_object_type(self, queryset, name, value):
        return queryset.filter(object_type_matches(value)) if value.strip() else queryset
