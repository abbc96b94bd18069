"""Filters shared by list pages (and, where they exist, the API lists of the same objects)."""

from __future__ import annotations

import django_filters
from django import forms

from portal.audit import object_type_matches
from portal.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", label="Actor (email or client)"
    )
    action = django_filters.CharFilter(lookup_expr="icontains", label="Action")
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

    def filter_object_type(self, queryset, name, value):
        return queryset.filter(object_type_matches(value)) if value.strip() else queryset
