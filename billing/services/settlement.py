"""Settlement runs: start (or re-run as a new version), chunked computation, the review
state machine (draft → reviewed → approved → exported), disputes on lines.

Each transition locks the run, checks the move against ``SettlementRun.ALLOWED`` and the
state the page showed, saves with ``update_fields`` and writes an audit row. Chunks are
computed by ``billing.tasks.settle_chunk`` (``compute_chunk`` here); the last chunk to finish
moves the run from computing to draft by compare-and-set.
"""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from billing.impact.period import Month
from billing.models import SettlementChunk, SettlementDispute, SettlementLine, SettlementRun
from billing.services import errors
from billing.services.impact import compute_lines, enrollments_in_month
from enrollment.models import Program
from portal import audit
from portal.models import User
from portal.tasking import enqueue_on_commit
from portal.transitions import check_expected, check_move

Status = SettlementRun.Status
CHUNK_SIZE = 500
# The sums a run keeps in ``totals`` when computed (money as strings, exact).
TOTAL_FIELDS = (
    "bill_program", "bill_counterfactual", "bill_savings", "v2h_avoided", "v2g_credit",
    "incentives_earned", "bill_credit", "payout", "net_benefit",
)  # fmt: skip


def _enqueue(run: SettlementRun, chunk_ids) -> None:
    from billing.tasks import settle_chunk  # tasks import this module

    for chunk_id in chunk_ids:
        enqueue_on_commit(settle_chunk, utility_id=run.utility_id, chunk_id=chunk_id)


def month_start(*, year: int, month: int, today: date) -> date:
    """The first day of a settleable month: a whole month that has ended."""
    try:
        first = date(year, month, 1)
    except ValueError:
        raise errors.InvalidPeriod("Choose a month between 1 and 12.") from None
    if first > today.replace(day=1) or first == today.replace(day=1):
        raise errors.InvalidPeriod("Only a month that has ended can be settled.")
    return first


def start_run(
    *,
    program: Program,
    period_start: date,
    actor: User | None,
    chunk_size: int = CHUNK_SIZE,
    send_to_workers: bool = True,
) -> SettlementRun:
    """A new version of the program's settlement for the month (version 1, or the latest
    + 1 with ``previous`` pointing at it), its enrollments split into chunks for workers
    (``send_to_workers=False``: the caller computes them with ``compute_chunk`` — the demo
    seed and the benchmark, which run without a worker)."""
    if period_start.day != 1:
        raise errors.InvalidPeriod("A settlement period starts on the first of a month.")
    month = Month.of(period_start, program.utility.tzinfo)
    with transaction.atomic():
        Program.objects.select_for_update().get(pk=program.pk)  # one start at a time
        runs = SettlementRun.objects.filter(program=program, period_start=period_start)
        if runs.filter(status=Status.RUNNING).exists():
            raise errors.RunInProgress(
                "A run of this program and month is still computing; wait for it to finish."
            )
        previous = runs.order_by("-version").first()
        ids = list(enrollments_in_month(program, month).values_list("pk", flat=True))
        run = SettlementRun.objects.create(
            utility=program.utility,
            program=program,
            period_start=period_start,
            version=(previous.version + 1) if previous else 1,
            previous=previous,
            chunk_size=chunk_size,
            enrollment_count=len(ids),
            created_by=actor,
        )
        chunks = SettlementChunk.objects.bulk_create(
            SettlementChunk(utility=program.utility, run=run, index=i, enrollment_ids=ids[at:at + chunk_size])
            for i, at in enumerate(range(0, len(ids), chunk_size))
        )  # fmt: skip
        audit.record(
            action="settlement.started",
            utility=program.utility,
            obj=run,
            actor=actor,
            to_state=run.status,
            changes={"version": run.version, "enrollments": len(ids), "chunks": len(chunks)},
            comment=f"Re-run of version {previous.version}" if previous else "",
        )
        if not chunks:
            _complete_if_done(run)
        if send_to_workers:
            _enqueue(run, [c.pk for c in chunks])
    return run


