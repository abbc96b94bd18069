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
