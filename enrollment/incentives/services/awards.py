"""Offers, and the incentives claimed under them: applications (charger rebates) and awards
(enrollment bonus, monthly credit, event performance, capacity), each admitted against the
program's budget under its lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from enrollment.incentives import selectors
from enrollment.incentives.models import Incentive, IncentiveDocument, IncentiveOffer
from enrollment.incentives.services.calculations import (
    MEASUREMENT,
    Amount,
    as_decimal,
    capacity_payment,
    charger_rebate,
    dollars,
    enrollment_bonus,
    event_performance,
    monthly_credit,
    season_label,
    to_cents,
)
from enrollment.incentives.services.documents import check_document, store_document
from enrollment.incentives.services.errors import AlreadyClaimed, InvalidInput, NotEligible
from enrollment.incentives.services.ledger import acting_user, lock_program, reserve
from enrollment.models import Enrollment, Program
from portal.audit import record
from portal.models import User

# --- Offers ---------------------------------------------------------------------------------

OFFER_FIELDS = [
    "program", "kind", "name", "reason_code", "payout_channel", "amount",
    "income_qualified_amount", "forfeit_after_opt_outs", "rate_per_kwh", "rate_per_kw",
    "season_cap", "requires_review", "active",
]  # fmt: skip


def offer_terms(offer: IncentiveOffer) -> dict[str, Any]:
    """The offer's terms as audit-ready text (money exactly as stored)."""
    return {
        name: None if (value := getattr(offer, name)) is None else str(value)
        for name in OFFER_FIELDS
    }


def save_offer(
    *, offer: IncentiveOffer, before: dict[str, Any] | None, actor: User | None
) -> IncentiveOffer:
    """Create or change an offer (validated by its form) and record the terms: all of them
    when created, what changed when edited. Amounts already calculated keep their terms."""
    with transaction.atomic():
        offer.save()
        after = offer_terms(offer)
        if before is None:
            action, changes = "incentive_offer.created", after
        else:
            action = "incentive_offer.updated"
            changes = {
                k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v
            }
        record(
            action=action,
            utility=offer.program.utility,
            obj=offer,
            actor=actor,
            changes=changes,
        )
    return offer


# --- Applications and awards ----------------------------------------------------------------


def _check_enrollment(*, offer: IncentiveOffer, enrollment: Enrollment) -> None:
    if enrollment.program_id != offer.program_id:
        raise NotEligible(f"Enrollment #{enrollment.pk} is not in {offer.program}.")
    # Incentives are for participants: the enrollment must have been active at some point
    # (it may have ended since — a payment for last month's event is still owed).
    if enrollment.activated_at is None:
        raise NotEligible(
            f"Enrollment #{enrollment.pk} has never been active "
            f"(it is {enrollment.get_status_display().lower()}); incentives are for participants."
        )


