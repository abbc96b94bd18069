"""What the settlement and impact tests share: a two-period TOU tariff, a program with
enrolled vehicles whose telemetry shows managed charging, premise meter data, incentives in
the ledger — all in July 2026 in the utility's zone (America/Los_Angeles for utility_a).

The managed session (``managed_session``): plugged in at 18:00 local, charging deferred to
22:00 and run at 7 kW for 4 hours (28 kWh), unplugged at 07:00. Unmanaged, the same 28 kWh
would have been drawn at full power (the charger's 11.5 kW) from 18:00 — inside the 16:00–21:00
peak. On the test tariff (peak $0.40, off-peak $0.10 per kWh) that is 28 × 0.30 = $8.40 saved
per session.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from billing.models import MeterImport, MeterInterval, Tariff, TariffAssignment
from billing.rates.urdb import parse_urdb
from devices.models import TelemetryReading, TelemetryRollup
from enrollment.incentives.models import Incentive, IncentiveOffer, LedgerEntry
from enrollment.models import Enrollment, Program
from tests.devices.factories import ChargerFactory
from tests.enrollment.factories import EnrollmentFactory, ProgramFactory
from tests.incentives.support import bonus_offer

JULY = date(2026, 7, 1)
LA = ZoneInfo("America/Los_Angeles")
PEAK_HOURS = range(16, 21)  # 16:00–20:59 local


def tou_document(name: str = "Test EV TOU") -> dict:
    """A URDB-shaped TOU tariff: off-peak $0.10, peak $0.40 (16:00–21:00 every day), $0.05
    export credit, $10/month fixed."""
    grid = [[1 if hour in PEAK_HOURS else 0 for hour in range(24)] for _ in range(12)]
    return {
        "name": name,
        "label": name.lower().replace(" ", "-"),
        "utility": "Test utility",
        "energyratestructure": [
            [{"rate": 0.10, "unit": "kWh", "sell": 0.05}],
            [{"rate": 0.40, "unit": "kWh", "sell": 0.05}],
        ],
        "energyweekdayschedule": grid,
        "energyweekendschedule": grid,
        "fixedchargefirstmeter": 10.0,
        "fixedchargeunits": "$/month",
    }


def tariff(utility, *, rate_class: str = "residential", name: str = "Test EV TOU") -> Tariff:
    """A tariff stored as the rates import would store it, assigned to a rate class."""
    document = tou_document(name)
    schedule = parse_urdb(document)
    with scopes_disabled():
        stored = Tariff.objects.create(
            utility=utility, name=name, utility_name="Test utility", urdb_label=document["label"],
            version=1, effective_from=date(2020, 1, 1), document=document,
            schedule=schedule.to_json(), supported=schedule.supported,
            unsupported=list(schedule.unsupported),
        )  # fmt: skip
        TariffAssignment.objects.create(
            utility=utility, tariff=stored, rate_class=rate_class, effective_from=date(2020, 1, 1)
        )
    return stored


def program(utility, *, kind: str = Program.Kind.V1G, **fields) -> Program:
    return ProgramFactory(utility=utility, kind=kind, **fields)


def enrolled(program: Program, *, customer_name: str = "", **fields) -> Enrollment:
    """An active enrollment since 2026 began, its vehicle on an 11.5 kW charger."""
    account_fields = {"service_account__rate_class": "residential"}
    if customer_name:
        account_fields["service_account__customer_name"] = customer_name
    enrollment = EnrollmentFactory(
        program=program,
        activated_at=datetime(2026, 1, 1, tzinfo=LA),
        **account_fields,
        **fields,
    )
    charger = ChargerFactory(utility=program.utility, service_account=enrollment.service_account)
    with scopes_disabled():
        enrollment.vehicle.charger = charger
        enrollment.vehicle.save(update_fields=["charger"])
    return enrollment


def local(day: int, hour: int, minute: int = 0, *, month: int = 7) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LA)


def _reading(vehicle, ts: datetime, *, plugged_in: bool, soc: float = 50.0):
    return TelemetryReading(
        utility_id=vehicle.utility_id, vehicle=vehicle, ts=ts, soc_pct=soc, power_kw=0.0,
        plugged_in=plugged_in, charging_state="idle", received_at=ts,
    )  # fmt: skip


def _rollups(vehicle, start: datetime, quarters: int, *, charged=0.0, discharged=0.0):
    return [
        TelemetryRollup(
            utility_id=vehicle.utility_id, vehicle=vehicle,
            interval_start=start + timedelta(minutes=15 * q),
            energy_charged_kwh=charged, energy_discharged_kwh=discharged,
            mean_power_kw=(charged - discharged) * 4, readings=3,
        )
        for q in range(quarters)
    ]  # fmt: skip


def managed_session(vehicle, day: int, *, discharge_kwh_per_quarter: float = 0.0):
    """Plug-in 18:00, (optionally V2H/V2G discharge 18:00–19:00), charging 22:00–02:00 at 7 kW,
    plug-out 07:00 next day. Net energy taken: 28 kWh − the discharge."""
    readings = [
        _reading(vehicle, local(day, 18), plugged_in=True),
        _reading(vehicle, local(day, 22), plugged_in=True),
        _reading(vehicle, local(day, 7) + timedelta(days=1), plugged_in=False, soc=80.0),
    ]
    rollups = _rollups(vehicle, local(day, 22), 16, charged=1.75)
    if discharge_kwh_per_quarter:
        rollups += _rollups(vehicle, local(day, 18), 4, discharged=discharge_kwh_per_quarter)
    with scopes_disabled():
        TelemetryReading.objects.bulk_create(readings)
        TelemetryRollup.objects.bulk_create(rollups)


def house_load(account, *, kwh: Decimal = Decimal("1.000"), ev=None):
    """Hourly premise meter data for all of July: ``kwh`` an hour for the house, plus what the
    vehicle drew or fed in (its rollups) — the meter sees both."""
    with scopes_disabled():
        ev_by_hour: dict[datetime, float] = {}
        if ev is not None:
            for r in TelemetryRollup.objects.filter(vehicle=ev):
                hour = r.interval_start.replace(minute=0)
                net = r.energy_charged_kwh - r.energy_discharged_kwh
                ev_by_hour[hour] = ev_by_hour.get(hour, 0.0) + net
        meter_import = MeterImport.objects.create(
            utility_id=account.utility_id, service_account=account, filename="july.csv",
            sha256="0" * 64, kind=MeterImport.Kind.CSV,
        )  # fmt: skip
        start = local(1, 0)
        rows = []
        for h in range(31 * 24):
            moment = (start + timedelta(hours=h)).astimezone(ZoneInfo("UTC"))
            value = kwh + Decimal(str(round(ev_by_hour.get(moment, 0.0), 6)))
            rows.append(
                MeterInterval(
                    utility_id=account.utility_id, service_account=account, start=moment,
                    seconds=3600, kwh=value, meter_import=meter_import,
                )
            )  # fmt: skip
        MeterInterval.objects.bulk_create(rows)


def earned(enrollment: Enrollment, amount: str, *, on: datetime) -> Incentive:
    """An approved enrollment bonus (bill credit) reserved in the ledger at ``on``."""
    with scopes_disabled():
        offer = IncentiveOffer.objects.filter(
            program=enrollment.program, kind=IncentiveOffer.Kind.ENROLLMENT_BONUS
        ).first() or bonus_offer(enrollment.program)
    with scope(utility=enrollment.utility_id):
        incentive = Incentive.objects.create(
            utility_id=enrollment.utility_id, program=enrollment.program, offer=offer,
            enrollment=enrollment, service_account=enrollment.service_account,
            period_key=f"test:{on.isoformat()}", status=Incentive.Status.APPROVED, amount=Decimal(amount),
            decided_at=on,
        )  # fmt: skip
        LedgerEntry.objects.create(
            utility_id=enrollment.utility_id, program=enrollment.program, incentive=incentive,
            kind=LedgerEntry.Kind.RESERVE, amount=Decimal(amount), created_at=on,
            actor_label="test",
        )  # fmt: skip
    return incentive


def settle(program: Program, *, actor=None, period=JULY):
    """Start a run and compute its chunks here (what the workers do)."""
    from billing.models import SettlementChunk
    from billing.services import settlement

    with scope(utility=program.utility_id), timezone.override(program.utility.tzinfo):
        run = settlement.start_run(program=program, period_start=period, actor=actor, chunk_size=2)
        for chunk_id in SettlementChunk.objects.filter(run=run).values_list("pk", flat=True):
            settlement.compute_chunk(chunk_id=chunk_id)
        run.refresh_from_db()
    return run
