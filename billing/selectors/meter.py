"""Reads of interval data: the premise meter's (imported Green Button / CSV) and each
vehicle's (device telemetry rollups), both as ``billing.intervals.Interval`` (kWh > 0 import,
< 0 export), plus the meter imports for the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, TruncDate

from billing.intervals import Interval
from billing.intervals.series import quantize_kwh
from billing.models import MeterImport, MeterInterval
from devices.models import TelemetryRollup, Vehicle
from devices.telemetry.rollups import ROLLUP_INTERVAL
from enrollment.models import Enrollment
from portal.customers.models import ServiceAccount

ROLLUP_SECONDS = int(ROLLUP_INTERVAL.total_seconds())


# --- Premise meter data ----------------------------------------------------------------------


def premise_intervals(account: ServiceAccount, start: datetime, end: datetime) -> list[Interval]:
    """The account's metered intervals starting in [start, end), in time order."""
    rows = MeterInterval.objects.filter(
        service_account=account, start__gte=start, start__lt=end
    ).order_by("start")
    return [
        Interval(start=s, seconds=seconds, kwh=kwh)
        for s, seconds, kwh in rows.values_list("start", "seconds", "kwh")
    ]


@dataclass(frozen=True)
class DailyEnergy:
    day: date  # in the utility's zone
    import_kwh: Decimal
    export_kwh: Decimal  # a positive number

    @property
    def net_kwh(self) -> Decimal:
        return self.import_kwh - self.export_kwh


def daily_energy(
    account: ServiceAccount, *, start: datetime, end: datetime, tz
) -> list[DailyEnergy]:
    """kWh imported and exported per local day of the intervals starting in [start, end), in
    one aggregate query."""
    rows = (
        MeterInterval.objects.filter(service_account=account, start__gte=start, start__lt=end)
        .annotate(day=TruncDate("start", tzinfo=tz))
        .values("day")
        .annotate(
            imported=Sum("kwh", filter=Q(kwh__gt=0), default=Decimal(0)),
            exported=Sum("kwh", filter=Q(kwh__lt=0), default=Decimal(0)),
        )
        .order_by("day")
    )
    return [DailyEnergy(r["day"], r["imported"], -r["exported"]) for r in rows]


def data_span(account: ServiceAccount) -> tuple[datetime | None, datetime | None]:
    """The first and last interval start stored for the account."""
    first = MeterInterval.objects.filter(service_account=account).order_by("start").first()
    last = MeterInterval.objects.filter(service_account=account).order_by("-start").first()
    return (first.start if first else None, last.start if last else None)


def imports() -> QuerySet[MeterImport]:
    """Meter imports, newest first, with what the list pages show."""
    return MeterImport.objects.select_related("service_account", "created_by", "previous")


# --- EV interval data from device telemetry --------------------------------------------------


def _vehicle_of(enrollment_or_vehicle: Enrollment | Vehicle) -> int:
    if isinstance(enrollment_or_vehicle, Enrollment):
        return enrollment_or_vehicle.vehicle_id
    return enrollment_or_vehicle.pk


def ev_intervals(
    enrollment_or_vehicle: Enrollment | Vehicle, start: datetime, end: datetime
) -> list[Interval]:
    """The vehicle's energy per 15-minute rollup interval starting in [start, end): charging
    (+, drawn from the premise) minus discharging (−, supplied to it), in time order.
    Intervals with no rollup (no telemetry) are absent, not zero."""
    rows = TelemetryRollup.objects.filter(
        vehicle_id=_vehicle_of(enrollment_or_vehicle),
        interval_start__gte=start,
        interval_start__lt=end,
    ).order_by("interval_start")
    return [
        # The rollups are floats; through repr they become the shortest exact decimal.
        Interval(start=s, seconds=ROLLUP_SECONDS, kwh=quantize_kwh(Decimal(repr(c - d))))
        for s, c, d in rows.values_list(
            "interval_start", "energy_charged_kwh", "energy_discharged_kwh"
        )
    ]


def ev_interval_rows(
    *, vehicles: QuerySet, start: datetime, end: datetime
) -> QuerySet[TelemetryRollup]:
    """The set-based form of ``ev_intervals`` for many vehicles at once (settling 10,000
    enrollments): one SQL query, never a row per vehicle in Python.

    ``vehicles``: a queryset of vehicle ids, kept as a subquery, e.g.
    ``enrollments.values("vehicle_id")``. Returns a values queryset of rows
    ``{"vehicle_id", "account_id", "start", "kwh"}``: one per vehicle and 15-minute rollup
    interval starting in [start, end) (``seconds`` is always ``ROLLUP_SECONDS``), ``kwh`` =
    charged − discharged as numeric(14, 6) (PostgreSQL rounds the float half away from zero
    at 1 mWh), ``account_id`` the vehicle's service account. Aggregate it further in
    PostgreSQL, e.g. per account and local month::

        ev_interval_rows(vehicles=qs.values("vehicle_id"), start=a, end=b)
            .annotate(month=TruncMonth("start", tzinfo=tz))
            .values("account_id", "month").annotate(kwh_total=Sum("kwh"))

    or use ``str(rows.query)`` / ``rows.query.sql_with_params()`` inside hand-written SQL (a
    join with a tariff's period table). The rollups' unique (vehicle, interval_start) index
    serves the range scan.
    """
    kwh = ExpressionWrapper(
        Cast(
            F("energy_charged_kwh") - F("energy_discharged_kwh"),
            DecimalField(max_digits=14, decimal_places=6),
        ),
        output_field=DecimalField(max_digits=14, decimal_places=6),
    )
    return (
        TelemetryRollup.objects.filter(
            vehicle_id__in=vehicles, interval_start__gte=start, interval_start__lt=end
        )
        .annotate(account_id=F("vehicle__service_account_id"), start=F("interval_start"), kwh=kwh)
        .values("vehicle_id", "account_id", "start", "kwh")
        .order_by()
    )