def _claim(
    *,
    offer: IncentiveOffer,
    enrollment: Enrollment,
    period_key: str,
    inputs: dict[str, Any],
    calculate: Callable[[], Amount],
    actor: User | None,
    season: str = "",
    invoice: UploadedFile | None = None,
) -> Incentive:
    """The incentive for (offer, enrollment, period): the existing one when the same inputs
    come again (a retry, a double click), else a new one, admitted against the budget.

    New: approved at once when the offer needs no review and the budget allows; waiting for
    approval when it needs review and the budget allows; waitlisted when others are already
    waiting for budget or the budget cannot cover it."""
    _check_enrollment(offer=offer, enrollment=enrollment)
    with transaction.atomic():
        program = lock_program(offer.program_id)
        existing = (
            Incentive.objects.filter(offer=offer, enrollment=enrollment, period_key=period_key)
            .exclude(status=Incentive.Status.REJECTED)
            .first()
        )
        if existing is not None:
            differing = {k for k, v in inputs.items() if getattr(existing, k) != v}
            if differing:
                raise AlreadyClaimed(
                    f"{offer.name} for enrollment #{enrollment.pk} ({period_key}) is already "
                    f"incentive #{existing.pk}, from other figures "
                    f"({', '.join(sorted(differing))}); correct it through a dispute.",
                    incentive_id=existing.pk,
                )
            return existing
        calculation = calculate()
        account = enrollment.service_account
        incentive = Incentive(
            utility_id=program.utility_id,
            program=program,
            offer=offer,
            enrollment=enrollment,
            service_account=account,
            period_key=period_key,
            season=season,
            amount=calculation.amount,
            calculation=list(calculation.steps),
            income_qualified=account.income_qualified,
            submitted_by=acting_user(actor),
            **inputs,
        )
        if invoice is not None:
            incentive.invoice = store_document(
                utility_id=program.utility_id,
                kind=IncentiveDocument.Kind.INVOICE,
                upload=invoice,
                actor=actor,
            )
        status, why = _admission(program=program, offer=offer, amount=incentive.amount)
        incentive.status = status
        now = timezone.now()
        if status == Incentive.Status.WAITLISTED:
            incentive.waitlisted_at = now
        if status == Incentive.Status.APPROVED:
            incentive.decided_at = now
        incentive.save()
        if status == Incentive.Status.APPROVED:
            reserve(incentive=incentive, amount=incentive.amount, actor=actor, memo=why)
        record(
            action=f"incentive.{status}",
            utility=program.utility,
            obj=incentive,
            actor=actor,
            to_state=status,
            comment=" ".join([*calculation.steps, why]),
            changes={
                "offer": offer.name,
                "enrollment": enrollment.pk,
                "period": period_key,
                "amount": str(incentive.amount),
            },
        )
        return incentive


def _admission(*, program: Program, offer: IncentiveOffer, amount: Decimal) -> tuple[str, str]:
    budget = selectors.budget(program=program)
    if amount == 0:
        return Incentive.Status.APPROVED, "Nothing to pay, so nothing to reserve."
    if budget.waitlisted_count:
        return Incentive.Status.WAITLISTED, (
            f"Waitlisted behind {budget.waitlisted_count} earlier amount(s) waiting for budget."
        )
    if amount > budget.available:
        return Incentive.Status.WAITLISTED, (
            f"Waitlisted: the budget left after the amounts in review, "
            f"{dollars(budget.available)}, cannot cover {dollars(amount)}."
        )
    if offer.requires_review:
        return Incentive.Status.SUBMITTED, "Awaiting approval."
    return Incentive.Status.APPROVED, "Approved automatically (this offer needs no review)."


def submit_charger_rebate(
    *,
    offer: IncentiveOffer,
    enrollment: Enrollment,
    invoice_total: Decimal,
    invoice: UploadedFile,
    actor: User | None,
) -> Incentive:
    """A charger rebate application with its invoice (PDF, PNG or JPEG, ≤ 10 MB)."""
    if offer.kind != IncentiveOffer.Kind.CHARGER_REBATE:
        raise InvalidInput(f"{offer.name} is not a charger rebate.")
    check_document(invoice)
    total = to_cents(as_decimal(invoice_total, name="The invoice total"))
    return _claim(
        offer=offer,
        enrollment=enrollment,
        period_key="once",
        inputs={"invoice_total": total},
        calculate=lambda: charger_rebate(
            standard_amount=offer.amount,
            income_qualified_amount=offer.income_qualified_amount,
            income_qualified=enrollment.service_account.income_qualified,
            invoice_total=total,
        ),
        actor=actor,
        invoice=invoice,
    )


def _offer_of(program: Program, kind: str) -> IncentiveOffer | None:
    return selectors.active_offer(program=program, kind=kind)


