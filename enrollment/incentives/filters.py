"""List filters of the incentive pages. Program choices come from the current utility's
scoped managers, so another utility's program is a filter error, never a lookup elsewhere."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q

from enrollment.incentives import selectors
from enrollment.incentives.models import Dispute, Incentive, IncentiveOffer, LedgerEntry


def _programs(request):
    return selectors.programs()


class IncentiveFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search (account, customer, #)")
    status = django_filters.ChoiceFilter(choices=Incentive.Status.choices)
    program = django_filters.ModelChoiceFilter(queryset=_programs)
    kind = django_filters.ChoiceFilter(
        field_name="offer__kind", choices=IncentiveOffer.Kind.choices, label="Type"
    )

    class Meta:
        model = Incentive
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip().lstrip("#")
        if not value:
            return queryset
        match = Q(service_account__account_number__iexact=value) | Q(
            service_account__customer_name__icontains=value
        )
        if value.isdigit():
            match |= Q(pk=int(value))
        return queryset.filter(match)


class LedgerFilter(django_filters.FilterSet):
    program = django_filters.ModelChoiceFilter(queryset=_programs)
    kind = django_filters.ChoiceFilter(choices=LedgerEntry.Kind.choices)
    account = django_filters.CharFilter(
        field_name="incentive__service_account__account_number",
        lookup_expr="iexact",
        label="Account number",
    )
    incentive = django_filters.NumberFilter(field_name="incentive_id", label="Incentive #")
    batch = django_filters.NumberFilter(field_name="payout_batch_id", label="Payout batch #")
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
        model = LedgerEntry
        fields: list[str] = []


class DisputeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Dispute.Status.choices)
    program = django_filters.ModelChoiceFilter(field_name="incentive__program", queryset=_programs)

    class Meta:
        model = Dispute
        fields: list[str] = []
