"""Filters of the enrollment queue page and of the partner API's enrollment list. Both share
the status and failed-rule filters; choices come from the current utility's scope."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q

from devices.models import Vehicle
from devices.vin import InvalidVIN, normalize_vin
from enrollment import selectors
from enrollment.eligibility import (
    ACCOUNT_RULES,
    PARTNER_ACCOUNT_RULE,
    PARTNER_RULE_CHOICES,
    RULE_CHOICES,
)
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


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time with any offset, compared in UTC: PostgreSQL refuses offsets past
    ±15:59 that Python parses (``+17:24``), and an unrepresentable time is a 400."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise ValidationError(
                    {self.field_name: "The time is out of range."}, code="invalid"
                ) from None
        return super().filter(qs, value)


class EnrollmentAPIFilter(BaseEnrollmentFilter):
    """Query parameters of ``GET /api/v1/enrollments``."""

    utility = django_filters.CharFilter(field_name="utility__slug", help_text="Utility slug.")
    program = django_filters.CharFilter(field_name="program__slug", help_text="Program slug.")
    # A partner filters on the rules it may see (eligibility.results_for_partner): the account
    # rules only as one "account" rule, or the filter would reveal them one by one.
    failed_rule = django_filters.ChoiceFilter(
        choices=PARTNER_RULE_CHOICES, method="by_partner_failed_rule", empty_label="Any"
    )
    changed_since = UTCDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text=(
            "ISO 8601 time with an offset: only enrollments changed at or after it, oldest "
            "change first. Poll with the largest updated_at you have seen."
        ),
    )

    def by_partner_failed_rule(self, queryset, name, value):
        if value != PARTNER_ACCOUNT_RULE:
            return self.by_failed_rule(queryset, name, value)
        failed_account_rule = Q()
        for rule in ACCOUNT_RULES:
            failed_account_rule |= Q(failed_rules__contains=[rule])
        return queryset.filter(failed_account_rule)
