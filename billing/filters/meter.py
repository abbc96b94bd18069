"""Filters of the meter import list."""

from __future__ import annotations

import django_filters

from billing.models import MeterImport


class MeterImportFilter(django_filters.FilterSet):
    account = django_filters.CharFilter(
        field_name="service_account__account_number", label="Account number"
    )
    kind = django_filters.ChoiceFilter(choices=MeterImport.Kind.choices)

    class Meta:
        model = MeterImport
        fields: list[str] = []
