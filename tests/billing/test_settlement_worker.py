"""A settlement run on a real Celery worker, killed (SIGKILL) mid-run and replaced: no line
is lost and none is written twice, and the run completes exactly once."""

from __future__ import annotations

import os
import signal
from decimal import Decimal

import pytest
from django_scopes import scope, scopes_disabled

from billing.models import SettlementChunk, SettlementLine, SettlementRun
from billing.services import settlement
from portal.audit import history_of
from tests.billing import settle_support as s
from tests.worker import celery_worker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ENROLLMENTS = 48
CHUNK = 4


@pytest.fixture
def program(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a)
    for i in range(ENROLLMENTS):
        enrollment = s.enrolled(program, customer_name=f"Worker Customer {i}")
        s.managed_session(enrollment.vehicle, 10)
        s.house_load(enrollment.service_account, ev=enrollment.vehicle)
    return program


def _chunks(run) -> dict[str, int]:
    with scopes_disabled():
        done = SettlementChunk.objects.filter(run=run, status="done").count()
        return {"done": done, "pending": SettlementChunk.objects.filter(run=run).count() - done}


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(program, utility_a):
    with celery_worker(name="doomed") as doomed:
        with scope(utility=utility_a.pk):
            run = settlement.start_run(
                program=program, period_start=s.JULY, actor=None, chunk_size=CHUNK
            )
        wait_for(
            lambda: _chunks(run)["done"] >= 2,
            timeout=60,
            message=f"no chunk done:\n{doomed.log_path.read_text()[-3000:]}",
        )
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()

    at_kill = _chunks(run)
    assert at_kill["pending"] > 0, "the worker finished before it could be killed"
    with scopes_disabled():
        assert SettlementRun.objects.get(pk=run.pk).status == SettlementRun.Status.RUNNING
        lines_at_kill = SettlementLine.objects.filter(run=run).count()
    # Lines exist only for the chunks marked done: a chunk cut off mid-way left nothing.
    assert lines_at_kill == at_kill["done"] * CHUNK

    with celery_worker(name="successor") as successor:
        # The killed worker's unacknowledged message is not redelivered before the broker's
        # visibility timeout; resuming (beat's job, or the page's button) sends the pending
        # chunks again — next to the messages still queued, so some chunks get two.
        with scope(utility=utility_a.pk):
            resent = settlement.resume_run(run_id=run.pk, actor=None)
        assert resent == at_kill["pending"]
        wait_for(
            lambda: _chunks(run)["pending"] == 0 and _status(run) == "draft",
            timeout=120,
            message=f"{_chunks(run)}\n{successor.log_path.read_text()[-3000:]}",
        )

    with scopes_disabled():
        run.refresh_from_db()
        lines = SettlementLine.objects.filter(run=run)
        assert lines.count() == ENROLLMENTS
        assert lines.values("enrollment").distinct().count() == ENROLLMENTS
        assert set(lines.values_list("bill_savings", flat=True)) == {Decimal("8.40")}
        assert Decimal(run.totals["bill_savings"]) == Decimal("8.40") * ENROLLMENTS
        assert run.totals["lines"] == ENROLLMENTS
        assert (
            list(history_of(run).values_list("action", flat=True)).count("settlement.computed") == 1
        )


def _status(run) -> str:
    with scopes_disabled():
        return SettlementRun.objects.values_list("status", flat=True).get(pk=run.pk)
