"""Demo billing for a demo utility (see ``demo.seed``): one TOU tariff, imported through the
rates import service from the URDB-shaped document below and assigned to every rate class,
and one settlement run of last month for the program with the most enrollments — computed
here, chunk by chunk, as the workers would — so the billing pages are populated.

Safe to run again: the tariff is imported only when the utility has none of that name,
assignments only for rate classes without one, and the run only when the program's month
has none.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Count
from django.utils import timezone
from django_scopes import scope

from billing.models import SettlementChunk, SettlementRun, Tariff, TariffAssignment
from billing.services import settlement
from billing.services.tariffs import assign_tariff, import_tariff
from enrollment.models import Program
from portal.customers.models import ServiceAccount
from portal.models import User, Utility

TARIFF_START = date(2025, 1, 1)
PEAK_HOURS = range(16, 21)  # 4–9 pm, every day


def _grid() -> list[list[int]]:
    return [[1 if hour in PEAK_HOURS else 0 for hour in range(24)] for _ in range(12)]


def tariff_document(utility: Utility) -> dict:
    """A residential TOU tariff in the URDB shape: off-peak and a 4–9 pm peak, an export
    credit, a monthly customer charge. Fictional rates of the size California and Colorado
    TOU rates have."""
    return {
        "name": "Demo TOU-EV 4-9 pm",
        "label": f"demo-{utility.slug}-tou-ev",
        "utility": utility.name,
        "sector": "Residential",
        "energyratestructure": [
            [{"rate": 0.28, "unit": "kWh", "sell": 0.05}],
            [{"rate": 0.52, "unit": "kWh", "sell": 0.05}],
        ],
        "energyweekdayschedule": _grid(),
        "energyweekendschedule": _grid(),
        "fixedchargefirstmeter": 12.0,
        "fixedchargeunits": "$/month",
    }


def ensure_demo_billing(*, utility: Utility) -> SettlementRun | None:
    with scope(utility=utility.pk):
        admin = User.objects.filter(email=f"admin@{utility.slug}.demo.test").first()
        tariff = _ensure_tariff(utility, actor=admin)
        for rate_class in ServiceAccount.RateClass.values:
            if not TariffAssignment.objects.filter(rate_class=rate_class).exists():
                assign_tariff(
                    utility=utility, tariff=tariff, effective_from=TARIFF_START,
                    rate_class=rate_class, actor=admin,
                )  # fmt: skip
        return _ensure_run(utility)


def _ensure_tariff(utility: Utility, *, actor) -> Tariff:
    document = tariff_document(utility)
    existing = Tariff.objects.filter(name=document["name"]).order_by("-effective_from").first()
    if existing is not None:
        return existing
    return import_tariff(
        utility=utility, document=document, actor=actor, effective_from=TARIFF_START
    ).tariff


def _ensure_run(utility: Utility) -> SettlementRun | None:
    today = timezone.localdate(timezone=utility.tzinfo)
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    program = (
        Program.objects.annotate(n=Count("enrollments"))
        .filter(n__gt=0)
        .order_by("-n", "pk")
        .first()
    )
    if program is None:
        return None
    existing = SettlementRun.objects.filter(program=program, period_start=last_month).first()
    if existing is not None:
        return existing
    analyst = User.objects.filter(email=f"settlement@{utility.slug}.demo.test").first()
    with timezone.override(utility.tzinfo):
        run = settlement.start_run(
            program=program, period_start=last_month, actor=analyst, send_to_workers=False
        )
        for chunk_id in SettlementChunk.objects.filter(run=run).values_list("pk", flat=True):
            settlement.compute_chunk(chunk_id=chunk_id)
    run.refresh_from_db()
    return run
