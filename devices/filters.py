"""Filters for the device lists (one FilterSet per list, shared with the API lists of the
same objects when they want it). Choices come from the current utility's scope."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from devices import selectors
from devices.models import Charger, Mode, Vehicle

YES_NO = [("yes", "Yes"), ("no", "No")]


def _partners(request):
    return selectors.partners_with_agreement()


def yes_no(queryset, *, field_name: str, value: str):
    """Keep rows whose boolean is true ("yes"), or not true: false or no row ("no")."""
    if value == "yes":
        return queryset.filter(**{field_name: True})
    return queryset.exclude(**{field_name: True})


class VehicleFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search (VIN, partner id, model)")
    partner = django_filters.ModelChoiceFilter(
        queryset=_partners, label="Automaker", empty_label="Any"
    )
    mode = django_filters.ChoiceFilter(
        choices=Mode.choices, method="by_mode", label="Can run", empty_label="Any"
    )
    status = django_filters.ChoiceFilter(choices=Vehicle.Status.choices, empty_label="Any")
    plugged_in = django_filters.ChoiceFilter(
        choices=YES_NO, method="by_plugged_in", label="Plugged in (last report)", empty_label="Any"
    )

    class Meta:
        model = Vehicle
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(vin__icontains=value)
            | Q(partner_vehicle_id__iexact=value)
            | Q(model__icontains=value)
        )

    def by_mode(self, queryset, name, value):
        return queryset.filter(**{f"supports_{value}": True})

    def by_plugged_in(self, queryset, name, value):
        # Vehicles that never reported count as not plugged in.
        return yes_no(queryset, field_name="state__plugged_in", value=value)


CERTIFICATIONS = [
    ("cert_ul9741", "UL 9741"),
    ("cert_ul1741_sb", "UL 1741-SB"),
    ("cert_sae_j3072", "SAE J3072"),
]


def _makers():
    return [(maker, maker) for maker in selectors.charger_makers()]


class ChargerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search (serial, model, maker’s id)")
    maker = django_filters.ChoiceFilter(choices=_makers, empty_label="Any")
    current_type = django_filters.ChoiceFilter(
        choices=Charger.CurrentType.choices, label="AC/DC", empty_label="Any"
    )
    certification = django_filters.ChoiceFilter(
        choices=CERTIFICATIONS, method="by_certification", label="Certified", empty_label="Any"
    )
    backup_capable = django_filters.ChoiceFilter(
        choices=YES_NO, method="by_backup", label="Backup-capable", empty_label="Any"
    )

    class Meta:
        model = Charger
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(serial__iexact=value)
            | Q(model__icontains=value)
            | Q(partner_charger_id__iexact=value)
        )

    def by_certification(self, queryset, name, value):
        return queryset.filter(**{value: True})

    def by_backup(self, queryset, name, value):
        return yes_no(queryset, field_name="backup_capable", value=value)
