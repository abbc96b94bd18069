"""Filters of the device API lists (query parameters of ``GET /api/v1/vehicles``)."""

from __future__ import annotations

import django_filters

from devices.models import Vehicle


class VehicleAPIFilter(django_filters.FilterSet):
    utility = django_filters.CharFilter(field_name="utility__slug", help_text="Utility slug.")
    vin = django_filters.CharFilter(method="by_vin", help_text="Exact VIN (any case).")
    vehicle_id = django_filters.CharFilter(
        field_name="partner_vehicle_id", help_text="Your own id for the vehicle."
    )
    status = django_filters.ChoiceFilter(choices=Vehicle.Status.choices)

    class Meta:
        model = Vehicle
        fields: list[str] = []

    def by_vin(self, queryset, name, value):
        return queryset.filter(vin=value.strip().upper())
