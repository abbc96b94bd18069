"""Partner offboarding: what happens to a partner's enrollments when its agreement with the
utility ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from enrollment.models import Consent, Enrollment
from enrollment.services.decisions import (
    bulk_move,
    lock_program,
    locked_enrollments,
    promote_waitlist,
)
from portal.models import PartnerAgreement

Status = Enrollment.Status
Cause = Enrollment.SuspensionCause


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
            lock_program(pk)
            for pk in sorted(set(affected.order_by().values_list("program_id", flat=True)))
        ]
        mine = locked_enrollments().filter(
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
        bulk_move(
            active, Status.SUSPENDED, action="enrollment.offboarded", reason=reason,
            cause=Cause.PARTNER_OFFBOARDED, now=now, **audit_actor,
        )  # fmt: skip
        bulk_move(
            pending, Status.WITHDRAWN, action="enrollment.offboarded", reason=reason, now=now,
            **audit_actor,
        )  # fmt: skip
        Consent.objects.filter(
            enrollment__in=[e.pk for e in pending], revoked_at__isnull=True
        ).update(revoked_at=now)
        for program in programs:
            promote_waitlist(program, now=now)
    return OffboardingReport(suspended=active, withdrawn=pending)
