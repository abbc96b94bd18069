"""Incentive writes: the amount calculations (pure functions), uploaded documents,
applications and awards, approval against the budget, the ledger, payout batches and
disputes.

Call these inside the utility's scope. Every write that touches a program's money locks the
program row first (``SELECT … FOR UPDATE``) and only then reads the budget from the ledger,
so approvals, awards, reversals and payout batches of one program run one after another and
two of them can never spend the same dollar. Every state change writes an audit row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from enrollment import incentives_selectors as selectors
from enrollment.models import (
    Dispute,
    Enrollment,
    Incentive,
    IncentiveDocument,
    IncentiveOffer,
    LedgerEntry,
    PayoutBatch,
    PayoutItem,
    PayoutMethod,
    PayoutPreference,
    Program,
)
from portal.audit import actor_label, record
from portal.customers.models import ServiceAccount
from portal.errors import DomainError
from portal.models import User
from portal.uploads import check_upload

# --- Errors ---------------------------------------------------------------------------------


class IncentiveError(DomainError):
    """A refused incentive action."""

    code = "incentive_error"


class InvalidInput(IncentiveError):
    code = "invalid_input"


class InvalidDocument(IncentiveError):
    code = "invalid_document"


class NotEligible(IncentiveError):
    code = "not_eligible"


class AlreadyClaimed(IncentiveError):
    """The same offer, enrollment and period already has an incentive, from other inputs."""

    code = "already_claimed"


class AlreadyDecided(IncentiveError):
    """Someone decided first (or a double click): nothing was changed."""

    code = "already_decided"


class BudgetExhausted(IncentiveError):
    code = "budget_exhausted"


class LedgerConflict(IncentiveError):
    code = "ledger_conflict"


class NothingToPay(IncentiveError):
    code = "nothing_to_pay"


class BatchNotReady(IncentiveError):
    code = "batch_not_ready"


class DisputeAlreadyOpen(IncentiveError):
    code = "dispute_already_open"

    def __init__(self, message: str, *, dispute: Dispute):
        super().__init__(message, dispute_id=dispute.pk)
        self.dispute = dispute


# --- Calculations (pure) --------------------------------------------------------------------

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MEASUREMENT = Decimal("0.001")


def to_cents(value: Decimal) -> Decimal:
    """Half a cent rounds up, as on a bill — never the banker's rounding Decimal defaults to."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def as_decimal(value: Decimal | int | float | str, *, name: str) -> Decimal:
    """A finite Decimal. Floats go through their shortest text form, so 12.3 stays 12.3."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{name} is not a number: {value!r}.") from None
    if not number.is_finite():
        raise InvalidInput(f"{name} is not a number: {value!r}.")
    return number


def dollars(value: Decimal) -> str:
    text = f"${abs(value):,.2f}"
    return f"−{text}" if value < 0 else text


@dataclass(frozen=True)
class Amount:
    """A calculated amount in cents and the steps that led to it, in words."""

    amount: Decimal
    steps: tuple[str, ...]


def charger_rebate(
    *,
    standard_amount: Decimal,
    income_qualified_amount: Decimal | None,
    income_qualified: bool,
    invoice_total: Decimal,
) -> Amount:
    """The offer's rebate for the customer's tier, never more than the invoice."""
    if invoice_total <= 0:
        raise InvalidInput("The invoice total must be more than $0.00.")
    if income_qualified and income_qualified_amount is not None:
        base = income_qualified_amount
        steps = [f"Income-qualified rebate: {dollars(base)}."]
    else:
        base = standard_amount
        steps = [f"Standard rebate: {dollars(base)}."]
        if income_qualified:
            steps.append("This offer has no income-qualified amount.")
    invoice = to_cents(invoice_total)
    amount = to_cents(base)
    if invoice < amount:
        steps.append(f"Capped at the invoice total, {dollars(invoice)}.")
        amount = invoice
    return Amount(amount, tuple(steps))


def enrollment_bonus(*, amount: Decimal) -> Amount:
    return Amount(to_cents(amount), (f"Enrollment bonus, once per enrollment: {dollars(amount)}.",))


def monthly_credit(
    *, amount: Decimal, opt_out_count: int, forfeit_after_opt_outs: int | None
) -> Amount:
    """The month's credit, or nothing once the opt-outs that month reach the offer's limit."""
    if opt_out_count < 0:
        raise InvalidInput("The number of opt-outs cannot be negative.")
    plural = "opt-out" if opt_out_count == 1 else "opt-outs"
    if forfeit_after_opt_outs is not None and opt_out_count >= forfeit_after_opt_outs:
        return Amount(
            ZERO,
            (
                f"{opt_out_count} {plural} this month; the credit is forfeited at "
                f"{forfeit_after_opt_outs}.",
            ),
        )
    limit = (
        f" (forfeited at {forfeit_after_opt_outs})" if forfeit_after_opt_outs is not None else ""
    )
    return Amount(
        to_cents(amount),
        (f"Monthly credit {dollars(amount)}; {opt_out_count} {plural} this month{limit}.",),
    )


def _within_season_cap(
    *, amount: Decimal, earned_this_season: Decimal, season_cap: Decimal | None, steps: list[str]
) -> Amount:
    if season_cap is not None:
        room = max(ZERO, to_cents(season_cap) - to_cents(earned_this_season))
        if amount > room:
            steps.append(
                f"Season cap {dollars(season_cap)}, of which {dollars(earned_this_season)} is "
                f"already earned: {dollars(room)}."
            )
            amount = room
    return Amount(to_cents(amount), tuple(steps))


def event_performance(
    *,
    rate_per_kwh: Decimal,
    measured_kwh: Decimal,
    earned_this_season: Decimal = ZERO,
    season_cap: Decimal | None = None,
) -> Amount:
    """$/kWh for the energy an event measured (shifted or exported), within the season cap.
    Performance below zero (more load than the baseline) earns nothing, it costs nothing."""
    steps = []
    kwh = measured_kwh
    if kwh < 0:
        steps.append(f"Measured {kwh} kWh is below zero; counted as 0 kWh.")
        kwh = Decimal(0)
    amount = to_cents(kwh * rate_per_kwh)
    steps.append(f"{kwh} kWh × ${rate_per_kwh}/kWh = {dollars(amount)}.")
    return _within_season_cap(
        amount=amount, earned_this_season=earned_this_season, season_cap=season_cap, steps=steps
    )


def capacity_payment(
    *,
    rate_per_kw: Decimal,
    measured_kw: Decimal,
    earned_this_season: Decimal = ZERO,
    season_cap: Decimal | None = None,
) -> Amount:
    """$/kW-season for the average kW measured over the season's events, within the cap."""
    steps = []
    kw = measured_kw
    if kw < 0:
        steps.append(f"Measured {kw} kW is below zero; counted as 0 kW.")
        kw = Decimal(0)
    amount = to_cents(kw * rate_per_kw)
    steps.append(f"{kw} kW × ${rate_per_kw}/kW-season = {dollars(amount)}.")
    return _within_season_cap(
        amount=amount, earned_this_season=earned_this_season, season_cap=season_cap, steps=steps
    )


