"""Enrollment writes: programs and their terms, submission (staff or partner), automatic
eligibility decisions, overrides, suspension, reinstatement, withdrawal, ending, the
waitlist, consent, bulk re-evaluation, consent expiry and partner offboarding.

Call these inside the utility's scope. Every transition locks the program row and then the
enrollment row (always in that order, so two transitions never deadlock), checks the move
against ``Enrollment.ALLOWED``, saves only the fields it changed and appends an audit row
with from → to and the reason. The program lock also serializes seat counting, so two
submissions can never both take the last seat. Paths that move many enrollments at once
(re-evaluation, promotion, consent expiry, offboarding) write with ``bulk_update`` and
``bulk_create`` the audit rows.

``**audit_actor`` is passed on to ``portal.audit.record``: ``actor=<user>``, or a partner
client's ``client_id=…, partner_name=…``; nothing means the system (a scheduled task).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_scopes import scopes_disabled

from enrollment import eligibility
from enrollment.eligibility import Evaluation, Rule
from enrollment.models import Consent, Enrollment, Program, ServiceAccount, TermsVersion
from portal.audit import actor_label, record
from portal.bulk import bulk_update_rows
from portal.errors import DomainError
from portal.models import AuditEvent, AutomakerPartner, PartnerAgreement, User, Utility
from portal.request_context import get_request_id
from portal.tasking import enqueue_on_commit

Status = Enrollment.Status
Cause = Enrollment.SuspensionCause

# What a partner may share, named the same way in the API and on the pages.
DATA_SHARING_SCOPES = {
    "telemetry": "Vehicle telemetry (state of charge, power, plugged in)",
    "charging_schedule": "Charging schedule and departure times",
    "location": "Vehicle location at home",
    "interval_usage": "Premise interval meter data",
}
PARTNER_CHANNELS = (
    Enrollment.Channel.AUTOMAKER_APP,
    Enrollment.Channel.CHARGER_MARKETPLACE,
    Enrollment.Channel.INSTALLER,
)
# A consent time a little in the future is a partner's clock, not a lie.
CLOCK_SKEW = timedelta(minutes=5)
RENEWAL_WINDOW = timedelta(days=30)
REEVALUATION_BATCH = 1000
# Rules staff cannot approve away: running V2H/V2G without interconnection approval is a
# safety and legal question, not a program decision.
NOT_OVERRIDABLE = frozenset({Rule.PERMISSION_TO_OPERATE})
# Program fields whose change alters eligibility (``rules_version`` goes up).
RULE_FIELDS = (
    "kind",
    "eligible_zip_codes",
    "eligible_account_numbers",
    "eligible_rate_classes",
    "require_approved_equipment",
    "require_permission_to_operate",
    "require_smart_meter",
    "one_enrollment_per_premise",
    "income_qualified_tier",
    "medical_need_policy",
)

# --- Errors -------------------------------------------------------------------------------


class EnrollmentError(DomainError):
    """A refused enrollment action."""


class EnrollmentNotFound(EnrollmentError):
    code = "not_found"


class UnknownProgram(EnrollmentNotFound):
    code = "unknown_program"


class UnknownVehicle(EnrollmentNotFound):
    code = "unknown_vehicle"


class AccountNotVerified(EnrollmentError):
    """An unknown account and a ZIP that does not match look the same from outside."""

    code = "account_not_verified"


class InvalidConsent(EnrollmentError):
    code = "invalid_consent"


class EnrollmentConflict(EnrollmentError):
    """Valid, but the current state of things does not allow it."""

    code = "conflict"


class ConflictingEnrollment(EnrollmentConflict):
    code = "enrollment_conflict"


class ProgramNotOpen(EnrollmentConflict):
    code = "program_not_open"


class VehicleNotAtAccount(EnrollmentConflict):
    code = "vehicle_account_mismatch"


class TransitionNotAllowed(EnrollmentConflict):
    code = "invalid_transition"


class StaleState(EnrollmentConflict):
    """The page was loaded when the enrollment was in another state."""

    code = "stale_state"


class RulesFailed(EnrollmentConflict):
    code = "rules_failed"


class IdempotencyConflict(EnrollmentConflict):
    code = "idempotency_conflict"


# --- Programs and terms -----------------------------------------------------------------------


def rules_changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in RULE_FIELDS if before.get(name) != after.get(name)]


def program_rules(program: Program) -> dict[str, Any]:
    return {name: getattr(program, name) for name in RULE_FIELDS}


def save_program(
    *,
    program: Program,
    before: dict[str, Any] | None,
    conflicting: Collection[Program],
    **audit_actor: Any,
) -> Program:
    """Create (``before`` None) or update a program from a validated form's instance.

    When eligibility rules change — the rule fields or the set of conflicting programs — the
    program's ``rules_version`` goes up and its open enrollments are re-evaluated in the
    background; programs that gain or lose a conflict with it are re-evaluated too. A larger
    cap promotes the waitlist the same way.
    """
    with transaction.atomic():
        creating = before is None
        conflicting_ids = {p.pk for p in conflicting}
        previous_conflicts: set[int] = set()
        changed_rules: list[str] = []
        if creating:
            program.save()
        else:
            stored = Program.objects.select_for_update(of=("self",)).get(pk=program.pk)
            program.rules_version = stored.rules_version  # another edit may have bumped it
            previous_conflicts = set(program.conflicting_programs.values_list("pk", flat=True))
            changed_rules = rules_changed(before, program_rules(program))
            if previous_conflicts != conflicting_ids:
                changed_rules.append("conflicting_programs")
            if changed_rules:
                program.rules_version += 1
            program.save()
        program.conflicting_programs.set(conflicting_ids)
        touched = (previous_conflicts ^ conflicting_ids) - {program.pk}
        if touched and not creating:
            _bump_rules_version(program_ids=touched)
        after = _program_snapshot(program, conflicting_ids)
        if creating:
            changes = after
        else:
            changes = {
                k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v
            }
        record(
            action="program.created" if creating else "program.updated",
            utility=program.utility,
            obj=program,
            changes=changes,
            comment=(
                f"Eligibility rules changed ({', '.join(changed_rules)}): rules version "
                f"{program.rules_version}; open enrollments are re-evaluated."
                if changed_rules
                else ""
            ),
            **audit_actor,
        )
        cap_grew = not creating and _cap_grew(before.get("enrollment_cap"), program.enrollment_cap)
        if changed_rules or cap_grew:
            _schedule_reevaluation(program)
        for other in Program.objects.filter(pk__in=touched):
            _schedule_reevaluation(other)
    return program


def program_snapshot(program: Program) -> dict[str, Any]:
    """The audited fields of a saved program (what ``save_program`` compares against)."""
    return _program_snapshot(
        program, set(program.conflicting_programs.values_list("pk", flat=True))
    )


def _program_snapshot(program: Program, conflicting_ids: Iterable[int]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in Program._meta.concrete_fields:
        if f.name in ("id", "utility", "created_at", "updated_at"):
            continue
        value = getattr(program, f.attname)
        values[f.name] = (
            value if isinstance(value, (str, int, float, bool, list, type(None))) else str(value)
        )
    values["conflicting_programs"] = sorted(conflicting_ids)
    return values


def _cap_grew(before: int | None, after: int | None) -> bool:
    if after is None:
        return before is not None
    return before is not None and after > before


def _bump_rules_version(*, program_ids: Iterable[int]) -> None:
    locked = Program.objects.select_for_update(of=("self",)).filter(pk__in=program_ids)
    for program in locked.order_by("pk"):
        program.rules_version += 1
        program.save(update_fields=["rules_version", "updated_at"])


def _schedule_reevaluation(program: Program) -> None:
    from enrollment.tasks import reevaluate_program

    enqueue_on_commit(reevaluate_program, utility_id=program.utility_id, program_id=program.pk)


def add_terms_version(*, terms: TermsVersion, **audit_actor: Any) -> TermsVersion:
    """Save a new version of a program's terms (validated by its form)."""
    try:
        with transaction.atomic():
            terms.save()
            record(
                action="terms_version.created",
                utility=terms.utility,
                obj=terms,
                changes={
                    "program": terms.program.slug,
                    "version": terms.version,
                    "effective_on": terms.effective_on.isoformat(),
                    "consent_valid_days": terms.consent_valid_days,
                },
                **audit_actor,
            )
    except IntegrityError:
        raise ValidationError(
            {"version": "This program already has a terms version with this number."}
        ) from None
    return terms


