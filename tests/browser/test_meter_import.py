"""A settlement analyst uploads a real Green Button file, reads the import report, uploads it
again and sees every reading skipped as a duplicate; the account's page charts the days."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.roles import Role
from tests.browser.test_sign_in_and_dashboards import sign_in
from tests.customers.factories import ServiceAccountFactory
from tests.portal.factories import UserFactory, make_member
from tests.shared_data import shared_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NINE_DAYS = "TestGBDataHourlyNineDaysBinnedDaily.xml"


def _import(page, path) -> None:
    page.goto("/u/alpha/billing/meter/")
    page.get_by_role("link", name="Import meter data").click()
    page.get_by_label("Interval file").set_input_files(str(path))
    page.get_by_label("Service account number").fill("4400112233")
    page.get_by_role("button", name="Import").click()


def test_it_imports_a_green_button_file_and_skips_it_the_second_time(page, utility_a):
    ServiceAccountFactory(utility=utility_a, account_number="4400112233")
    make_member(
        Role.SETTLEMENT_ANALYST, utility=utility_a, user=UserFactory(email="settle@alpha.test")
    )
    path = shared_data("greenbutton", NINE_DAYS)
    sign_in(page, "settle@alpha.test")

    _import(page, path)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Import of {NINE_DAYS}")
    expect(page.locator("#import-counts")).to_contain_text(
        "216 in the file: 216 imported, 0 duplicates skipped, 0 rejected"
    )

    _import(page, path)

    expect(page.get_by_text(re.compile("This file was already imported on"))).to_be_visible()
    expect(page.locator("#import-counts")).to_contain_text("0 imported, 216 duplicates skipped")

    page.get_by_role("link", name="4400112233").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Meter data of account 4400112233")
    expect(page.get_by_role("img", name=re.compile("Daily net energy"))).to_be_visible()