def season_label(*, seasons: list[dict], on: date) -> str:
    """The program season ``on`` falls in, with its year ("Summer 2026"); a season running
    over New Year ("Winter": Nov–Feb) carries the year it starts in. Months outside every
    season are "Off-season <year>"."""
    for season in seasons or []:
        months = [int(m) for m in season.get("months", [])]
        if on.month not in months:
            continue
        # The first month of the run: the one whose previous month is not in the season.
        starts = [m for m in months if (m - 2) % 12 + 1 not in months] or [min(months)]
        year = on.year - 1 if on.month < starts[0] else on.year
        return f"{season['name']} {year}"
    return f"Off-season {on.year}"


# --- Documents ------------------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def check_document(upload: UploadedFile) -> tuple[str, str]:
    """The upload's (content type, sha256), or InvalidDocument saying what is wrong with it."""
    try:
        return check_upload(upload, max_bytes=MAX_DOCUMENT_BYTES)
    except ValidationError as exc:
        raise InvalidDocument(exc.messages[0]) from None


def store_document(
    *, utility_id: int, kind: str, upload: UploadedFile, actor: User | None
) -> IncentiveDocument:
    content_type, sha256 = check_document(upload)
    document = IncentiveDocument(
        utility_id=utility_id,
        kind=kind,
        original_name=(upload.name or kind)[:200],
        content_type=content_type,
        size_bytes=upload.size,
        sha256=sha256,
        uploaded_by=_user(actor),
    )
    # The storage name comes from the model's upload_to: random, never the uploaded name.
    document.file.save(kind, upload, save=False)
    document.save()
    return document