def current_terms(program: Program, *, on: datetime | None = None) -> TermsVersion | None:
    """The terms in effect: the latest version effective on or before today."""
    today = timezone.localdate(on) if on else timezone.localdate()
    return (
        TermsVersion.objects.filter(program=program, effective_on__lte=today)
        .order_by("-effective_on", "-created_at")
        .first()
    )


# --- Consent --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentInput:
    terms_version: TermsVersion
    accepted_at: datetime
    channel: str
    data_sharing_scope: Sequence[str] = ()


def check_consent(*, consent: ConsentInput, program: Program, now: datetime) -> datetime:
    """Raise ``InvalidConsent`` unless the consent is to this program's terms, accepted in
    the past, not expired already, with known sharing scopes; returns its expiry."""
    if consent.terms_version.program_id != program.pk:
        raise InvalidConsent("The terms version is not one of this program's.")
    if consent.accepted_at > now + CLOCK_SKEW:
        raise InvalidConsent("accepted_at is in the future.")
    unknown = sorted(set(consent.data_sharing_scope) - set(DATA_SHARING_SCOPES))
    if unknown:
        raise InvalidConsent(
            f"Unknown data sharing scope(s): {', '.join(unknown)}.",
            allowed=sorted(DATA_SHARING_SCOPES),
        )
    if consent.channel not in Enrollment.Channel.values:
        raise InvalidConsent(f"Unknown channel {consent.channel!r}.")
    expires_at = consent.accepted_at + timedelta(days=consent.terms_version.consent_valid_days)
    if expires_at <= now:
        raise InvalidConsent(
            "This consent has already expired; the customer must accept the terms again."
        )
    return expires_at


def _create_consent(*, enrollment: Enrollment, consent: ConsentInput, expires_at: datetime):
    return Consent.objects.create(
        utility_id=enrollment.utility_id,
        enrollment=enrollment,
        terms_version=consent.terms_version,
        accepted_at=consent.accepted_at,
        channel=consent.channel,
        data_sharing_scope=sorted(set(consent.data_sharing_scope)),
        expires_at=expires_at,
    )