def compute_chunk(*, chunk_id: int) -> bool:
    """Compute one chunk's lines and mark it done, in one transaction. Idempotent: a chunk
    already done does nothing; two workers on the same chunk write its lines once (the lines
    are unique per run and enrollment and the done mark is a compare-and-set — the loser
    rolls back). Returns whether this call did the work."""
    chunk = SettlementChunk.objects.select_related("run__program", "run__utility").get(pk=chunk_id)
    if chunk.status == SettlementChunk.Status.DONE or chunk.run.status != Status.RUNNING:
        return False
    SettlementChunk.objects.filter(pk=chunk.pk).update(
        attempts=chunk.attempts + 1, started_at=timezone.now()
    )
    lines = compute_lines(run=chunk.run, enrollment_ids=chunk.enrollment_ids)
    with transaction.atomic():
        claimed = SettlementChunk.objects.filter(
            pk=chunk.pk, status=SettlementChunk.Status.PENDING
        ).update(status=SettlementChunk.Status.DONE, done_at=timezone.now())
        if claimed != 1:
            return False
        SettlementLine.objects.bulk_create(lines, batch_size=1000)
        _complete_if_done(chunk.run)
    return True


def _complete_if_done(run: SettlementRun) -> None:
    """Computing → draft once no chunk is pending (compare-and-set: one caller wins)."""
    if SettlementChunk.objects.filter(run=run, status=SettlementChunk.Status.PENDING).exists():
        return
    totals = SettlementLine.objects.filter(run=run).aggregate(
        lines=Count("id"),
        without_bill=Count("id", filter=~Q(problem="")),
        premise=Count("id", filter=Q(basis=SettlementLine.Basis.PREMISE)),
        **{name: Sum(name) for name in TOTAL_FIELDS},
    )
    totals = {
        k: (str(v) if v is not None and k in TOTAL_FIELDS else v or 0) for k, v in totals.items()
    }
    now = timezone.now()
    done = SettlementRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
        status=Status.DRAFT, computed_at=now, totals=totals
    )
    if done == 1:
        audit.record(
            action="settlement.computed", utility=run.utility, obj=run,
            from_state=Status.RUNNING, to_state=Status.DRAFT, changes={"totals": totals},
        )  # fmt: skip


def resume_run(*, run_id: int, actor: User | None) -> int:
    """Send the pending chunks of a computing run to the workers again (after a worker was
    lost). Safe at any time: a chunk computed twice is written once."""
    run = SettlementRun.objects.get(pk=run_id)
    if run.status != Status.RUNNING:
        raise errors.NothingToResume("This run is not computing; there is nothing to resume.")
    pending = list(
        run.chunks.filter(status=SettlementChunk.Status.PENDING).values_list("pk", flat=True)
    )
    with transaction.atomic():
        audit.record(
            action="settlement.resumed", utility=run.utility, obj=run, actor=actor,
            changes={"pending_chunks": len(pending)},
        )  # fmt: skip
        _enqueue(run, pending)
    return len(pending)


def _locked(run_id: int) -> SettlementRun:
    return (
        SettlementRun.objects.select_for_update(of=("self",))
        .select_related("utility")
        .get(pk=run_id)
    )


def _move(run: SettlementRun, *, to: str, expected: str | None) -> str:
    check_expected(run, expected=expected, noun="settlement run", error=errors.SettlementStale)
    return check_move(
        run, to=to, allowed=SettlementRun.ALLOWED, noun="a settlement run",
        error=errors.SettlementTransitionNotAllowed,
    )  # fmt: skip


