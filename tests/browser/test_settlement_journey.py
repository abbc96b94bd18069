"""The settlement journey in a real browser: a settlement analyst runs July for a program
(computed by the task in chunks), reviews a customer's statement and the program's billing
impact dashboard, and marks the run reviewed; the program admin (another person, with TOTP)
approves it; the analyst exports it and downloads both files."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from billing.models import SettlementRun
from portal.roles import Role
from tests.billing import settle_support as s
from tests.browser.test_sign_in_and_dashboards import current_totp, sign_in
from tests.portal.factories import UserFactory, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _inline_tasks(eager_tasks):
    pass


@pytest.fixture
def contexts():
    opened = []
    yield opened
    for context in opened:
        context.close()


def _page(browser, live_server, contexts):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def test_run_review_approve_export_and_download(browser, live_server, utility_a, contexts):
    s.tariff(utility_a)
    program = s.program(utility_a, name="Overnight Charging")
    for i in range(3):
        enrollment = s.enrolled(program, customer_name=f"Journey Customer {i}")
        s.managed_session(enrollment.vehicle, 10 + i)
        if i == 0:
            s.earned(enrollment, "50.00", on=s.local(15, 12))
            s.house_load(enrollment.service_account, ev=enrollment.vehicle)
    analyst = make_member(
        Role.SETTLEMENT_ANALYST, utility=utility_a, user=UserFactory(email="settle@alpha.test")
    )
    admin = make_member(
        Role.PROGRAM_ADMIN, utility=utility_a, user=UserFactory(email="admin@alpha.test")
    )
    secret = generate_totp_secret()
    TOTP.activate(admin, secret)

    # --- The analyst runs July. ---
    page = _page(browser, live_server, contexts)
    sign_in(page, analyst.email)
    page.get_by_role("navigation", name=utility_a.name).get_by_role(
        "link", name="Settlement runs"
    ).click()
    page.get_by_role("link", name="Run a settlement").click()
    page.get_by_label("Program:", exact=True).select_option(label="Overnight Charging")
    page.get_by_role("textbox", name=re.compile("^Month")).fill("2026-07")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#run-status")).to_have_text("Draft")
    expect(page.locator("#run-totals")).to_contain_text("75.20")  # 3 × 8.40 + 50.00
    expect(page.locator("#lines-table")).to_contain_text("Journey Customer 2")

    # --- A customer's statement, then the dashboard. ---
    with scopes_disabled():
        run = SettlementRun.objects.get(program=program)
        metered = run.lines.get(customer_name="Journey Customer 0")
    page.get_by_role("link", name=metered.account_number, exact=True).click()
    expect(page.get_by_role("heading", name="Program impact statement")).to_be_visible()
    expect(page.locator("#basis-note")).to_contain_text("Premise bill")
    expect(page.locator(".statement-total")).to_contain_text("$58.40")
    page.go_back()
    page.get_by_role("navigation", name=utility_a.name).get_by_role(
        "link", name="Billing impact"
    ).click()
    page.get_by_label("Program:", exact=True).select_option(label="Overnight Charging")
    page.get_by_role("textbox", name=re.compile("^Month")).fill("2026-07")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#impact-figures")).to_contain_text("$75.20")
    expect(page.get_by_role("img", name="Customers by net benefit in the month")).to_be_visible()
    expect(page.get_by_role("img", name="Energy imported by TOU period")).to_be_visible()

    page.goto(f"/u/{utility_a.slug}/billing/settlements/{run.pk}/")
    page.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("#run-status")).to_have_text("Reviewed")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)

    # --- The program admin approves. ---
    approver = _page(browser, live_server, contexts)
    sign_in(approver, admin.email)
    approver.get_by_label(re.compile("code", re.I)).fill(current_totp(secret))
    approver.get_by_role("button", name=re.compile("sign in|verify|confirm", re.I)).click()
    approver.goto(f"/u/{utility_a.slug}/billing/settlements/{run.pk}/")
    approver.get_by_role("button", name="Approve").click()
    expect(approver.locator("#run-status")).to_have_text("Approved")
    expect(approver.get_by_role("button", name="Export")).to_have_count(0)

    # --- The analyst exports and downloads both files. ---
    page.reload()
    page.get_by_role("button", name="Export").click()
    expect(page.locator("#run-status")).to_have_text("Exported")
    with page.expect_download() as credits_download:
        page.get_by_role("link", name=re.compile("Bill credits per account")).click()
    credits = credits_download.value
    assert credits.suggested_filename.endswith("-v1-bill-credits.csv")
    text = open(credits.path()).read()
    assert metered.account_number in text and "50.00" in text
    with page.expect_download() as payouts_download:
        page.get_by_role("link", name=re.compile("Incentive payouts")).click()
    payouts = payouts_download.value
    assert payouts.suggested_filename.endswith("-v1-incentive-payouts.csv")
    assert open(payouts.path()).read().startswith("reference,account_number,payee_name")