def has_current_consent(enrollment: Enrollment, *, now: datetime) -> bool:
    return Consent.objects.filter(
        enrollment=enrollment, revoked_at__isnull=True, expires_at__gt=now
    ).exists()


def current_consent_exists(now: datetime) -> Exists:
    return Exists(
        Consent.objects.filter(
            enrollment=OuterRef("pk"), revoked_at__isnull=True, expires_at__gt=now
        )
    )


def renew_consent(
    *, enrollment: Enrollment, consent: ConsentInput, now: datetime | None = None, **audit_actor
) -> Consent:
    """Record a renewed consent. An enrollment suspended because its consent expired is
    reinstated with it (if it still passes its rules; otherwise it stays suspended)."""
    now = now or timezone.now()
    with transaction.atomic():
        program, locked = _lock(enrollment.pk)
        if locked.status not in Enrollment.OPEN_STATES:
            raise TransitionNotAllowed(
                f"This enrollment is {locked.get_status_display().lower()}; "
                "a new enrollment is needed."
            )
        expires_at = check_consent(consent=consent, program=program, now=now)
        new = _create_consent(enrollment=locked, consent=consent, expires_at=expires_at)
        record(
            action="enrollment.consent_recorded",
            utility=locked.utility,
            obj=locked,
            changes=_consent_changes(new),
            **audit_actor,
        )
        if locked.status == Status.SUSPENDED and locked.suspension_cause == Cause.CONSENT_EXPIRED:
            evaluation = _evaluate([locked])[0]
            _store_evaluation(locked, evaluation, now=now)
            if _blocking_failures(locked, evaluation):
                locked.save(update_fields=[*_EVALUATION_FIELDS, "updated_at"])
            else:
                _save_transition(
                    locked,
                    Status.ACTIVE,
                    action="enrollment.reinstated",
                    reason="Consent renewed.",
                    now=now,
                    extra_fields=_EVALUATION_FIELDS,
                    **audit_actor,
                )
    return new


def _consent_changes(consent: Consent) -> dict[str, Any]:
    return {
        "terms_version": consent.terms_version.version,
        "accepted_at": consent.accepted_at.isoformat(),
        "channel": consent.channel,
        "data_sharing_scope": consent.data_sharing_scope,
        "expires_at": consent.expires_at.isoformat(),
    }


# --- Submission ---------------------------------------------------------------------------


