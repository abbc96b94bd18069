"""A settlement run's life: computed in chunks (idempotently), reviewed, approved by someone
else, exported — and then final, in the services and in the database. Re-runs are versions
compared line by line; disputes attach to lines; every step is in the audit trail."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django_scopes import scope, scopes_disabled

from billing.models import SettlementChunk, SettlementLine, SettlementRun
from billing.selectors import settlement as selectors
from billing.services import errors
from billing.services import settlement as services
from portal.audit import history_of
from portal.roles import Role
from tests.billing import settle_support as s
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db
Status = SettlementRun.Status


@pytest.fixture
def world(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a)
    enrollments = [s.enrolled(program, customer_name=f"Customer {i}") for i in range(5)]
    for e in enrollments:
        s.managed_session(e.vehicle, 10)
    s.earned(enrollments[0], "50.00", on=s.local(15, 12))
    return program, enrollments


@pytest.fixture
def analyst(utility_a):
    return make_member(Role.SETTLEMENT_ANALYST, utility=utility_a)


@pytest.fixture
def admin(utility_a):
    return make_member(Role.PROGRAM_ADMIN, utility=utility_a)


def _in(utility):
    return scope(utility=utility.pk)


def test_it_computes_a_run_in_chunks_and_completes_it_once(world, analyst, utility_a):
    program, enrollments = world
    run = s.settle(program, actor=analyst)
    assert run.status == Status.DRAFT
    with _in(utility_a):
        assert run.chunks.count() == 3  # 5 enrollments in chunks of 2
        assert run.lines.count() == 5
        assert Decimal(run.totals["net_benefit"]) == Decimal("5") * Decimal("8.40") + Decimal(
            "50.00"
        )
        actions = list(history_of(run).values_list("action", flat=True))
    assert actions.count("settlement.computed") == 1


def test_computing_a_chunk_again_writes_nothing_twice(world, utility_a):
    program, _ = world
    with _in(utility_a):
        run = services.start_run(program=program, period_start=s.JULY, actor=None, chunk_size=2)
        chunk = run.chunks.order_by("index").first()
        assert services.compute_chunk(chunk_id=chunk.pk) is True
        assert services.compute_chunk(chunk_id=chunk.pk) is False
        assert SettlementLine.objects.filter(run=run).count() == 2
        # A second worker that computed the same chunk before the first marked it done loses
        # the compare-and-set and writes nothing; the unique (run, enrollment) backs it up.
        line = SettlementLine.objects.filter(run=run).first()
        line.pk = None
        with pytest.raises(IntegrityError), transaction.atomic():
            line.save()
        assert run.chunks.filter(status=SettlementChunk.Status.PENDING).count() == 2
        run.refresh_from_db()
        assert run.status == Status.RUNNING


def test_one_run_of_a_program_and_month_computes_at_a_time(world, utility_a):
    program, _ = world
    with _in(utility_a):
        services.start_run(program=program, period_start=s.JULY, actor=None)
        with pytest.raises(errors.RunInProgress):
            services.start_run(program=program, period_start=s.JULY, actor=None)


def test_it_moves_draft_reviewed_approved_exported_with_four_eyes(world, analyst, admin, utility_a):
    program, _ = world
    run = s.settle(program, actor=analyst)
    with _in(utility_a):
        with pytest.raises(errors.SettlementTransitionNotAllowed):
            services.approve(run_id=run.pk, actor=admin)
        services.mark_reviewed(run_id=run.pk, actor=analyst, expected=Status.DRAFT)
        with pytest.raises(errors.SettlementStale):
            services.mark_reviewed(run_id=run.pk, actor=analyst, expected=Status.DRAFT)
        with pytest.raises(errors.FourEyes):
            services.approve(run_id=run.pk, actor=analyst)
        services.approve(run_id=run.pk, actor=admin, expected=Status.REVIEWED)
        run = services.export(run_id=run.pk, actor=analyst, expected=Status.APPROVED)
        assert run.status == Status.EXPORTED
        trail = list(history_of(run).order_by("id").values_list("action", "actor_label"))
    assert ("settlement.reviewed", analyst.email) in trail
    assert ("settlement.approved", admin.email) in trail
    assert ("settlement.exported", analyst.email) in trail


def test_the_database_refuses_an_approver_who_reviewed(world, analyst, utility_a):
    program, _ = world
    run = s.settle(program, actor=analyst)
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        SettlementRun.objects.filter(pk=run.pk).update(reviewed_by=analyst, approved_by=analyst)


def _exported(program, analyst, admin):
    run = s.settle(program, actor=analyst)
    with scope(utility=program.utility_id):
        services.mark_reviewed(run_id=run.pk, actor=analyst)
        services.approve(run_id=run.pk, actor=admin)
        return services.export(run_id=run.pk, actor=analyst)


def test_an_exported_run_is_final_in_the_services_and_the_database(
    world, analyst, admin, utility_a
):
    program, _ = world
    run = _exported(program, analyst, admin)
    with _in(utility_a):
        with pytest.raises(errors.SettlementTransitionNotAllowed):
            services.mark_reviewed(run_id=run.pk, actor=analyst)
        line = SettlementLine.objects.filter(run=run).first()
    statements = [
        ("UPDATE billing_settlementrun SET status = 'draft' WHERE id = %s", [run.pk]),
        ("DELETE FROM billing_settlementrun WHERE id = %s", [run.pk]),
        ("UPDATE billing_settlementline SET net_benefit = 999 WHERE id = %s", [line.pk]),
        ("DELETE FROM billing_settlementline WHERE id = %s", [line.pk]),
        (
            "INSERT INTO billing_settlementline (utility_id, run_id, enrollment_id, "
            "service_account_id, account_number, customer_name, tariff_name, basis, problem, "
            "sessions, charged_kwh, v2h_kwh, v2g_kwh, event_kwh, bill_savings, v2h_avoided, "
            "v2g_credit, incentives_earned, bill_credit, payout, net_benefit, energy_by_period, "
            "bill_detail) SELECT utility_id, run_id, enrollment_id, service_account_id, "
            "account_number, customer_name, tariff_name, basis, problem, sessions, charged_kwh, "
            "v2h_kwh, v2g_kwh, event_kwh, bill_savings, v2h_avoided, v2g_credit, "
            "incentives_earned, bill_credit, payout, net_benefit, energy_by_period, bill_detail "
            "FROM billing_settlementline WHERE id = %s",
            [line.pk],
        ),
    ]
    for sql, params in statements:
        with pytest.raises(DatabaseError, match="exported"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    with _in(utility_a):
        # A dispute is its own row: a customer may still dispute an exported line.
        dispute = services.open_dispute(line_id=line.pk, note="Credit too low", actor=analyst)
        services.resolve_dispute(dispute_id=dispute.pk, note="Corrected in v2", actor=analyst)


def test_the_export_files_list_bill_credits_and_payouts_per_account(
    world, analyst, admin, utility_a
):
    program, enrollments = world
    s.earned(enrollments[1], "30.00", on=s.local(16, 12))
    run = _exported(program, analyst, admin)
    with _in(utility_a):
        credits = list(selectors.export_rows(run=run, kind="bill-credits"))
        payouts = list(selectors.export_rows(run=run, kind="incentive-payouts"))
    accounts = {e.service_account.account_number: e for e in enrollments}
    assert sorted((r[1], r[5]) for r in credits) == sorted(
        [(enrollments[0].service_account.account_number, "50.00"),
         (enrollments[1].service_account.account_number, "30.00")]
    )  # fmt: skip
    assert all(r[1] in accounts and r[4] == "2026-07" and r[6] == "USD" for r in credits)
    assert payouts == []  # the bonus offer pays as a bill credit
    text = io.StringIO()
    csv.writer(text).writerows(credits)
    assert "SR" in text.getvalue()


def test_a_rerun_is_a_new_version_compared_line_by_line(world, analyst, utility_a):
    program, enrollments = world
    first = s.settle(program, actor=analyst)
    # Between versions: a new enrollment, one more incentive, one enrollment gone.
    added = s.enrolled(program, customer_name="Late Joiner")
    s.earned(enrollments[2], "40.00", on=s.local(20, 12))
    with scopes_disabled():
        enrollments[4].ended_at = s.local(30, 12, month=6)
        enrollments[4].save(update_fields=["ended_at"])
    second = s.settle(program, actor=analyst)
    assert (first.version, second.version) == (1, 2)
    assert second.previous_id == first.pk
    with _in(utility_a):
        page = selectors.diff_page(run=second, page=None)
        rows = {r.enrollment_id: r for r in page.object_list}
    assert page.paginator.count == 3
    assert rows[added.pk].change == "added"
    assert rows[enrollments[4].pk].change == "removed"
    changed = rows[enrollments[2].pk]
    assert changed.change == "changed"
    assert changed.old["incentives_earned"] == Decimal("0.00")
    assert changed.new["incentives_earned"] == Decimal("40.00")
    assert changed.new["net_benefit"] - changed.old["net_benefit"] == Decimal("40.00")


def test_disputes_open_once_per_line_and_resolve_with_a_note(world, analyst, utility_a):
    program, _ = world
    run = s.settle(program, actor=analyst)
    with _in(utility_a):
        line = run.lines.first()
        with pytest.raises(errors.SettlementError):
            services.open_dispute(line_id=line.pk, note="  ", actor=analyst)
        dispute = services.open_dispute(line_id=line.pk, note="Missing event", actor=analyst)
        with pytest.raises(errors.DisputeAlreadyOpen):
            services.open_dispute(line_id=line.pk, note="Again", actor=analyst)
        assert selectors.lines(run=run, show="disputed").get().pk == line.pk
        services.resolve_dispute(dispute_id=dispute.pk, note="Event was cancelled", actor=analyst)
        with pytest.raises(errors.SettlementTransitionNotAllowed):
            services.resolve_dispute(dispute_id=dispute.pk, note="Twice", actor=analyst)
        assert list(history_of(dispute).order_by("id").values_list("action", flat=True)) == [
            "settlement.dispute_opened", "settlement.dispute_resolved",
        ]  # fmt: skip


def test_only_ended_months_can_be_settled():
    from datetime import date

    with pytest.raises(errors.InvalidPeriod):
        services.month_start(year=2026, month=12, today=date(2026, 12, 8))
    with pytest.raises(errors.InvalidPeriod):
        services.month_start(year=2026, month=13, today=date(2026, 12, 8))
    assert services.month_start(year=2026, month=11, today=date(2026, 12, 8)) == date(2026, 11, 1)
