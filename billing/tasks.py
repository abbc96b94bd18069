"""Celery tasks of the billing app.

Settlement: ``billing.settle_chunk`` computes one chunk of a run (ids in, idempotent — see
``services.settlement.compute_chunk``); ``billing.resume_settlement_runs`` (beat, every few
minutes) sends again the chunks of runs that have not moved for a while, e.g. after a worker
was killed before it could acknowledge its message.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Max, Q
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from billing.models import SettlementChunk, SettlementRun
from billing.services import settlement
from portal.celery import app
from portal.tasking import PlatformTask, TenantTask

# A computing run whose chunks have not moved for this long is resumed.
STALLED_AFTER = timedelta(minutes=10)


@app.task(bind=True, base=TenantTask, name="billing.settle_chunk")
def settle_chunk(self, *, utility_id: int, chunk_id: int) -> bool:
    try:
        return settlement.compute_chunk(chunk_id=chunk_id)
    except SettlementChunk.DoesNotExist:  # another utility's chunk, or a deleted run
        return False


@app.task(bind=True, base=PlatformTask, name="billing.resume_settlement_runs")
def resume_settlement_runs(self) -> int:
    now = timezone.now()
    resumed = 0
    with scopes_disabled():
        stalled = (
            SettlementRun.objects.filter(status=SettlementRun.Status.RUNNING)
            .annotate(moved=Max("chunks__done_at"), tried=Max("chunks__started_at"))
            .filter(created_at__lt=now - STALLED_AFTER)
            .filter(Q(moved__isnull=True) | Q(moved__lt=now - STALLED_AFTER))
            .filter(Q(tried__isnull=True) | Q(tried__lt=now - STALLED_AFTER))
            .values_list("pk", "utility_id")
        )
        for run_id, utility_id in stalled:
            with scope(utility=utility_id):
                resumed += settlement.resume_run(run_id=run_id, actor=None)
    return resumed