def request_fingerprint(payload: Any) -> str:
    """A stable hash of a request body: key order and whitespace do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed_submission(
    *, partner: AutomakerPartner, idempotency_key: str, fingerprint: str, utility_ids: list[int]
) -> Enrollment | None:
    """The enrollment an earlier request with this key created, when the body is the same;
    ``IdempotencyConflict`` when the key was used for another body (or, which is the same
    to this client, in a utility it can no longer reach); None for a new key."""
    with scopes_disabled():  # explicitly this partner's own rows
        existing = (
            Enrollment.objects.filter(partner=partner, idempotency_key=idempotency_key)
            .select_related("program", "service_account", "vehicle", "utility")
            .first()
        )
    if existing is None:
        return None
    if existing.idempotency_fingerprint != fingerprint or existing.utility_id not in utility_ids:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used for a different request.",
            enrollment_id=existing.pk if existing.utility_id in utility_ids else None,
        )
    return existing


def verified_account(*, utility: Utility, account_number: str, zip_code: str) -> ServiceAccount:
    """The account, if the number and ZIP both match; one answer for every mismatch, so
    accounts cannot be probed one field at a time."""
    account = ServiceAccount.objects.filter(
        utility=utility, account_number=account_number.strip(), zip_code=zip_code.strip()
    ).first()
    if account is None:
        raise AccountNotVerified("The account number and ZIP code do not match an account.")
    return account


def submit_enrollment(
    *,
    program: Program,
    account: ServiceAccount,
    vehicle,
    consent: ConsentInput,
    channel: str,
    partner: AutomakerPartner | None = None,
    idempotency_key: str = "",
    idempotency_fingerprint: str = "",
    now: datetime | None = None,
    **audit_actor: Any,
) -> tuple[Enrollment, bool]:
    """Enroll ``vehicle`` at ``account`` in ``program`` and decide at once: active, awaiting
    interconnection (only PTO missing), waitlisted (cap reached) or eligibility review (any
    other rule failed). A vehicle — or premise — already in this or a conflicting program is
    refused with ``ConflictingEnrollment`` and nothing is saved.

    Returns the enrollment and whether it was created: a partner retrying with the same
    idempotency key and body gets the first one back.
    """
    now = now or timezone.now()
    if program.status != Program.Status.OPEN:
        raise ProgramNotOpen(f"{program.name} is not open for enrollment.")
    if vehicle.status != vehicle.Status.ACTIVE or vehicle.utility_id != program.utility_id:
        raise UnknownVehicle("No such active vehicle here.")
    if partner is not None and vehicle.partner_id != partner.pk:
        raise UnknownVehicle("No such active vehicle of yours here.")
    if vehicle.service_account_id not in (None, account.pk):
        raise VehicleNotAtAccount("This vehicle is registered at another service account.")
    expires_at = check_consent(consent=consent, program=program, now=now)
    candidate = eligibility.Candidate(program=program, account=account, vehicle=vehicle)

    try:
        with transaction.atomic():
            program = _lock_program(program.pk)
            if idempotency_key and partner is not None:
                # A retry that waited for the lock while the first request enrolled.
                existing = replayed_submission(
                    partner=partner,
                    idempotency_key=idempotency_key,
                    fingerprint=idempotency_fingerprint,
                    utility_ids=[program.utility_id],
                )
                if existing is not None:
                    return existing, False
            conflict = eligibility.evaluate_many([candidate])[0].failure(Rule.CONFLICTING_PROGRAMS)
            if conflict is not None:
                raise ConflictingEnrollment(conflict.detail)
            enrollment = Enrollment.objects.create(
                utility_id=program.utility_id,
                program=program,
                service_account=account,
                vehicle=vehicle,
                partner=partner,
                channel=channel,
                idempotency_key=idempotency_key,
                idempotency_fingerprint=idempotency_fingerprint if idempotency_key else "",
            )
            stored = _create_consent(enrollment=enrollment, consent=consent, expires_at=expires_at)
            record(
                action="enrollment.submitted",
                utility=program.utility,
                obj=enrollment,
                to_state=Status.SUBMITTED,
                changes={
                    "program": program.slug,
                    "account_number": account.account_number,
                    "vin": vehicle.vin,
                    "channel": channel,
                    "consent": _consent_changes(stored),
                },
                **audit_actor,
            )
            enrollment.program = program
            _decide_and_apply(
                program, [enrollment], now=now, action="enrollment.evaluated", **audit_actor
            )
    except IntegrityError:
        # Someone else won a race: the same key (a retry) or the same vehicle and program.
        if idempotency_key and partner is not None:
            existing = replayed_submission(
                partner=partner,
                idempotency_key=idempotency_key,
                fingerprint=idempotency_fingerprint,
                utility_ids=[program.utility_id],
            )
            if existing is not None:
                return existing, False
        raise ConflictingEnrollment(
            "This vehicle already has an open enrollment in this program."
        ) from None
    return enrollment, True


# --- Decisions ----------------------------------------------------------------------------


def _blocking_failures(enrollment: Enrollment, evaluation: Evaluation) -> set[str]:
    """Failed rules staff have not approved despite."""
    return set(evaluation.failed_rules) - set(enrollment.overridden_rules or [])


def decide(*, status: str, blocking: set[str], seat_free: bool) -> tuple[str | None, str]:
    """Where an enrollment goes after an evaluation: (new status or None to stay, reason).

    ``blocking`` are the failed rules not overridden; only a missing PTO means "admit, but
    wait for interconnection"; any other failure sends it to staff review. Admission needs a
    free seat (awaiting interconnection holds one too); without one it is waitlisted.
    """
    pto_only = blocking == {Rule.PERMISSION_TO_OPERATE}
    others = blocking - {Rule.PERMISSION_TO_OPERATE}
    review_reason = "Failed: " + ", ".join(sorted(others)) if others else ""
    if status in (Status.SUBMITTED, Status.ELIGIBILITY_REVIEW):
        if others:
            target = Status.ELIGIBILITY_REVIEW if status == Status.SUBMITTED else None
            return target, review_reason
        if not seat_free:
            return Status.WAITLISTED, "The program is at its enrollment cap."
        if pto_only:
            return Status.AWAITING_INTERCONNECTION, "Waiting for interconnection PTO."
        return Status.ACTIVE, "All eligibility rules pass."
    if status == Status.WAITLISTED:
        return (Status.ELIGIBILITY_REVIEW, review_reason) if others else (None, "")
    if status == Status.AWAITING_INTERCONNECTION:
        if others:
            return Status.ELIGIBILITY_REVIEW, review_reason
        if not blocking:
            return Status.ACTIVE, "Interconnection PTO granted."
        return None, ""
    if status == Status.ACTIVE and blocking:
        return Status.ELIGIBILITY_REVIEW, "Failed: " + ", ".join(sorted(blocking))
    return None, ""


_EVALUATION_FIELDS = (
    "eligibility",
    "failed_rules",
    "eligibility_rules_version",
    "evaluated_at",
    "income_qualified",
    "excluded_from_events",
)
_TRANSITION_FIELDS = (
    "status",
    "status_reason",
    "waitlisted_at",
    "activated_at",
    "ended_at",
    "suspension_cause",
    "updated_at",
)


def _store_evaluation(enrollment: Enrollment, evaluation: Evaluation, *, now: datetime) -> None:
    results = {
        "eligibility": evaluation.as_list(),
        "failed_rules": evaluation.failed_rules,
        "income_qualified": evaluation.income_qualified,
        "excluded_from_events": evaluation.excluded_from_events,
    }
    if any(getattr(enrollment, name) != value for name, value in results.items()):
        # ``updated_at`` is what partners pull changes by: only a different result counts.
        enrollment.updated_at = now
    for name, value in results.items():
        setattr(enrollment, name, value)
    enrollment.eligibility_rules_version = enrollment.program.rules_version
    enrollment.evaluated_at = now


def _move(enrollment: Enrollment, to: str, *, reason: str, now: datetime) -> str:
    """Set the new status and what goes with it, after checking the move; returns the old."""
    old = enrollment.status
    if to not in Enrollment.ALLOWED.get(old, ()):
        raise TransitionNotAllowed(
            f"An enrollment that is {enrollment.get_status_display().lower()} cannot become "
            f"{Status(to).label.lower()}.",
            status=old,
        )
    enrollment.status = to
    enrollment.status_reason = reason[:250]
    enrollment.updated_at = now
    if to == Status.WAITLISTED:
        enrollment.waitlisted_at = now
    if to == Status.ACTIVE and enrollment.activated_at is None:
        enrollment.activated_at = now
    if to in (Status.WITHDRAWN, Status.ENDED):
        enrollment.ended_at = now
    if old == Status.SUSPENDED:
        enrollment.suspension_cause = ""
    return old


def _evaluate(enrollments: Sequence[Enrollment]) -> list[Evaluation]:
    return eligibility.evaluate_many([eligibility.candidate_for(e) for e in enrollments])


def _decide_and_apply(
    program: Program,
    enrollments: Sequence[Enrollment],
    *,
    now: datetime,
    action: str,
    admit: bool = False,
    note: str = "",
    **audit_actor: Any,
) -> list[tuple[Enrollment, str, str]]:
    """Evaluate ``enrollments`` (locked, of the locked ``program``), store the results and
    move each where ``decide`` says, counting seats as they fill. ``admit`` treats waitlisted
    ones as candidates for a seat (promotion); ``note`` (a staff comment) goes into the audit
    rows. Returns the (enrollment, from, to) moves."""
    if not enrollments:
        return []
    seats_left = _seats_left(program)
    evaluations = _evaluate(enrollments)
    moves: list[tuple[Enrollment, str, str]] = []
    events: list[AuditEvent] = []
    for enrollment, evaluation in zip(enrollments, evaluations, strict=True):
        _store_evaluation(enrollment, evaluation, now=now)
        status = enrollment.status
        if admit and status == Status.WAITLISTED:
            status = Status.SUBMITTED  # decide as a fresh candidate for the seat
        target, reason = decide(
            status=status,
            blocking=_blocking_failures(enrollment, evaluation),
            seat_free=seats_left is None or seats_left > 0,
        )
        if target is None or target == enrollment.status:
            if reason and enrollment.status == Status.ELIGIBILITY_REVIEW:
                enrollment.status_reason = reason[:250]
            continue
        old = _move(enrollment, target, reason=reason, now=now)
        moves.append((enrollment, old, target))
        if seats_left is not None:
            seats_left += _seat_delta(old, target)
        events.append(
            _audit_event(
                action=action,
                utility_id=enrollment.utility_id,
                obj=enrollment,
                from_state=old,
                to_state=target,
                comment=reason,
                changes={
                    "failed_rules": evaluation.failed_rules,
                    **({"note": note} if note else {}),
                },
                **audit_actor,
            )
        )
    bulk_update_rows(Enrollment, enrollments, [*_EVALUATION_FIELDS, *_TRANSITION_FIELDS])
    AuditEvent.objects.bulk_create(events, batch_size=500)
    return moves


def _seat_delta(old: str, new: str) -> int:
    """Seats freed (+) or taken (−) by a move."""
    held_before = old in Enrollment.SEAT_STATES
    held_after = new in Enrollment.SEAT_STATES
    return int(held_before) - int(held_after)


def _seats_left(program: Program) -> int | None:
    if program.enrollment_cap is None:
        return None
    taken = Enrollment.objects.filter(program=program, status__in=Enrollment.SEAT_STATES).count()
    return max(0, program.enrollment_cap - taken)


def _promote_waitlist(program: Program, *, now: datetime, **audit_actor: Any) -> int:
    """First in, first out: give free seats to waitlisted enrollments that still pass their
    rules (those that no longer pass go to review and the next in line is tried)."""
    promoted = 0
    while True:
        seats = _seats_left(program)
        if seats == 0:
            return promoted
        batch = list(
            _locked_enrollments()
            .filter(program=program, status=Status.WAITLISTED)
            .order_by("waitlisted_at", "id")[: seats or REEVALUATION_BATCH]
        )
        if not batch:
            return promoted
        for enrollment in batch:
            enrollment.program = program
        moves = _decide_and_apply(
            program, batch, now=now, action="enrollment.promoted", admit=True, **audit_actor
        )
        if not moves:  # nobody could move (cannot happen with a free seat; never spin)
            return promoted
        promoted += sum(1 for _, _, to in moves if to in Enrollment.SEAT_STATES)


# --- Locks and single transitions -----------------------------------------------------------


def _lock_program(program_id: int) -> Program:
    return (
        Program.objects.select_for_update(of=("self",)).select_related("utility").get(pk=program_id)
    )


def _locked_enrollments():
    return Enrollment.objects.select_for_update(of=("self",)).select_related(
        "service_account", "vehicle", "utility"
    )


def _lock(enrollment_id: int) -> tuple[Program, Enrollment]:
    """Lock the enrollment's program, then the enrollment (one order everywhere)."""
    program_id = (
        Enrollment.objects.filter(pk=enrollment_id).values_list("program_id", flat=True).first()
    )
    if program_id is None:
        raise EnrollmentNotFound("No such enrollment.")
    program = _lock_program(program_id)
    enrollment = _locked_enrollments().get(pk=enrollment_id)
    enrollment.program = program
    return program, enrollment