def award_enrollment_bonus(
    *, program: Program, enrollment: Enrollment, actor: User | None = None
) -> Incentive | None:
    """The program's enrollment bonus for ``enrollment``, once; None when it offers none."""
    offer = _offer_of(program, IncentiveOffer.Kind.ENROLLMENT_BONUS)
    if offer is None:
        return None
    return _claim(
        offer=offer,
        enrollment=enrollment,
        period_key="once",
        inputs={},
        calculate=lambda: enrollment_bonus(amount=offer.amount),
        actor=actor,
    )


def month_period(month: date) -> str:
    """The period key of a month's credit (one incentive per enrollment and month)."""
    return f"month:{month:%Y-%m}"


def award_monthly_credit(
    *,
    program: Program,
    enrollment: Enrollment,
    month: date,
    opt_out_count: int,
    actor: User | None = None,
) -> Incentive | None:
    """The participation credit for ``month`` given that month's opt-out count; None when the
    program offers none."""
    offer = _offer_of(program, IncentiveOffer.Kind.MONTHLY_CREDIT)
    if offer is None:
        return None
    return _claim(
        offer=offer,
        enrollment=enrollment,
        period_key=month_period(month),
        inputs={"opt_out_count": opt_out_count},
        calculate=lambda: monthly_credit(
            amount=offer.amount,
            opt_out_count=opt_out_count,
            forfeit_after_opt_outs=offer.forfeit_after_opt_outs,
        ),
        actor=actor,
    )


def _measured(value: Decimal | int | float | str, *, name: str) -> Decimal:
    return as_decimal(value, name=name).quantize(MEASUREMENT, rounding=ROUND_HALF_UP)


def award_event_performance(
    *,
    program: Program,
    enrollment: Enrollment,
    event_ref: str,
    measured_kwh: Decimal | int | float | str,
    event_date: date,
    actor: User | None = None,
) -> Incentive | None:
    """$/kWh for one enrollment's measured performance in one event (once per event: the same
    figures again return the same incentive; other figures are refused). The season cap
    counts everything the customer earned from the offer in the event's season. None when
    the program offers no performance payment."""
    offer = _offer_of(program, IncentiveOffer.Kind.EVENT_PERFORMANCE)
    if offer is None:
        return None
    if not event_ref.strip():
        raise InvalidInput("An event reference is needed.")
    kwh = _measured(measured_kwh, name="Measured kWh")
    season = season_label(seasons=program.seasons, on=event_date)
    return _claim(
        offer=offer,
        enrollment=enrollment,
        period_key=f"event:{event_ref.strip()}"[:80],
        inputs={"measured_kwh": kwh},
        calculate=lambda: event_performance(
            rate_per_kwh=offer.rate_per_kwh,
            measured_kwh=kwh,
            earned_this_season=selectors.season_earnings(
                offer=offer, service_account_id=enrollment.service_account_id, season=season
            ),
            season_cap=offer.season_cap,
        ),
        actor=actor,
        season=season,
    )


def award_capacity(
    *,
    program: Program,
    enrollment: Enrollment,
    season: str,
    measured_kw: Decimal | int | float | str,
    actor: User | None = None,
) -> Incentive | None:
    """$/kW for one enrollment's average measured kW over ``season`` (e.g. "Summer 2026",
    see ``season_label``), once per season, within the season cap. None when the program
    offers no capacity payment."""
    offer = _offer_of(program, IncentiveOffer.Kind.CAPACITY_PAYMENT)
    if offer is None:
        return None
    season = season.strip()
    if not season:
        raise InvalidInput("A season is needed, e.g. “Summer 2026”.")
    kw = _measured(measured_kw, name="Measured kW")
    return _claim(
        offer=offer,
        enrollment=enrollment,
        period_key=f"season:{season}"[:80],
        inputs={"measured_kw": kw},
        calculate=lambda: capacity_payment(
            rate_per_kw=offer.rate_per_kw,
            measured_kw=kw,
            earned_this_season=selectors.season_earnings(
                offer=offer, service_account_id=enrollment.service_account_id, season=season
            ),
            season_cap=offer.season_cap,
        ),
        actor=actor,
        season=season[:40],
    )
