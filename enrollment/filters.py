"""Filters of the enrollment queue page and of the partner API's enrollment list. Both share
the status and failed-rule filters; choices come from the current utility's scope."""

from __future__ import annotations

import django_filters

from devices.models import Vehicle
from devices.vin import InvalidVIN, normalize_vin
from enrollment import selectors
from enrollment.eligibility import RULE_CHOICES
from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount


class BaseEnrollmentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Enrollment.Status.choices, empty_label="Any")
    failed_rule = django_filters.ChoiceFilter(
        choices=RULE_CHOICES, method="by_failed_rule", label="Failed rule", empty_label="Any"
    )

    class Meta:
        model = Enrollment
        fields: list[str] = []

    def by_failed_rule(self, queryset, name, value):
        return queryset.filter(failed_rules__contains=[value])  # jsonb @>


def _programs(request):
    return Program.objects.order_by("name")


def _partners(request):
    return selectors.partners_with_agreement()


class EnrollmentFilter(BaseEnrollmentFilter):
    """The staff queue: by status, program, partner, failed rule, or an account number or
    VIN."""

    q = django_filters.CharFilter(method="search", label="Account number or VIN")
    program = django_filters.ModelChoiceFilter(queryset=_programs, empty_label="Any")
    partner = django_filters.ModelChoiceFilter(
        queryset=_partners, label="Automaker", empty_label="Any"
    )
    suspension_cause = django_filters.ChoiceFilter(
        choices=Enrollment.SuspensionCause.choices, label="Suspended because", empty_label="Any"
    )

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # Each search resolves to ids first, so the queue's own index does the rest.
        try:
            vin = normalize_vin(value)
        except InvalidVIN:
            accounts = ServiceAccount.objects.filter(account_number=value).values("pk")
            return queryset.filter(service_account_id__in=accounts)
        return queryset.filter(vehicle_id__in=Vehicle.objects.filter(vin=vin).values("pk"))


class EnrollmentAPIFilter(BaseEnrollmentFilter):
    """Query parameters of ``GET /api/v1/enrollments``."""

    utility = django_filters.CharFilter(field_name="utility__slug", help_text="Utility slug.")
    program = django_filters.CharFilter(field_name="program__slug", help_text="Program slug.")
    changed_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text=(
            "ISO 8601 time with an offset: only enrollments changed at or after it, oldest "
            "change first. Poll with the largest updated_at you have seen."
        ),
    )