def _check_expected(enrollment: Enrollment, expected_status: str | None) -> None:
    if expected_status and enrollment.status != expected_status:
        raise StaleState(
            f"This enrollment changed while you were looking at it: it is now "
            f"{enrollment.get_status_display().lower()}. Nothing was done.",
            status=enrollment.status,
        )


def _save_transition(
    enrollment: Enrollment,
    to: str,
    *,
    action: str,
    reason: str,
    now: datetime,
    extra_fields: Sequence[str] = (),
    changes: dict[str, Any] | None = None,
    **audit_actor: Any,
) -> None:
    old = _move(enrollment, to, reason=reason, now=now)
    enrollment.save(update_fields=[*_TRANSITION_FIELDS, *extra_fields])
    record(
        action=action,
        utility=enrollment.utility,
        obj=enrollment,
        from_state=old,
        to_state=to,
        comment=reason,
        changes=changes,
        **audit_actor,
    )


def _required(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Give a reason to {what}."}, code="reason_required")
    return reason


def approve(
    *, enrollment: Enrollment, expected_status: str | None = None, comment: str = "", **audit_actor
) -> Enrollment:
    """Re-check an enrollment under review (or just submitted) and admit it when every rule
    passes now; failed rules need ``override`` and a reason."""
    now = timezone.now()
    with transaction.atomic():
        program, locked = _lock(enrollment.pk)
        _check_expected(locked, expected_status)
        if locked.status not in (Status.SUBMITTED, Status.ELIGIBILITY_REVIEW):
            raise TransitionNotAllowed(
                f"Only enrollments in review can be approved; this one is "
                f"{locked.get_status_display().lower()}.",
                status=locked.status,
            )
        evaluation = _evaluate([locked])[0]
        blocking = _blocking_failures(locked, evaluation) - {Rule.PERMISSION_TO_OPERATE}
        if blocking:
            raise RulesFailed(
                f"It still fails: {', '.join(sorted(blocking))}. Override with a reason to "
                "approve it anyway.",
                failed_rules=sorted(blocking),
            )
        _decide_and_apply(
            program, [locked], now=now, action="enrollment.approved", note=comment, **audit_actor
        )
    return locked


def override(
    *, enrollment: Enrollment, reason: str, expected_status: str | None = None, **audit_actor
) -> Enrollment:
    """Approve despite failed rules, for a stated reason (kept on the enrollment and in the
    audit trail). The cap still applies (no seat: waitlisted), and a missing PTO is never
    overridden (admitted, but awaiting interconnection)."""
    reason = _required(reason, "override the failed rules")
    now = timezone.now()
    with transaction.atomic():
        program, locked = _lock(enrollment.pk)
        _check_expected(locked, expected_status)
        if locked.status not in (Status.SUBMITTED, Status.ELIGIBILITY_REVIEW):
            raise TransitionNotAllowed(
                f"Only enrollments in review can be overridden; this one is "
                f"{locked.get_status_display().lower()}.",
                status=locked.status,
            )
        evaluation = _evaluate([locked])[0]
        overridden = sorted(set(evaluation.failed_rules) - NOT_OVERRIDABLE)
        locked.overridden_rules = overridden
        locked.override_reason = reason
        locked.override_by = audit_actor.get("actor")
        locked.save(
            update_fields=["overridden_rules", "override_reason", "override_by", "updated_at"]
        )
        record(
            action="enrollment.overridden",
            utility=locked.utility,
            obj=locked,
            from_state=locked.status,
            comment=reason,
            changes={"overridden_rules": overridden},
            **audit_actor,
        )
        _decide_and_apply(program, [locked], now=now, action="enrollment.approved", **audit_actor)
    return locked


def suspend(
    *, enrollment: Enrollment, reason: str, expected_status: str | None = None, **audit_actor
) -> Enrollment:
    """Staff suspend an active enrollment; it keeps its seat until reinstated or ended."""
    reason = _required(reason, "suspend it")
    with transaction.atomic():
        _, locked = _lock(enrollment.pk)
        _check_expected(locked, expected_status)
        locked.suspension_cause = Cause.STAFF
        _save_transition(
            locked, Status.SUSPENDED, action="enrollment.suspended", reason=reason,
            now=timezone.now(), **audit_actor,
        )  # fmt: skip
    return locked


def reinstate(
    *, enrollment: Enrollment, reason: str = "", expected_status: str | None = None, **audit_actor
) -> Enrollment:
    """Bring a suspended enrollment back: it needs a current consent, an active agreement
    with its partner, and rules that (still) pass."""
    now = timezone.now()
    with transaction.atomic():
        _, locked = _lock(enrollment.pk)
        _check_expected(locked, expected_status)
        if locked.status != Status.SUSPENDED:
            raise TransitionNotAllowed(
                f"Only suspended enrollments can be reinstated; this one is "
                f"{locked.get_status_display().lower()}.",
                status=locked.status,
            )
        if not has_current_consent(locked, now=now):
            raise RulesFailed("The customer's consent has expired; it must be renewed first.")
        if (
            locked.partner_id
            and not PartnerAgreement.objects.filter(
                partner_id=locked.partner_id, status=PartnerAgreement.Status.ACTIVE
            ).exists()
        ):
            raise RulesFailed("The automaker's agreement with this utility is not active.")
        evaluation = _evaluate([locked])[0]
        _store_evaluation(locked, evaluation, now=now)
        blocking = _blocking_failures(locked, evaluation)
        if blocking:
            raise RulesFailed(
                f"It fails: {', '.join(sorted(blocking))}. Fix that, or end the enrollment.",
                failed_rules=sorted(blocking),
            )
        _save_transition(
            locked, Status.ACTIVE, action="enrollment.reinstated",
            reason=reason.strip() or "Reinstated.", now=now, extra_fields=_EVALUATION_FIELDS,
            **audit_actor,
        )  # fmt: skip
    return locked


def withdraw(
    *, enrollment: Enrollment, reason: str = "", expected_status: str | None = None, **audit_actor
) -> tuple[Enrollment, bool]:
    """The customer leaves (through their automaker, or staff on their behalf). Withdrawing
    twice is harmless: the second time changes nothing and returns False. A freed seat goes
    to the waitlist."""
    return _finish(
        enrollment=enrollment,
        to=Status.WITHDRAWN,
        action="enrollment.withdrawn",
        reason=reason.strip() or "Withdrawn by the customer.",
        expected_status=expected_status,
        **audit_actor,
    )


def end(
    *, enrollment: Enrollment, reason: str, expected_status: str | None = None, **audit_actor
) -> Enrollment:
    """Staff end an enrollment (program over, customer moved, ...). A freed seat goes to the
    waitlist."""
    reason = _required(reason, "end it")
    ended, _ = _finish(
        enrollment=enrollment,
        to=Status.ENDED,
        action="enrollment.ended",
        reason=reason,
        expected_status=expected_status,
        **audit_actor,
    )
    return ended


def _finish(
    *, enrollment: Enrollment, to: str, action: str, reason: str, expected_status, **audit_actor
) -> tuple[Enrollment, bool]:
    now = timezone.now()
    with transaction.atomic():
        program, locked = _lock(enrollment.pk)
        _check_expected(locked, expected_status)
        if locked.status == to:
            return locked, False
        _save_transition(locked, to, action=action, reason=reason, now=now, **audit_actor)
        Consent.objects.filter(enrollment=locked, revoked_at__isnull=True).update(revoked_at=now)
        _promote_waitlist(program, now=now)
    return locked, True


# --- Bulk paths ---------------------------------------------------------------------------


@dataclass
class ReevaluationReport:
    evaluated: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    promoted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"evaluated": self.evaluated, "moved": self.moved, "promoted": self.promoted}


