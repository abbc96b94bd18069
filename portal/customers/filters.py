"""Filters of the customer list."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from portal.customers.models import ServiceAccount


class ServiceAccountFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search (account, name, address, meter)")
    rate_class = django_filters.ChoiceFilter(choices=ServiceAccount.RateClass.choices)
    zip_code = django_filters.CharFilter(label="ZIP code")

    class Meta:
        model = ServiceAccount
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(account_number__iexact=value)
            | Q(meter_id__iexact=value)
            | Q(customer_name__icontains=value)
            | Q(premise_address__icontains=value)
        )
