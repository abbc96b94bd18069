"""Re-evaluation in bulk: a program's open enrollments after its rules changed, and the
open enrollments at service accounts after one of eligibility's inputs changed there.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from enrollment.models import Enrollment
from enrollment.services.decisions import (
    REEVALUATION_BATCH,
    decide_and_apply,
    lock_program,
    locked_enrollments,
    promote_waitlist,
)
from enrollment.services.programs import bump_rules_version
from portal.tasking import enqueue_on_commit


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
            program = lock_program(program_id)
            batch = list(
                locked_enrollments()
                .filter(
                    program=program,
                    status__in=Enrollment.OPEN_STATES,
                    eligibility_rules_version__lt=program.rules_version,
                    pk__gt=last_id,
                )
                .order_by("pk")[:batch_size]
            )
            if not batch:
                report.promoted = promote_waitlist(program, now=now or timezone.now())
                return report
            for enrollment in batch:
                enrollment.program = program
            moves = decide_and_apply(
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
            program = lock_program(program_id)
            batch = list(
                locked_enrollments()
                .filter(
                    program=program,
                    service_account_id__in=list(service_account_ids),
                    status__in=Enrollment.OPEN_STATES,
                )
                .order_by("pk")
            )
            for enrollment in batch:
                enrollment.program = program
            moves = decide_and_apply(program, batch, now=now, action=action, **audit_actor)
            moved += len(moves)
            if any(
                old in Enrollment.SEAT_STATES and to not in Enrollment.SEAT_STATES
                for _, old, to in moves
            ):
                promote_waitlist(program, now=now, **audit_actor)
    return moved


ACCOUNTS_PER_TASK = 1_000


def inputs_changed(*, utility_id: int, service_account_ids: Collection[int] | None) -> None:
    """One of eligibility's inputs changed outside enrollment: at these service accounts (a
    vehicle's make, model or account; an account's data), or for the whole utility (its
    approved equipment list: ``None``). Re-evaluate after the change commits, on a worker,
    so a large import or a list edit never holds the page."""
    from enrollment.tasks import reevaluate_accounts as reevaluate_task

    if service_account_ids is None:
        # In the utility's own scope whatever the caller's (the admin site runs unscoped).
        with scope(utility=utility_id):
            program_ids = (
                Enrollment.objects.filter(status__in=Enrollment.OPEN_STATES)
                .values_list("program_id", flat=True)
                .distinct()
            )
            bump_rules_version(program_ids=list(program_ids), reevaluate=True)
        return
    ids = sorted(set(service_account_ids))
    for start in range(0, len(ids), ACCOUNTS_PER_TASK):
        enqueue_on_commit(
            reevaluate_task,
            utility_id=utility_id,
            service_account_ids=ids[start : start + ACCOUNTS_PER_TASK],
        )
