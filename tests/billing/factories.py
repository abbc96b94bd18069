"""Factories for billing rows, created with scopes disabled. Each billing area keeps its own
block below."""

from __future__ import annotations

# --- meter (premise interval data) -----------------------------------------------------------
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django_scopes import scope

from billing.models import MeterImport
from billing.services.meter import import_meter_file
from tests.customers.factories import ServiceAccountFactory


def csv_bytes(start: datetime, kwh: list[str | float], *, minutes: int = 60) -> bytes:
    """A ``start,kwh`` CSV of consecutive intervals from ``start``."""
    rows = [
        f"{(start + timedelta(minutes=minutes * n)).isoformat()},{value}"
        for n, value in enumerate(kwh)
    ]
    return ("start,kwh\n" + "\n".join(rows) + "\n").encode()


def meter_import(
    account=None, *, utility=None, data: bytes | None = None, filename: str = "meter.csv", **kw
) -> MeterImport:
    """A real import (through the service) of a small CSV into ``account``."""
    account = account or ServiceAccountFactory(utility=utility)
    data = data or csv_bytes(datetime(2026, 6, 1, 7, tzinfo=UTC), [Decimal("1.5")] * 24)
    with scope(utility=account.utility_id):
        return import_meter_file(
            utility=account.utility, account=account, data=data, filename=filename, **kw
        )


# --- rates (tariffs and their assignments) ---------------------------------------------------
from datetime import date  # noqa: E402
from itertools import count  # noqa: E402

from billing.models import Tariff, TariffAssignment  # noqa: E402
from billing.services.tariffs import import_tariff  # noqa: E402

_tariff_serial = count(1)


def tariff_document(name: str | None = None, **fields) -> dict:
    """A small valid URDB tariff: off-peak $0.10, on-peak (weekdays 16-20) $0.30, $/month fixed."""
    weekday = [[1 if 16 <= hour <= 20 else 0 for hour in range(24)] for _ in range(12)]
    doc = {
        "name": name or f"Test Tariff {next(_tariff_serial)}",
        "utility": "Test Utility Co",
        "label": f"label{next(_tariff_serial)}",
        "energyratestructure": [[{"rate": 0.10, "unit": "kWh"}], [{"rate": 0.30, "unit": "kWh"}]],
        "energytoulabels": ["Off-Peak", "On-Peak"],
        "energyweekdayschedule": weekday,
        "energyweekendschedule": [[0] * 24 for _ in range(12)],
        "fixedchargefirstmeter": 12.5,
        "fixedchargeunits": "$/month",
    }
    doc.update(fields)
    return doc


def make_tariff(utility, *, name: str | None = None, start=date(2024, 1, 1), **fields) -> Tariff:
    """A tariff imported through the service, inside the utility's scope."""
    with scope(utility=utility.pk):
        return import_tariff(
            utility=utility, document=tariff_document(name, **fields), effective_from=start
        ).tariff


def make_assignment(
    utility, *, tariff=None, rate_class="residential", **fields
) -> TariffAssignment:
    tariff = tariff or make_tariff(utility)
    with scope(utility=utility.pk):
        return TariffAssignment.objects.create(
            utility=utility,
            tariff=tariff,
            rate_class=rate_class,
            effective_from=fields.pop("effective_from", date(2024, 1, 1)),
            **fields,
        )
