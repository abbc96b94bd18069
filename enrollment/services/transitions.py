"""Staff and customer actions on one enrollment: approve, override, suspend, reinstate,
withdraw and end, and the review page's bulk approve/override.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from enrollment.eligibility import Rule
from enrollment.models import Consent, Enrollment
from enrollment.services.consent import has_current_consent
from enrollment.services.decisions import (
    EVALUATION_FIELDS,
    blocking_failures,
    check_expected,
    decide_and_apply,
    evaluate,
    lock_enrollment,
    promote_waitlist,
    required_reason,
    save_transition,
    store_evaluation,
)
from enrollment.services.errors import EnrollmentError, RulesFailed, TransitionNotAllowed
from portal.audit import record
from portal.models import PartnerAgreement

Status = Enrollment.Status
Cause = Enrollment.SuspensionCause

# Rules staff cannot approve away: running V2H/V2G without interconnection approval is a
# safety and legal question, not a program decision.
NOT_OVERRIDABLE = frozenset({Rule.PERMISSION_TO_OPERATE})


def approve(
    *, enrollment: Enrollment, expected_status: str | None = None, comment: str = "", **audit_actor
) -> Enrollment:
    """Re-check an enrollment under review (or just submitted) and admit it when every rule
    passes now; failed rules need ``override`` and a reason."""
    now = timezone.now()
    with transaction.atomic():
        program, locked = lock_enrollment(enrollment.pk)
        check_expected(locked, expected_status)
        if locked.status not in (Status.SUBMITTED, Status.ELIGIBILITY_REVIEW):
            raise TransitionNotAllowed(
                f"Only enrollments in review can be approved; this one is "
                f"{locked.get_status_display().lower()}.",
                status=locked.status,
            )
        evaluation = evaluate([locked])[0]
        blocking = blocking_failures(locked, evaluation) - {Rule.PERMISSION_TO_OPERATE}
        if blocking:
            raise RulesFailed(
                f"It still fails: {', '.join(sorted(blocking))}. Override with a reason to "
                "approve it anyway.",
                failed_rules=sorted(blocking),
            )
        decide_and_apply(
            program, [locked], now=now, action="enrollment.approved", note=comment, **audit_actor
        )
    return locked


def override(
    *, enrollment: Enrollment, reason: str, expected_status: str | None = None, **audit_actor
) -> Enrollment:
    """Approve despite failed rules, for a stated reason (kept on the enrollment and in the
    audit trail). The cap still applies (no seat: waitlisted), and a missing PTO is never
    overridden (admitted, but awaiting interconnection)."""
    reason = required_reason(reason, "override the failed rules")
    now = timezone.now()
    with transaction.atomic():
        program, locked = lock_enrollment(enrollment.pk)
        check_expected(locked, expected_status)
        if locked.status not in (Status.SUBMITTED, Status.ELIGIBILITY_REVIEW):
            raise TransitionNotAllowed(
                f"Only enrollments in review can be overridden; this one is "
                f"{locked.get_status_display().lower()}.",
                status=locked.status,
            )
        evaluation = evaluate([locked])[0]
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
        decide_and_apply(program, [locked], now=now, action="enrollment.approved", **audit_actor)
    return locked


def suspend(
    *, enrollment: Enrollment, reason: str, expected_status: str | None = None, **audit_actor
) -> Enrollment:
    """Staff suspend an active enrollment; it keeps its seat until reinstated or ended."""
    reason = required_reason(reason, "suspend it")
    with transaction.atomic():
        _, locked = lock_enrollment(enrollment.pk)
        check_expected(locked, expected_status)
        locked.suspension_cause = Cause.STAFF
        save_transition(
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
        _, locked = lock_enrollment(enrollment.pk)
        check_expected(locked, expected_status)
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
        evaluation = evaluate([locked])[0]
        store_evaluation(locked, evaluation, now=now)
        blocking = blocking_failures(locked, evaluation)
        if blocking:
            raise RulesFailed(
                f"It fails: {', '.join(sorted(blocking))}. Fix that, or end the enrollment.",
                failed_rules=sorted(blocking),
            )
        save_transition(
            locked, Status.ACTIVE, action="enrollment.reinstated",
            reason=reason.strip() or "Reinstated.", now=now, extra_fields=EVALUATION_FIELDS,
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
    reason = required_reason(reason, "end it")
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
        program, locked = lock_enrollment(enrollment.pk)
        check_expected(locked, expected_status)
        if locked.status == to:
            return locked, False
        save_transition(locked, to, action=action, reason=reason, now=now, **audit_actor)
        Consent.objects.filter(enrollment=locked, revoked_at__isnull=True).update(revoked_at=now)
        promote_waitlist(program, now=now)
    return locked, True


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
        required_reason(reason, "override the failed rules")
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
