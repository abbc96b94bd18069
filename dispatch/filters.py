"""Filters for the event list and the grid protocol message log."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils import timezone

from dispatch.models import Event, GridMessage
from enrollment.models import Program


def _programs(request):
    return Program.objects.all()


class EventFilter(django_filters.FilterSet):
    program = django_filters.ModelChoiceFilter(queryset=_programs, label="Program")
    status = django_filters.ChoiceFilter(
        choices=Event.Status.choices, method="by_status", label="Status"
    )

    class Meta:
        model = Event
        fields: list[str] = []

    def by_status(self, queryset, name, value):
        return queryset.filter(Event.status_q(value, timezone.now()))


class GridMessageFilter(django_filters.FilterSet):
    """The protocol message log of one source: one filter for the page and its CSV."""

    q = django_filters.CharFilter(method="search", label="Search")
    direction = django_filters.ChoiceFilter(choices=GridMessage.Direction.choices)
    message_type = django_filters.CharFilter(label="Message type")
    vtn_event_id = django_filters.CharFilter(label="VTN event id")
    validation = django_filters.ChoiceFilter(choices=GridMessage.Validation.choices)
    since = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = GridMessage
        fields: list[str] = []

    def search(self, queryset, name, value):
        """Text anywhere in the message, its summary or its event id (the bodies are bounded)."""
        value = value.strip()[:200]
        if not value:
            return queryset
        return queryset.filter(
            Q(body__icontains=value) | Q(summary__icontains=value) | Q(vtn_event_id=value)
        )