# --- Shared pieces --------------------------------------------------------------------------


def _user(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def _lock_program(program_id: int) -> Program:
    """The program row, locked until the transaction ends: every writer of a program's money
    takes this lock first, so they run one at a time."""
    return (
        Program.objects.select_related("utility").select_for_update(of=("self",)).get(pk=program_id)
    )


def _write_entry(
    *,
    incentive: Incentive,
    kind: str,
    amount: Decimal,
    actor: User | None,
    memo: str,
    reverses: LedgerEntry | None = None,
) -> LedgerEntry:
    return LedgerEntry.objects.create(
        utility_id=incentive.utility_id,
        program_id=incentive.program_id,
        incentive=incentive,
        kind=kind,
        amount=amount,
        reverses=reverses,
        memo=memo[:250],
        created_by=_user(actor),
        actor_label=actor_label(user=actor),
    )


def _reserve(*, incentive: Incentive, amount: Decimal, actor: User | None, memo: str) -> None:
    if amount > 0:
        _write_entry(
            incentive=incentive,
            kind=LedgerEntry.Kind.RESERVE,
            amount=amount,
            actor=actor,
            memo=memo,
        )


def _move(
    incentive: Incentive,
    to: str,
    *,
    program: Program,
    actor: User | None,
    reason: str = "",
    comment: str = "",
) -> None:
    """Move an incentive to ``to`` (checked against ALLOWED), save and audit it. The caller
    holds the program lock, so nothing else moves it meanwhile."""
    from_state = incentive.status
    if to not in Incentive.ALLOWED.get(from_state, set()):
        raise AlreadyDecided(_decided_message(incentive))
    now = timezone.now()
    incentive.status = to
    fields = ["status"]
    if to in (Incentive.Status.APPROVED, Incentive.Status.REJECTED):
        incentive.decided_at, incentive.decided_by = now, _user(actor)
        incentive.decision_reason = reason
        fields += ["decided_at", "decided_by", "decision_reason"]
    if to == Incentive.Status.WAITLISTED:
        incentive.waitlisted_at = now
        fields.append("waitlisted_at")
    incentive.save(update_fields=fields)
    record(
        action=f"incentive.{to}",
        utility=program.utility,
        obj=incentive,
        actor=actor,
        from_state=from_state,
        to_state=to,
        comment=comment or reason,
        changes={"amount": str(incentive.amount), "program": program.name},
    )


def _decided_message(incentive: Incentive) -> str:
    if incentive.status == Incentive.Status.WAITLISTED:
        return (
            f"Incentive #{incentive.pk} is waitlisted for budget: it returns to the queue in "
            "turn (first in, first out) when budget frees. Nothing was changed."
        )
    who = incentive.decided_by.email if incentive.decided_by else "the system"
    when = (
        f" on {timezone.localtime(incentive.decided_at):%Y-%m-%d %H:%M}"
        if incentive.decided_at
        else ""
    )
    return (
        f"Incentive #{incentive.pk} was already {incentive.get_status_display().lower()} by "
        f"{who}{when}. Nothing was changed."
    )


def _promote(*, program: Program, actor: User | None) -> list[Incentive]:
    """Move waitlisted incentives back into play, oldest first, while the budget covers
    them; strictly in turn, so a small amount never overtakes a larger one ahead of it.
    The caller holds the program lock."""
    available = selectors.budget(program=program).available
    promoted = []
    for incentive in selectors.waitlist(program=program):
        if incentive.amount > available:
            break
        comment = "Promoted from the waitlist in turn: budget freed."
        if incentive.offer.requires_review:
            _move(
                incentive, Incentive.Status.SUBMITTED, program=program, actor=actor, comment=comment
            )
        else:
            _move(
                incentive, Incentive.Status.APPROVED, program=program, actor=actor, comment=comment
            )
            _reserve(incentive=incentive, amount=incentive.amount, actor=actor, memo=comment)
        available -= incentive.amount
        promoted.append(incentive)
    return promoted


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
        program = _lock_program(offer.program_id)
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
            submitted_by=_user(actor),
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
            _reserve(incentive=incentive, amount=incentive.amount, actor=actor, memo=why)
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


# --- Approval queue -------------------------------------------------------------------------


def _locked_incentive(incentive_id: int) -> tuple[Program, Incentive]:
    """The program lock first, then the incentive read fresh under it (always in that order,
    so two writers can never wait on each other)."""
    program_id = Incentive.objects.values_list("program_id", flat=True).get(pk=incentive_id)
    program = _lock_program(program_id)
    incentive = (
        Incentive.objects.select_related("offer", "decided_by")
        .select_for_update(of=("self",))
        .get(pk=incentive_id)
    )
    return program, incentive


def approve_incentive(*, incentive_id: int, actor: User) -> Incentive:
    """Approve an application awaiting approval and reserve its amount, in one transaction.
    When the budget left cannot cover it, it is waitlisted instead (its status says which)."""
    with transaction.atomic():
        program, incentive = _locked_incentive(incentive_id)
        if incentive.status != Incentive.Status.SUBMITTED:
            raise AlreadyDecided(_decided_message(incentive))
        remaining = selectors.budget(program=program).remaining
        if incentive.amount > remaining:
            _move(
                incentive,
                Incentive.Status.WAITLISTED,
                program=program,
                actor=actor,
                comment=f"Not approved: the budget left, {dollars(remaining)}, cannot cover "
                f"{dollars(incentive.amount)}. Waitlisted until budget frees.",
            )
            return incentive
        _move(incentive, Incentive.Status.APPROVED, program=program, actor=actor)
        _reserve(incentive=incentive, amount=incentive.amount, actor=actor, memo="Approved.")
        return incentive


def reject_incentive(*, incentive_id: int, reason: str, actor: User) -> Incentive:
    """Reject an application awaiting approval or waitlisted; the budget it was waiting for
    goes to the waitlist."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give the reason for the rejection; the customer is told it.")
    with transaction.atomic():
        program, incentive = _locked_incentive(incentive_id)
        if incentive.status not in Incentive.UNDECIDED:
            raise AlreadyDecided(_decided_message(incentive))
        _move(incentive, Incentive.Status.REJECTED, program=program, actor=actor, reason=reason)
        _promote(program=program, actor=actor)
        return incentive


def promote_waitlist(*, program_id: int, actor: User | None = None) -> list[Incentive]:
    """Promote the program's waitlist as far as the budget now allows. Call it after the
    program's budget was raised (reversals and rejections promote by themselves)."""
    with transaction.atomic():
        program = _lock_program(program_id)
        return _promote(program=program, actor=actor)


# --- Ledger corrections ---------------------------------------------------------------------


def _reverse(*, entry: LedgerEntry, actor: User | None, memo: str) -> LedgerEntry:
    if entry.kind != LedgerEntry.Kind.RESERVE:
        raise LedgerConflict(
            f"Ledger entry #{entry.pk} is a {entry.kind}; only reserved amounts are reversed."
        )
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise LedgerConflict(f"Ledger entry #{entry.pk} is already reversed.")
    item = PayoutItem.objects.filter(entry=entry).first()
    if item is not None:
        raise LedgerConflict(
            f"Ledger entry #{entry.pk} is in payout batch #{item.batch_id}; it can no longer "
            "be reversed."
        )
    return _write_entry(
        incentive=entry.incentive,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=-entry.amount,
        actor=actor,
        memo=memo,
        reverses=entry,
    )


def reverse_entry(*, entry_id: int, reason: str, actor: User | None) -> LedgerEntry:
    """Cancel one reserved (approved, unpaid, not batched) amount with a reversing entry
    linked to it; the freed budget goes to the waitlist."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give the reason for the reversal.")
    with transaction.atomic():
        program_id = LedgerEntry.objects.values_list("program_id", flat=True).get(pk=entry_id)
        program = _lock_program(program_id)
        entry = LedgerEntry.objects.select_related("incentive").get(pk=entry_id)
        reversal = _reverse(entry=entry, actor=actor, memo=reason)
        record(
            action="ledger.reversed",
            utility=program.utility,
            obj=entry.incentive,
            actor=actor,
            comment=reason,
            changes={"entry": entry.pk, "reversal": reversal.pk, "amount": str(reversal.amount)},
        )
        _promote(program=program, actor=actor)
        return reversal


def _correct_amount(
    *, program: Program, incentive: Incentive, corrected: Decimal, actor: User | None, memo: str
) -> list[LedgerEntry]:
    """Make the incentive's ledger say ``corrected``: reverse what is reserved and still
    movable, and reserve the difference above what is paid or batched already (that part
    cannot be undone here)."""
    entries = list(
        LedgerEntry.objects.filter(
            incentive=incentive, kind=LedgerEntry.Kind.RESERVE, reversed_by__isnull=True
        )
        .select_related("incentive")
        .annotate(batched=Exists(PayoutItem.objects.filter(entry=OuterRef("pk"))))
        .order_by("id")
    )
    fixed = sum((e.amount for e in entries if e.batched), ZERO)
    movable = [e for e in entries if not e.batched]
    if corrected < fixed:
        raise LedgerConflict(
            f"{dollars(fixed)} of this incentive is paid or in a payout batch already; the "
            f"corrected amount cannot be less. Recover an overpayment outside the portal."
        )
    if corrected == fixed + sum((e.amount for e in movable), ZERO):
        return []
    written = [_reverse(entry=e, actor=actor, memo=memo) for e in movable]
    difference = corrected - fixed
    if difference > 0:
        remaining = selectors.budget(program=program).remaining
        if difference > remaining:
            raise BudgetExhausted(
                f"The budget left, {dollars(remaining)}, cannot cover the corrected "
                f"{dollars(difference)}; raise the program's budget first."
            )
        written.append(
            _write_entry(
                incentive=incentive,
                kind=LedgerEntry.Kind.RESERVE,
                amount=difference,
                actor=actor,
                memo=memo,
            )
        )
    incentive.amount = corrected
    incentive.save(update_fields=["amount"])
    return written


# --- Disputes -------------------------------------------------------------------------------


def open_dispute(
    *,
    incentive_id: int,
    description: str,
    claimed_amount: Decimal | None,
    evidence: UploadedFile | None,
    actor: User,
) -> Dispute:
    """Record a customer's dispute of an approved amount, with optional evidence."""
    description = description.strip()
    if not description:
        raise InvalidInput("Describe what the customer disputes.")
    if evidence is not None:
        check_document(evidence)
    try:
        with transaction.atomic():
            incentive = Incentive.objects.select_for_update(of=("self",)).get(pk=incentive_id)
            if incentive.status != Incentive.Status.APPROVED:
                raise InvalidInput(
                    f"Only approved amounts can be disputed; incentive #{incentive.pk} is "
                    f"{incentive.get_status_display().lower()}."
                )
            open_one = Dispute.objects.filter(incentive=incentive, status=Dispute.Status.OPEN)
            if (existing := open_one.first()) is not None:
                raise DisputeAlreadyOpen(
                    f"Dispute #{existing.pk} about this incentive is still open; add to it "
                    "rather than opening another.",
                    dispute=existing,
                )
            document = (
                store_document(
                    utility_id=incentive.utility_id,
                    kind=IncentiveDocument.Kind.EVIDENCE,
                    upload=evidence,
                    actor=actor,
                )
                if evidence is not None
                else None
            )
            dispute = Dispute.objects.create(
                utility_id=incentive.utility_id,
                incentive=incentive,
                description=description,
                claimed_amount=to_cents(claimed_amount) if claimed_amount is not None else None,
                evidence=document,
                opened_by=_user(actor),
            )
            record(
                action="dispute.opened",
                utility=incentive.program.utility,
                obj=dispute,
                actor=actor,
                to_state=dispute.status,
                comment=description,
                changes={
                    "incentive": incentive.pk,
                    "claimed_amount": str(dispute.claimed_amount or ""),
                    "evidence": document.pk if document else None,
                },
            )
            return dispute
    except IntegrityError:
        # Two submissions raced past the check; the partial unique index kept one.
        existing = Dispute.objects.get(incentive_id=incentive_id, status=Dispute.Status.OPEN)
        raise DisputeAlreadyOpen(
            f"Dispute #{existing.pk} about this incentive is already open.", dispute=existing
        ) from None


def resolve_dispute(
    *,
    dispute_id: int,
    upheld: bool,
    note: str,
    corrected_amount: Decimal | None,
    actor: User,
) -> Dispute:
    """Deny a dispute, or uphold it with the corrected amount: reversing and new reserve
    entries make the ledger say that amount (budget permitting). Audited either way."""
    note = note.strip()
    if not note:
        raise InvalidInput("Write a resolution note; the customer is told it.")
    if upheld and corrected_amount is None:
        raise InvalidInput("Enter the corrected amount the customer is owed.")
    with transaction.atomic():
        incentive_id = Dispute.objects.values_list("incentive_id", flat=True).get(pk=dispute_id)
        program, incentive = _locked_incentive(incentive_id)
        dispute = (
            Dispute.objects.select_related("resolved_by")
            .select_for_update(of=("self",))
            .get(pk=dispute_id)
        )
        if dispute.status != Dispute.Status.OPEN:
            who = dispute.resolved_by.email if dispute.resolved_by else "someone else"
            raise AlreadyDecided(
                f"Dispute #{dispute.pk} was already {dispute.get_status_display().lower()} by "
                f"{who} on {timezone.localtime(dispute.resolved_at):%Y-%m-%d %H:%M}. "
                "Nothing was changed."
            )
        before = incentive.amount
        entries: list[LedgerEntry] = []
        if upheld:
            corrected = to_cents(as_decimal(corrected_amount, name="The corrected amount"))
            if corrected < 0:
                raise InvalidInput("The corrected amount cannot be negative.")
            entries = _correct_amount(
                program=program,
                incentive=incentive,
                corrected=corrected,
                actor=actor,
                memo=f"Dispute #{dispute.pk} upheld: {note}",
            )
            dispute.corrected_amount = corrected
        dispute.status = Dispute.Status.UPHELD if upheld else Dispute.Status.DENIED
        dispute.resolved_at, dispute.resolved_by = timezone.now(), _user(actor)
        dispute.resolution_note = note
        dispute.save(
            update_fields=[
                "status",
                "resolved_at",
                "resolved_by",
                "resolution_note",
                "corrected_amount",
            ]
        )
        record(
            action=f"dispute.{dispute.status}",
            utility=program.utility,
            obj=dispute,
            actor=actor,
            from_state=Dispute.Status.OPEN,
            to_state=dispute.status,
            comment=note,
            changes={
                "incentive": incentive.pk,
                "amount": {"from": str(before), "to": str(incentive.amount)},
                "ledger_entries": [e.pk for e in entries],
            },
        )
        if entries:
            _promote(program=program, actor=actor)
        return dispute


# --- Payouts --------------------------------------------------------------------------------

_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-:.]{3,63}$")


