"""The settlement and billing-impact pages: who may do what, a constant number of queries
per page, the files, the dashboard's charts and the statement."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from billing.models import SettlementChunk, SettlementRun
from billing.services import settlement as services
from portal.roles import Role
from tests.billing import settle_support as s
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


def url(utility, name, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


@pytest.fixture
def program(utility_a):
    s.tariff(utility_a)
    program = s.program(utility_a, name="Night Shift")
    for i in range(3):
        e = s.enrolled(program, customer_name=f"Pat Customer {i}")
        s.managed_session(e.vehicle, 10 + i)
    return program


@pytest.fixture
def analyst(utility_a):
    return make_member(Role.SETTLEMENT_ANALYST, utility=utility_a)


@pytest.fixture
def admin(utility_a):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    user = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    TOTP.activate(user, generate_totp_secret())
    return user


def _compute_all(run):
    with scope(utility=run.utility_id):
        for chunk_id in SettlementChunk.objects.filter(run=run).values_list("pk", flat=True):
            services.compute_chunk(chunk_id=chunk_id)
        run.refresh_from_db()
    return run


def test_an_analyst_starts_a_run_and_the_page_shows_its_progress(
    client, utility_a, program, analyst, django_capture_on_commit_callbacks
):
    client.force_login(analyst)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = client.post(
            url(utility_a, "settlement_start"), {"program": program.pk, "month": "2026-07"}
        )
    with scopes_disabled():
        run = SettlementRun.objects.get(program=program)
    assert response.status_code == 302
    assert response["Location"] == url(utility_a, "settlement_detail", run.pk)
    assert len(sent) == 1  # one chunk sent to the workers
    page = client.get(url(utility_a, "settlement_detail", run.pk)).content.decode()
    assert 'http-equiv="refresh"' in page and "0 of 1 chunks" in page
    _compute_all(run)
    page = client.get(url(utility_a, "settlement_detail", run.pk)).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert "Pat Customer 2" in page and "Mark reviewed" in page


def test_the_start_form_refuses_a_month_that_has_not_ended(client, utility_a, program, analyst):
    client.force_login(analyst)
    response = client.post(
        url(utility_a, "settlement_start"), {"program": program.pk, "month": "2999-01"}
    )
    assert response.status_code == 200
    assert "Only a month that has ended" in response.content.decode()
    response = client.post(
        url(utility_a, "settlement_start"), {"program": program.pk, "month": "July"}
    )
    assert "YYYY-MM" in response.content.decode()


def test_roles_take_their_own_steps_only(client, utility_a, program, analyst, admin):
    run = s.settle(program, actor=analyst)
    viewer = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    client.force_login(viewer)
    assert client.get(url(utility_a, "settlement_detail", run.pk)).status_code == 200
    assert client.post(url(utility_a, "settlement_review", run.pk)).status_code == 403
    assert client.get(url(utility_a, "settlement_start")).status_code == 403

    client.force_login(analyst)
    client.post(url(utility_a, "settlement_review", run.pk), {"expected": "draft"})
    assert client.post(url(utility_a, "settlement_approve", run.pk)).status_code == 403

    client.force_login(admin)
    page = client.get(url(utility_a, "settlement_detail", run.pk)).content.decode()
    assert ">Approve<" in page
    client.post(url(utility_a, "settlement_approve", run.pk), {"expected": "reviewed"})
    assert client.post(url(utility_a, "settlement_export", run.pk)).status_code == 403
    run.refresh_from_db()
    assert run.status == SettlementRun.Status.APPROVED


def test_the_reviewer_cannot_approve_and_is_told_why(client, utility_a, program, admin):
    # A person holding both roles reviews; approving their own review is refused.
    both = make_member(Role.SETTLEMENT_ANALYST, utility=utility_a, user=admin)
    run = s.settle(program, actor=both)
    client.force_login(both)
    client.post(url(utility_a, "settlement_review", run.pk), {"expected": "draft"})
    response = client.post(
        url(utility_a, "settlement_approve", run.pk), {"expected": "reviewed"}, follow=True
    )
    assert "another person must approve" in response.content.decode()
    run.refresh_from_db()
    assert run.status == SettlementRun.Status.REVIEWED


def test_the_files_download_once_exported(client, utility_a, program, analyst, admin):
    run = s.settle(program, actor=analyst)
    s.earned(run_enrollment := _first_enrollment(run), "12.50", on=s.local(5, 9))
    run = s.settle(program, actor=analyst)  # version 2 carries the incentive
    client.force_login(analyst)
    assert (
        client.get(url(utility_a, "settlement_download", run.pk, "bill-credits")).status_code == 404
    )
    client.post(url(utility_a, "settlement_review", run.pk), {"expected": "draft"})
    client.force_login(admin)
    client.post(url(utility_a, "settlement_approve", run.pk), {"expected": "reviewed"})
    client.force_login(analyst)
    client.post(url(utility_a, "settlement_export", run.pk), {"expected": "approved"})
    response = client.get(url(utility_a, "settlement_download", run.pk, "bill-credits"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert lines[0].startswith("reference,account_number")
    assert len(lines) == 2 and "12.50" in lines[1]
    assert run_enrollment.service_account.account_number in lines[1]
    payouts = client.get(url(utility_a, "settlement_download", run.pk, "incentive-payouts"))
    assert b"".join(payouts.streaming_content).decode().count("\n") == 1  # header only
    assert client.get(url(utility_a, "settlement_download", run.pk, "other")).status_code == 404


def _first_enrollment(run):
    with scopes_disabled():
        return (
            run.lines.select_related("enrollment__service_account")
            .order_by("account_number")
            .first()
            .enrollment
        )


def test_the_review_page_runs_a_constant_number_of_queries(
    client, utility_a, analyst, django_assert_max_num_queries
):
    s.tariff(utility_a)
    program = s.program(utility_a)
    client.force_login(analyst)

    def queries_for(n):
        for _ in range(n):
            s.enrolled(program)
        first = s.settle(program)
        run = s.settle(program)  # a second version, so the diff section runs too
        with scopes_disabled():
            run.lines.first().disputes.create(utility=utility_a, note="check")
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(utility_a, "settlement_detail", run.pk)).status_code == 200
        assert first.pk != run.pk
        return len(ctx)

    small = queries_for(3)
    large = queries_for(40)
    assert small == large
    with django_assert_max_num_queries(small):
        client.get(url(utility_a, "settlement_list"))


def test_the_dashboard_shows_the_programs_figures_and_charts(client, utility_a, program, analyst):
    enrollment = None
    with scopes_disabled():
        enrollment = program.enrollments.order_by("pk").first()
    s.earned(enrollment, "50.00", on=s.local(15, 12))
    s.settle(program, actor=analyst)
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    page = client.get(
        url(utility_a, "billing_dashboard"), {"program": program.pk, "month": "2026-07"}
    ).content.decode()
    assert "Customers by net benefit" in page
    assert "Energy imported by TOU period" in page
    assert "$25.20" in page  # 3 × $8.40 bill savings
    assert "$50.00" in page
    assert page.count("<svg") == 2  # histogram and energy; no measured event in the month
    empty = client.get(
        url(utility_a, "billing_dashboard"), {"program": program.pk, "month": "2026-05"}
    ).content.decode()
    assert "has no computed settlement run" in empty


def test_the_statement_says_when_the_bill_is_ev_only(client, utility_a, program, analyst):
    run = s.settle(program, actor=analyst)
    with scopes_disabled():
        line = run.lines.order_by("account_number").first()
    client.force_login(analyst)
    page = client.get(url(utility_a, "billing_statement", line.pk)).content.decode()
    assert "EV-only bill difference" in page
    assert "$8.40" in page
    assert "Counterfactual bill: line items" in page