def reevaluate_program(
    *, program_id: int, batch_size: int = REEVALUATION_BATCH, now: datetime | None = None
) -> ReevaluationReport:
    """Re-check every open enrollment evaluated under an older rules version, a batch at a
    time (each batch its own transaction, so a long run never holds the program for long),
    then promote the waitlist. Idempotent: a second run finds nothing stale."""
    report = ReevaluationReport()
    last_id = 0
    while True:
        with transaction.atomic():
            program = _lock_program(program_id)
            batch = list(
                _locked_enrollments()
                .filter(
                    program=program,
                    status__in=Enrollment.OPEN_STATES,
                    eligibility_rules_version__lt=program.rules_version,
                    pk__gt=last_id,
                )
                .order_by("pk")[:batch_size]
            )
            if not batch:
                report.promoted = _promote_waitlist(program, now=now or timezone.now())
                return report
            for enrollment in batch:
                enrollment.program = program
            moves = _decide_and_apply(
                program, batch, now=now or timezone.now(), action="enrollment.reevaluated"
            )
            report.evaluated += len(batch)
            for _, _, to in moves:
                report.moved[to] = report.moved.get(to, 0) + 1
            last_id = batch[-1].pk


def reevaluate_accounts(
    *,
    service_account_ids: Collection[int],
    now: datetime,
    action: str = "enrollment.reevaluated",
    **audit_actor: Any,
) -> int:
    """Re-evaluate every open enrollment at these service accounts after one of eligibility's
    inputs changed there (interconnection PTO granted or revoked, equipment, account data),
    program by program in the usual lock order (program, then enrollments), so each stored
    result is current and each enrollment moves exactly as a re-evaluation would (an
    enrollment waiting for PTO becomes active; an active one whose PTO was revoked goes to
    review). Returns how many moved."""
    program_ids = sorted(
        set(
            Enrollment.objects.filter(
                service_account_id__in=list(service_account_ids),
                status__in=Enrollment.OPEN_STATES,
            ).values_list("program_id", flat=True)
        )
    )
    moved = 0
    for program_id in program_ids:
        with transaction.atomic():
            program = _lock_program(program_id)
            batch = list(
                _locked_enrollments()
                .filter(
                    program=program,
                    service_account_id__in=list(service_account_ids),
                    status__in=Enrollment.OPEN_STATES,
                )
                .order_by("pk")
            )
            for enrollment in batch:
                enrollment.program = program
            moves = _decide_and_apply(program, batch, now=now, action=action, **audit_actor)
            moved += len(moves)
            if any(
                old in Enrollment.SEAT_STATES and to not in Enrollment.SEAT_STATES
                for _, old, to in moves
            ):
                _promote_waitlist(program, now=now, **audit_actor)
    return moved