def check_ach_reference(value: str) -> str:
    """A payment processor's id for a bank account ("ba_1Nv…"), never the account number: it
    must start with a letter, so a bank account or routing number is refused."""
    value = value.strip()
    if not _REFERENCE_ID.match(value):
        raise InvalidInput(
            "Enter the payment processor's reference id for the customer's bank account "
            "(it starts with a letter); bank account and routing numbers are never stored here."
        )
    return value


def set_payout_preference(
    *,
    service_account: ServiceAccount,
    method: str,
    ach_reference: str = "",
    egift_email: str = "",
    actor: User | None,
) -> PayoutPreference:
    """Record how the customer wants off-bill payments (check, ACH or e-gift card)."""
    if method == PayoutMethod.ACH:
        ach_reference, egift_email = check_ach_reference(ach_reference), ""
    elif method == PayoutMethod.EGIFT:
        egift_email, ach_reference = egift_email.strip().lower(), ""
        if not egift_email:
            raise InvalidInput("Enter the email address the e-gift card goes to.")
    elif method == PayoutMethod.CHECK:
        ach_reference = egift_email = ""
    else:
        raise InvalidInput(f"{method!r} is not an off-bill payment method.")
    with transaction.atomic():
        preference, created = PayoutPreference.objects.update_or_create(
            service_account=service_account,
            defaults={
                "utility_id": service_account.utility_id,
                "method": method,
                "ach_reference": ach_reference,
                "egift_email": egift_email,
                "updated_by": _user(actor),
            },
        )
        record(
            action="payout_preference.created" if created else "payout_preference.updated",
            utility=service_account.utility,
            obj=service_account,
            actor=actor,
            changes={"method": method, "ach_reference": ach_reference, "egift_email": egift_email},
        )
    return preference


