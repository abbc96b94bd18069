"""How enrollments move: the decision after an evaluation, the locks, single and bulk moves,
waitlist promotion and the audit rows — the machinery every enrollment service shares.

Every transition locks the program row and then the enrollment row (always in that order,
so two transitions never deadlock), checks the move against ``Enrollment.ALLOWED``, saves
only the fields it changed and appends an audit row with from → to and the reason. The
program lock also serializes seat counting, so two submissions can never both take the last
seat. Paths that move many enrollments at once (re-evaluation, promotion, consent expiry,
offboarding) write with ``bulk_update`` and ``bulk_create`` the audit rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from enrollment import eligibility
from enrollment.eligibility import Evaluation, Rule
from enrollment.models import Enrollment, Program
from enrollment.services.errors import EnrollmentNotFound, StaleState, TransitionNotAllowed
from portal import audit, transitions
from portal.audit import record
from portal.bulk import bulk_update_rows
from portal.models import AuditEvent

Status = Enrollment.Status

REEVALUATION_BATCH = 1000


def blocking_failures(enrollment: Enrollment, evaluation: Evaluation) -> set[str]:
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


EVALUATION_FIELDS = (
    "eligibility",
    "failed_rules",
    "eligibility_rules_version",
    "evaluated_at",
    "income_qualified",
    "excluded_from_events",
)
TRANSITION_FIELDS = (
    "status",
    "status_reason",
    "waitlisted_at",
    "activated_at",
    "ended_at",
    "suspension_cause",
    "updated_at",
)


def store_evaluation(enrollment: Enrollment, evaluation: Evaluation, *, now: datetime) -> None:
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
    old = transitions.check_move(
        enrollment,
        to=to,
        allowed=Enrollment.ALLOWED,
        noun="an enrollment",
        error=TransitionNotAllowed,
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


def evaluate(enrollments: Sequence[Enrollment]) -> list[Evaluation]:
    return eligibility.evaluate_many([eligibility.candidate_for(e) for e in enrollments])


def decide_and_apply(
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
    evaluations = evaluate(enrollments)
    moves: list[tuple[Enrollment, str, str]] = []
    events: list[AuditEvent] = []
    for enrollment, evaluation in zip(enrollments, evaluations, strict=True):
        store_evaluation(enrollment, evaluation, now=now)
        status = enrollment.status
        if admit and status == Status.WAITLISTED:
            status = Status.SUBMITTED  # decide as a fresh candidate for the seat
        target, reason = decide(
            status=status,
            blocking=blocking_failures(enrollment, evaluation),
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
            audit.build(
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
    bulk_update_rows(Enrollment, enrollments, [*EVALUATION_FIELDS, *TRANSITION_FIELDS])
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


def promote_waitlist(program: Program, *, now: datetime, **audit_actor: Any) -> int:
    """First in, first out: give free seats to waitlisted enrollments that still pass their
    rules (those that no longer pass go to review and the next in line is tried)."""
    promoted = 0
    while True:
        seats = _seats_left(program)
        if seats == 0:
            return promoted
        batch = list(
            locked_enrollments()
            .filter(program=program, status=Status.WAITLISTED)
            .order_by("waitlisted_at", "id")[: seats or REEVALUATION_BATCH]
        )
        if not batch:
            return promoted
        for enrollment in batch:
            enrollment.program = program
        moves = decide_and_apply(
            program, batch, now=now, action="enrollment.promoted", admit=True, **audit_actor
        )
        if not moves:  # nobody could move (cannot happen with a free seat; never spin)
            return promoted
        promoted += sum(1 for _, _, to in moves if to in Enrollment.SEAT_STATES)


def lock_program(program_id: int) -> Program:
    return (
        Program.objects.select_for_update(of=("self",)).select_related("utility").get(pk=program_id)
    )


def locked_enrollments():
    return Enrollment.objects.select_for_update(of=("self",)).select_related(
        "service_account", "vehicle", "utility"
    )


def lock_enrollment(enrollment_id: int) -> tuple[Program, Enrollment]:
    """Lock the enrollment's program, then the enrollment (one order everywhere)."""
    program_id = (
        Enrollment.objects.filter(pk=enrollment_id).values_list("program_id", flat=True).first()
    )
    if program_id is None:
        raise EnrollmentNotFound("No such enrollment.")
    program = lock_program(program_id)
    enrollment = locked_enrollments().get(pk=enrollment_id)
    enrollment.program = program
    return program, enrollment


def check_expected(enrollment: Enrollment, expected_status: str | None) -> None:
    transitions.check_expected(
        enrollment, expected=expected_status, noun="enrollment", error=StaleState
    )


def save_transition(
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
    enrollment.save(update_fields=[*TRANSITION_FIELDS, *extra_fields])
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


def required_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Give a reason to {what}."}, code="reason_required")
    return reason


def bulk_move(
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
            audit.build(
                action=action,
                utility_id=enrollment.utility_id,
                obj=enrollment,
                from_state=old,
                to_state=to,
                comment=reason,
                **audit_actor,
            )
        )
    bulk_update_rows(Enrollment, enrollments, TRANSITION_FIELDS)
    AuditEvent.objects.bulk_create(events, batch_size=500)