def expire_consents(*, now: datetime | None = None) -> list[int]:
    """Suspend active enrollments (of the scope's utility) whose consent has run out: no
    consent that is neither revoked nor expired. Returns their ids."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            _locked_enrollments()
            .filter(status=Status.ACTIVE)
            .exclude(current_consent_exists(now))
            .order_by("pk")
        )
        _bulk_move(
            expired,
            Status.SUSPENDED,
            action="enrollment.consent_expired",
            reason="Consent expired; the customer must renew it.",
            cause=Cause.CONSENT_EXPIRED,
            now=now,
        )
    return [e.pk for e in expired]


@dataclass
class OffboardingReport:
    suspended: list[Enrollment]
    withdrawn: list[Enrollment]


def offboard_partner(*, agreement: PartnerAgreement, **audit_actor: Any) -> OffboardingReport:
    """When a partner's agreement with the utility ends: its active enrollments there are
    suspended (they keep their seat and come back with ``reinstate`` if the partner does),
    and those not yet admitted — submitted, in review, waitlisted or awaiting
    interconnection — are withdrawn, since nothing can carry them any more. Idempotent."""
    now = timezone.now()
    with transaction.atomic():
        affected = Enrollment.objects.filter(
            utility_id=agreement.utility_id,
            partner_id=agreement.partner_id,
            status__in=Enrollment.OPEN_STATES,
        )
        # Programs first, then enrollments: the lock order of every transition.
        programs = [
            _lock_program(pk)
            for pk in sorted(set(affected.order_by().values_list("program_id", flat=True)))
        ]
        mine = _locked_enrollments().filter(
            utility_id=agreement.utility_id, partner_id=agreement.partner_id
        )
        active = list(mine.filter(status=Status.ACTIVE).order_by("pk"))
        pending = list(
            mine.filter(
                status__in=[
                    Status.SUBMITTED,
                    Status.ELIGIBILITY_REVIEW,
                    Status.WAITLISTED,
                    Status.AWAITING_INTERCONNECTION,
                ]
            ).order_by("pk")
        )
        reason = f"{agreement.partner.name}'s agreement with the utility ended."
        _bulk_move(
            active, Status.SUSPENDED, action="enrollment.offboarded", reason=reason,
            cause=Cause.PARTNER_OFFBOARDED, now=now, **audit_actor,
        )  # fmt: skip
        _bulk_move(
            pending, Status.WITHDRAWN, action="enrollment.offboarded", reason=reason, now=now,
            **audit_actor,
        )  # fmt: skip
        Consent.objects.filter(
            enrollment__in=[e.pk for e in pending], revoked_at__isnull=True
        ).update(revoked_at=now)
        for program in programs:
            _promote_waitlist(program, now=now)
    return OffboardingReport(suspended=active, withdrawn=pending)


def _bulk_move(
    enrollments: Sequence[Enrollment],
    to: str,
    *,
    action: str,
    reason: str,
    now: datetime,
    cause: str = "",
    **audit_actor: Any,
) -> None:
    events = []
    for enrollment in enrollments:
        old = _move(enrollment, to, reason=reason, now=now)
        if cause:
            enrollment.suspension_cause = cause
        events.append(
            _audit_event(
                action=action,
                utility_id=enrollment.utility_id,
                obj=enrollment,
                from_state=old,
                to_state=to,
                comment=reason,
                **audit_actor,
            )
        )
    bulk_update_rows(Enrollment, enrollments, _TRANSITION_FIELDS)
    AuditEvent.objects.bulk_create(events, batch_size=500)


def _audit_event(
    *,
    action: str,
    utility_id: int,
    obj: Enrollment,
    actor: User | None = None,
    client_id: str = "",
    partner_name: str = "",
    from_state: str = "",
    to_state: str = "",
    comment: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """An unsaved audit row, as ``portal.audit.record`` would write it, for bulk_create."""
    return AuditEvent(
        utility_id=utility_id,
        actor_user=actor if actor is not None and actor.is_authenticated else None,
        actor_client_id=client_id,
        actor_label=actor_label(user=actor, client_id=client_id, partner_name=partner_name),
        action=action,
        object_type=Enrollment._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:254],
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        changes=changes or {},
        request_id=get_request_id(),
    )


# --- Staff submissions and bulk page actions ----------------------------------------------------


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def bulk_review(
    *, enrollment_ids: Iterable[int], action: str, reason: str, **audit_actor: Any
) -> BulkResult:
    """Approve (``action="approve"``) or override (``"override"``, reason required) each
    selected enrollment on its own, so one refusal does not undo the others."""
    if action == "override":
        _required(reason, "override the failed rules")
    result = BulkResult()
    enrollments = {
        e.pk: e for e in Enrollment.objects.filter(pk__in=list(enrollment_ids)).only("pk")
    }
    for pk in sorted(enrollments):
        try:
            if action == "override":
                override(enrollment=enrollments[pk], reason=reason, **audit_actor)
            else:
                approve(enrollment=enrollments[pk], comment=reason, **audit_actor)
        except EnrollmentError as exc:
            result.refused[pk] = exc.message
        else:
            result.done.append(pk)
    return result