def _payout_item(batch: PayoutBatch, entry: LedgerEntry) -> PayoutItem:
    incentive = entry.incentive
    account = incentive.service_account
    if batch.channel == IncentiveOffer.Channel.BILL_CREDIT:
        method, preference = PayoutMethod.BILL_CREDIT, None
    else:
        try:
            preference = account.payout_preference
        except ObjectDoesNotExist:
            preference = None
        # A customer who chose nothing gets a check at the premise address.
        method = preference.method if preference else PayoutMethod.CHECK
    return PayoutItem(
        utility_id=batch.utility_id,
        batch=batch,
        entry=entry,
        incentive=incentive,
        amount=entry.amount,
        method=method,
        account_number=account.account_number,
        payee_name=account.customer_name,
        reason_code=incentive.offer.reason_code,
        mailing_address=account.premise_address,
        city=account.city,
        state=account.state,
        zip_code=account.zip_code,
        ach_reference=preference.ach_reference if method == PayoutMethod.ACH else "",
        egift_email=preference.egift_email if method == PayoutMethod.EGIFT else "",
    )


def create_payout_batch(*, program_id: int, channel: str, actor: User) -> PayoutBatch:
    """Put every approved, unpaid amount of the program paid through ``channel`` into a new
    batch, copying the payee details as they are now. An amount is in one batch at most
    (a unique constraint), and the program lock keeps two batches from racing for it."""
    if channel not in IncentiveOffer.Channel.values:
        raise InvalidInput(f"{channel!r} is not a payout channel.")
    with transaction.atomic():
        program = _lock_program(program_id)
        entries = list(selectors.payable_entries(program=program, channel=channel))
        label = IncentiveOffer.Channel(channel).label.split(" (")[0].lower()
        if not entries:
            raise NothingToPay(f"{program} has no approved, unpaid {label} amounts to pay.")
        batch = PayoutBatch.objects.create(
            utility_id=program.utility_id,
            program=program,
            channel=channel,
            total_amount=sum((e.amount for e in entries), ZERO),
            item_count=len(entries),
            created_by=_user(actor),
        )
        PayoutItem.objects.bulk_create([_payout_item(batch, e) for e in entries])
        record(
            action="payout_batch.created",
            utility=program.utility,
            obj=batch,
            actor=actor,
            to_state=batch.status,
            changes={
                "channel": channel,
                "items": batch.item_count,
                "total": str(batch.total_amount),
                "ledger_entries": [e.pk for e in entries],
            },
        )
        return batch


