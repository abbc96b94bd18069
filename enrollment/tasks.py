"""Celery tasks of enrollment (autodiscovered). Tenant tasks take ``utility_id`` (the scope)
and ids; all are idempotent, so a redelivered message does no harm: a re-evaluation finds
nothing stale the second time, an expired consent suspends an enrollment once."""

from __future__ import annotations

from django.utils import timezone
from django_scopes import scopes_disabled

from enrollment import services
from enrollment.models import Enrollment
from enrollment.services import reevaluation
from portal.celery import app
from portal.tasking import PlatformTask, TenantTask

__all__ = [
    "expire_consents",
    "expire_consents_everywhere",
    "reevaluate_accounts",
    "reevaluate_program",
]


@app.task(bind=True, base=TenantTask, name="enrollment.reevaluate_program")
def reevaluate_program(self, *, utility_id: int, program_id: int) -> dict:
    """After a program's eligibility rules (or cap) changed: re-check its open enrollments
    in bulk and promote its waitlist."""
    return services.reevaluate_program(program_id=program_id).as_dict()


@app.task(bind=True, base=TenantTask, name="enrollment.reevaluate_accounts")
def reevaluate_accounts(self, *, utility_id: int, service_account_ids: list[int]) -> int:
    """After eligibility's inputs changed at these accounts (equipment, account data):
    re-check their open enrollments; returns how many moved."""
    return reevaluation.reevaluate_accounts(
        service_account_ids=service_account_ids, now=timezone.now()
    )


@app.task(bind=True, base=TenantTask, name="enrollment.expire_consents")
def expire_consents(self, *, utility_id: int) -> dict:
    """Suspend the utility's active enrollments whose consent ran out (run daily by beat
    through ``expire_consents_everywhere``). Those due for renewal within 30 days are listed
    on each program's page."""
    suspended = services.expire_consents(now=timezone.now())
    return {"suspended": len(suspended)}


@app.task(bind=True, base=PlatformTask, name="enrollment.expire_consents_everywhere")
def expire_consents_everywhere(self) -> int:
    """Fan out ``expire_consents`` to every utility with active enrollments."""
    with scopes_disabled():  # ids only, across utilities, on purpose
        utility_ids = sorted(
            set(
                Enrollment.objects.filter(status=Enrollment.Status.ACTIVE)
                .order_by()
                .values_list("utility_id", flat=True)
                .distinct()
            )
        )
    for utility_id in utility_ids:
        expire_consents.delay(utility_id=utility_id)
    return len(utility_ids)
