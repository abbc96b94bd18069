"""Demo incentives for a demo utility (see ``demo.seed``): the programs' offers, enrollment
bonuses, charger rebates (two approved), performance payments for last summer's peak event,
one exported bill-credit payout batch and one open dispute, all made through the services,
so ledger entries and audit rows are what the pages would have produced.

Safe to run again: offers are keyed on their names; awards return the incentive already
there; the payout batch and the dispute are made only when there is none yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone
from django_scopes import scope

from demo.programs import DEMO_DOMAIN, pdf_upload, user_by_email
from enrollment.incentives import services
from enrollment.incentives.choices import PayoutMethod
from enrollment.incentives.models import Dispute, Incentive, IncentiveOffer, PayoutBatch
from enrollment.models import Enrollment, Program
from portal.models import User, Utility

Offer = IncentiveOffer.Kind


@dataclass(frozen=True)
class OfferSpec:
    program: str
    kind: str
    name: str
    reason_code: str
    values: dict
    requires_review: bool


OFFERS = (
    OfferSpec(
        "smart-charge", Offer.CHARGER_REBATE, "Smart charger rebate", "EVREB",
        {"amount": Decimal("300.00"), "income_qualified_amount": Decimal("600.00")}, True,
    ),
    OfferSpec(
        "smart-charge", Offer.ENROLLMENT_BONUS, "Enrollment bonus", "EVBON",
        {"amount": Decimal("100.00")}, False,
    ),
    OfferSpec(
        "smart-charge", Offer.EVENT_PERFORMANCE, "Peak shift performance", "EVPRF",
        {"rate_per_kwh": Decimal("2.0000"), "season_cap": Decimal("200.00")}, False,
    ),
    OfferSpec(
        "home-backup-v2h", Offer.CHARGER_REBATE, "Bidirectional charger rebate", "V2HREB",
        {"amount": Decimal("300.00"), "income_qualified_amount": Decimal("600.00")}, True,
    ),
    OfferSpec(
        "home-backup-v2h", Offer.EVENT_PERFORMANCE, "V2H event performance", "V2HPRF",
        {"rate_per_kwh": Decimal("2.0000"), "season_cap": Decimal("400.00")}, False,
    ),
    OfferSpec(
        "home-backup-v2h", Offer.CAPACITY_PAYMENT, "V2H seasonal capacity", "V2HCAP",
        {"rate_per_kw": Decimal("40.00"), "season_cap": Decimal("500.00")}, False,
    ),
    OfferSpec(
        "peak-relief-v2h", Offer.EVENT_PERFORMANCE, "Peak relief performance", "PRPRF",
        {"rate_per_kwh": Decimal("1.0000"), "season_cap": Decimal("300.00")}, False,
    ),
    OfferSpec(
        "peak-relief-v2h", Offer.CAPACITY_PAYMENT, "Peak relief seasonal capacity", "PRCAP",
        {"rate_per_kw": Decimal("25.00"), "season_cap": Decimal("300.00")}, False,
    ),
    OfferSpec(
        "peak-relief-v2h", Offer.MONTHLY_CREDIT, "Peak relief monthly credit", "PRMON",
        {"amount": Decimal("5.00"), "forfeit_after_opt_outs": 2}, False,
    ),
    OfferSpec(
        "v2g-pilot", Offer.CAPACITY_PAYMENT, "V2G seasonal capacity", "V2GCAP",
        {"rate_per_kw": Decimal("75.00"), "season_cap": Decimal("1000.00")}, False,
    ),
)  # fmt: skip


def ensure_demo_incentives(*, utility: Utility) -> None:
    """The offers of the demo utility's programs, and incentives in every state the pages
    show; run after ``demo.programs.ensure_demo_programs``."""
    with scope(utility=utility.pk), timezone.override(utility.tzinfo):
        admin = user_by_email(f"admin@{utility.slug}.{DEMO_DOMAIN}")
        programs = {p.slug: p for p in Program.objects.all()}
        _ensure_incentives(utility=utility, programs=programs, admin=admin)


def _ensure_incentives(*, utility: Utility, programs: dict[str, Program], admin: User) -> None:
    offers: dict[tuple[str, str], IncentiveOffer] = {}
    for spec in OFFERS:
        program = programs.get(spec.program)
        if program is None:
            continue
        offer = IncentiveOffer.objects.filter(program=program, name=spec.name).first()
        if offer is None:
            offer = services.save_offer(
                offer=IncentiveOffer(
                    utility=utility,
                    program=program,
                    kind=spec.kind,
                    name=spec.name,
                    reason_code=spec.reason_code,
                    payout_channel=IncentiveOffer.Channel.BILL_CREDIT,
                    requires_review=spec.requires_review,
                    **spec.values,
                ),
                before=None,
                actor=admin,
            )
        offers[(spec.program, spec.kind)] = offer

    smart = programs["smart-charge"]
    settlement = user_by_email(f"settlement@{utility.slug}.{DEMO_DOMAIN}")
    participants = list(
        Enrollment.objects.filter(program=smart, activated_at__isnull=False)
        .select_related("service_account")
        .order_by("id")
    )
    # Enrollment bonus for every participant (approved automatically within the budget).
    for enrollment in participants:
        services.award_enrollment_bonus(program=smart, enrollment=enrollment)
    # Charger rebates: four applications with invoices; the first two approved.
    rebate = offers[("smart-charge", Offer.CHARGER_REBATE)]
    for number, enrollment in enumerate(participants[:4]):
        incentive = services.submit_charger_rebate(
            offer=rebate,
            enrollment=enrollment,
            invoice_total=Decimal("849.00") + 50 * number,
            invoice=pdf_upload(f"invoice-{enrollment.service_account.account_number}.pdf"),
            actor=None,
        )
        if number < 2 and incentive.status == Incentive.Status.SUBMITTED:
            services.approve_incentive(incentive_id=incentive.pk, actor=admin)
    # Performance payments for last summer's peak event.
    today = timezone.localdate()
    event_date = date(today.year if today.month > 9 else today.year - 1, 8, 14)
    performance = []
    for number, enrollment in enumerate(participants[:5]):
        awarded = services.award_event_performance(
            program=smart,
            enrollment=enrollment,
            event_ref=f"{utility.slug}-peak-{event_date:%Y%m%d}",
            measured_kwh=Decimal("6.5") + Decimal("2.25") * number,
            event_date=event_date,
        )
        performance.append(awarded)
    # One bill-credit payout batch, exported once.
    if not PayoutBatch.objects.filter(program=smart).exists():
        batch = services.create_payout_batch(
            program_id=smart.pk, channel=IncentiveOffer.Channel.BILL_CREDIT, actor=settlement
        )
        services.export_payout_file(
            batch_id=batch.pk, method=PayoutMethod.BILL_CREDIT, actor=settlement
        )
    # One open dispute: the customer says the car shifted more than was measured.
    if performance and not Dispute.objects.filter(incentive__program=smart).exists():
        disputed = performance[0]
        services.open_dispute(
            incentive_id=disputed.pk,
            description=(
                "Customer says the app showed 11 kWh shifted during the event, not "
                f"{disputed.measured_kwh} kWh."
            ),
            claimed_amount=Decimal("22.00"),
            evidence=pdf_upload("app-screenshot.pdf"),
            actor=user_by_email(f"service@{utility.slug}.{DEMO_DOMAIN}"),
        )