# Columns of each payment file. The bill-credit file is what the customer system imports:
# account, amount, reason code (and a stable reference to de-duplicate on).
FILE_COLUMNS: dict[str, list[str]] = {
    PayoutMethod.BILL_CREDIT: ["account_number", "amount", "reason_code", "reference"],
    PayoutMethod.CHECK: [
        "reference", "payee_name", "mailing_address", "city", "state", "zip_code", "amount",
        "account_number", "reason_code",
    ],
    PayoutMethod.ACH: [
        "reference", "payee_name", "ach_reference", "amount", "account_number", "reason_code",
    ],
    PayoutMethod.EGIFT: [
        "reference", "payee_name", "egift_email", "amount", "account_number", "reason_code",
    ],
}  # fmt: skip


def payout_file(*, items: list[PayoutItem], method: str) -> bytes:
    """The CSV for one method's items: built only from what the batch copied, in item order,
    so the same batch always gives the same bytes."""
    columns = FILE_COLUMNS[method]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        values = {
            "reference": item.reference,
            "amount": f"{item.amount:.2f}",
        }
        writer.writerow([values.get(c, getattr(item, c, "")) for c in columns])
    return buffer.getvalue().encode("utf-8")


def export_payout_file(*, batch_id: int, method: str, actor: User) -> tuple[str, bytes]:
    """The file name and bytes of one method's file of a batch. The first export moves the
    batch to "exported"; every export is audited with the file's SHA-256."""
    with transaction.atomic():
        batch = (
            PayoutBatch.objects.select_related("program__utility")
            .select_for_update(of=("self",))
            .get(pk=batch_id)
        )
        items = list(selectors.batch_items(batch=batch, method=method))
        if not items:
            raise InvalidInput(f"Payout batch #{batch.pk} has no {method} payments.")
        content = payout_file(items=items, method=method)
        from_state = batch.status
        if batch.status == PayoutBatch.Status.READY:
            batch.status = PayoutBatch.Status.EXPORTED
            batch.exported_at, batch.exported_by = timezone.now(), _user(actor)
            batch.save(update_fields=["status", "exported_at", "exported_by"])
        record(
            action="payout_batch.exported",
            utility=batch.program.utility,
            obj=batch,
            actor=actor,
            from_state=from_state,
            to_state=batch.status,
            changes={
                "method": method,
                "rows": len(items),
                "sha256": hashlib.sha256(content).hexdigest(),
            },
        )
    utility_slug = batch.program.utility.slug
    return f"{utility_slug}-payout-batch-{batch.pk}-{method}.csv", content