def mark_reviewed(*, run_id: int, actor: User, expected: str | None = None) -> SettlementRun:
    with transaction.atomic():
        run = _locked(run_id)
        before = _move(run, to=Status.REVIEWED, expected=expected)
        run.status, run.reviewed_at, run.reviewed_by = Status.REVIEWED, timezone.now(), actor
        run.save(update_fields=["status", "reviewed_at", "reviewed_by"])
        audit.record(action="settlement.reviewed", utility=run.utility, obj=run, actor=actor,
                     from_state=before, to_state=run.status)  # fmt: skip
    return run


def approve(*, run_id: int, actor: User, expected: str | None = None) -> SettlementRun:
    """Reviewed → approved, by someone other than the reviewer (four eyes)."""
    with transaction.atomic():
        run = _locked(run_id)
        before = _move(run, to=Status.APPROVED, expected=expected)
        if run.reviewed_by_id == actor.pk:
            raise errors.FourEyes(
                "You reviewed this run; another person must approve it (four-eyes rule)."
            )
        run.status, run.approved_at, run.approved_by = Status.APPROVED, timezone.now(), actor
        run.save(update_fields=["status", "approved_at", "approved_by"])
        audit.record(action="settlement.approved", utility=run.utility, obj=run, actor=actor,
                     from_state=before, to_state=run.status)  # fmt: skip
    return run


def export(*, run_id: int, actor: User, expected: str | None = None) -> SettlementRun:
    """Approved → exported: from now on the run and its lines never change, and its two
    files (``selectors.settlement.export_rows``) are fixed."""
    with transaction.atomic():
        run = _locked(run_id)
        before = _move(run, to=Status.EXPORTED, expected=expected)
        run.status, run.exported_at, run.exported_by = Status.EXPORTED, timezone.now(), actor
        run.save(update_fields=["status", "exported_at", "exported_by"])
        audit.record(action="settlement.exported", utility=run.utility, obj=run, actor=actor,
                     from_state=before, to_state=run.status, changes={"totals": run.totals})  # fmt: skip
    return run


def record_download(*, run: SettlementRun, kind: str, actor: User) -> None:
    audit.record(action="settlement.downloaded", utility=run.utility, obj=run, actor=actor,
                 changes={"file": kind})  # fmt: skip


def open_dispute(*, line_id: int, note: str, actor: User) -> SettlementDispute:
    note = note.strip()
    if not note:
        raise errors.SettlementError("Say what is disputed.")
    with transaction.atomic():
        line = SettlementLine.objects.select_related("run__utility").get(pk=line_id)
        try:
            with transaction.atomic():
                dispute = SettlementDispute.objects.create(
                    utility=line.utility, line=line, note=note, opened_by=actor
                )
        except IntegrityError:
            raise errors.DisputeAlreadyOpen(
                "This line already has an open dispute; resolve it first."
            ) from None
        audit.record(action="settlement.dispute_opened", utility=line.run.utility, obj=dispute,
                     actor=actor, to_state=dispute.status, comment=note)  # fmt: skip
    return dispute


def resolve_dispute(*, dispute_id: int, note: str, actor: User) -> SettlementDispute:
    note = note.strip()
    if not note:
        raise errors.SettlementError("Say how the dispute was resolved.")
    with transaction.atomic():
        dispute = (
            SettlementDispute.objects.select_for_update(of=("self",))
            .select_related("line__run__utility")
            .get(pk=dispute_id)
        )
        before = check_move(
            dispute, to=SettlementDispute.Status.RESOLVED, allowed=SettlementDispute.ALLOWED,
            noun="a dispute", error=errors.SettlementTransitionNotAllowed,
        )  # fmt: skip
        dispute.status = SettlementDispute.Status.RESOLVED
        dispute.resolution_note, dispute.resolved_at, dispute.resolved_by = (
            note,
            timezone.now(),
            actor,
        )
        dispute.save(update_fields=["status", "resolution_note", "resolved_at", "resolved_by"])
        audit.record(action="settlement.dispute_resolved", utility=dispute.line.run.utility,
                     obj=dispute, actor=actor, from_state=before, to_state=dispute.status,
                     comment=note)  # fmt: skip
    return dispute
