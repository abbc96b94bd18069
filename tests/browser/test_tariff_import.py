"""A settlement analyst imports a real URDB tariff by upload from the Tariffs menu, reads the
import report (supported constructs and the unsupported one listed), and opens the tariff's
page with its weekday and weekend heat maps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.roles import Role
from tests.billing.rates_support import URDB_FILES
from tests.browser.test_sign_in_and_dashboards import sign_in
from tests.portal.factories import UserFactory, make_member
from tests.shared_data import shared_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_imports_a_tariff_by_upload_and_shows_its_heat_maps(page, utility_a):
    make_member(
        Role.SETTLEMENT_ANALYST, utility=utility_a, user=UserFactory(email="settle@alpha.test")
    )
    path = shared_data("urdb", URDB_FILES["pge"])
    sign_in(page, "settle@alpha.test")
    page.goto("/u/alpha/")

    page.get_by_role("link", name="Tariffs").click()
    page.get_by_role("link", name="Import a tariff").click()
    page.get_by_label("URDB JSON file").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_role("heading", name="Import report")).to_be_visible()
    expect(page.get_by_text("reactive power charge $/kVAR")).to_be_visible()
    expect(page.get_by_text("flat demand charge ($/kW on the monthly maximum)")).to_be_visible()

    page.get_by_role("link", name="Open the tariff's page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "BEV-2-S Business Electric Vehicle (Secondary Voltage)"
    )
    weekday = page.locator("figure", has_text="Energy, weekdays")
    expect(weekday).to_be_visible()
    expect(page.locator("figure", has_text="Energy, weekends")).to_be_visible()
    # Peak (period 3, $0.39404) is the dearest shade; 12 months × 5 hours (16-20).
    expect(weekday.locator("td.heat-7")).to_have_count(60)
    expect(page.get_by_text(re.compile(r"all: \$0\.39404/kWh"))).to_be_visible()