def mark_batch_paid(*, batch_id: int, actor: User) -> PayoutBatch:
    """Record that an exported batch was paid: one payout ledger entry per item, moving its
    amount from reserved to paid."""
    with transaction.atomic():
        program_id = PayoutBatch.objects.values_list("program_id", flat=True).get(pk=batch_id)
        program = _lock_program(program_id)
        batch = (
            PayoutBatch.objects.select_related("paid_by")
            .select_for_update(of=("self",))
            .get(pk=batch_id)
        )
        if batch.status == PayoutBatch.Status.PAID:
            who = batch.paid_by.email if batch.paid_by else "someone else"
            raise AlreadyDecided(
                f"Payout batch #{batch.pk} was already marked paid by {who} on "
                f"{timezone.localtime(batch.paid_at):%Y-%m-%d %H:%M}. Nothing was changed."
            )
        if batch.status != PayoutBatch.Status.EXPORTED:
            raise BatchNotReady(
                f"Export payout batch #{batch.pk}'s file(s) before marking it paid."
            )
        items = list(selectors.batch_items(batch=batch))
        memo = f"Paid in payout batch #{batch.pk}"
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    utility_id=batch.utility_id,
                    program_id=batch.program_id,
                    incentive_id=item.incentive_id,
                    kind=LedgerEntry.Kind.PAYOUT,
                    amount=item.amount,
                    settles_id=item.entry_id,
                    payout_batch=batch,
                    memo=f"{memo} ({item.get_method_display()})",
                    created_by=_user(actor),
                    actor_label=actor_label(user=actor),
                )
                for item in items
            ]
        )
        batch.status = PayoutBatch.Status.PAID
        batch.paid_at, batch.paid_by = timezone.now(), _user(actor)
        batch.save(update_fields=["status", "paid_at", "paid_by"])
        record(
            action="payout_batch.paid",
            utility=program.utility,
            obj=batch,
            actor=actor,
            from_state=PayoutBatch.Status.EXPORTED,
            to_state=PayoutBatch.Status.PAID,
            changes={"items": len(items), "total": str(batch.total_amount)},
        )
        return batch
