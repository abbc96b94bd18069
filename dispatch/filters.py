"""Filters for the event list."""

from __future__ import annotations

import django_filters
from django.utils import timezone

from dispatch.models import Event
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
