"""Helpers the rates and engine tests share: real URDB files, small synthetic tariffs, intervals."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.intervals import Interval
from billing.rates.urdb import parse_urdb
from tests.shared_data import shared_data

URDB_FILES = {
    "fpl": "FPL_RS-1_5550d6fd5457a3187e8b4567.json",
    "pge": "PGE_BEV-2-S_6757525f259975f54b0eccbf.json",
    "psco": "PSCo_Residential_Demand_RD_5a679442682bea21e990a0d4.json",
    "sce": "SCE_GS-2-TOU-B_55fc81d7682bea28da64f9ae.json",
}

LA = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")
DENVER = ZoneInfo("America/Denver")
UTC_ZONE = ZoneInfo("UTC")


def urdb_document(key: str) -> dict:
    return json.loads(shared_data("urdb", URDB_FILES[key]).read_text())


def real_schedule(key: str):
    return parse_urdb(urdb_document(key))


def flat_grid(period: int = 0) -> list[list[int]]:
    return [[period] * 24 for _ in range(12)]


def synthetic(**fields) -> dict:
    """A bare URDB tariff: one flat $0.10/kWh period unless ``fields`` say otherwise."""
    tariff = {
        "name": "Synthetic test tariff",
        "label": "synthetic",
        "energyratestructure": [[{"rate": 0.10, "unit": "kWh"}]],
        "energyweekdayschedule": flat_grid(),
        "energyweekendschedule": flat_grid(),
    }
    tariff.update(fields)
    return tariff


def at(tz: ZoneInfo, year, month, day, hour=0, minute=0, *, kwh, seconds=3600, fold=0) -> Interval:
    """An interval starting at a local wall-clock time, stored in UTC as the readers give it."""
    local = datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold)
    return Interval(start=local.astimezone(ZoneInfo("UTC")), seconds=seconds, kwh=Decimal(str(kwh)))


def lines_by_label(bill) -> dict[str, Decimal]:
    return {line.label: line.amount for line in bill.lines}
