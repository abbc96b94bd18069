"""Interconnection rules that mean what they say, in a real browser:
eligibility follows PTO, a document deficiency is answered by the document, an early
inspection pass needs its real date, and an application goes to the premise's AHJ."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from playwright.sync_api import expect

from enrollment import services as enrollment_services
from enrollment.interconnection import services
from enrollment.interconnection.models import InterconnectionApplication
from enrollment.interconnection.services import DeficiencyItemInput
from enrollment.models import Enrollment, Program
from portal.roles import Role
from tests.browser.test_interconnection_journey import (
    _as,
    _file,
    contexts,  # noqa: F401 (fixture)
)
from tests.interconnection.factories import draft, make_site, walk
from tests.portal.factories import AHJFactory, AHJTerritoryFactory, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Application = InterconnectionApplication


@pytest.fixture(autouse=True)
def _inline_tasks(settings, eager_tasks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _reload(app):
    with scopes_disabled():
        return Application.objects.get(pk=app.pk)


def test_a_document_item_needs_the_document_and_an_early_pass_needs_its_date(
    browser,
    live_server,
    utility_a,
    contexts,  # noqa: F811
):
    site = make_site(utility_a, label="Rules")
    app = walk(site, draft(site), to="acknowledged")
    with scope(utility=utility_a.pk):
        services.request_information(
            application=app,
            items=[
                DeficiencyItemInput(
                    "document", "Show the transfer switch.", document_kind="single_line_diagram"
                )
            ],
            actor=site.engineer,
        )

    # --- 7. Text alone does not close a document deficiency. ---
    installer = _as(browser, live_server, site.installer_user.email, contexts)
    installer.goto(f"/installer/{site.installer.slug}/interconnection/{app.pk}/")
    installer.get_by_label("Your answer to item 1").fill("It is on the diagram already.")
    installer.get_by_role("button", name="Send answer").click()
    expect(installer.get_by_role("alert")).to_be_visible()
    expect(installer.locator("form")).to_contain_text(["asks for a new version of"])
    expect(installer.get_by_test_id("utility-status")).to_have_text("Needs information")
    installer.get_by_label("Re-upload for item 1").set_input_files(_file("sld-v2.pdf"))
    installer.get_by_role("button", name="Send answer").click()
    expect(installer.get_by_test_id("utility-status")).to_have_text("Completeness review")
    with scopes_disabled():
        item = _reload(app).deficiencies.get().items.get()
        assert item.response_document.version == 2

    # --- 8. A pass before the scheduled day needs the day it happened. ---
    today = timezone.localdate(timezone.now(), utility_a.tzinfo)
    scheduled = today + timedelta(days=2)
    with scope(utility=utility_a.pk):
        services.accept_complete(application=_reload(app), actor=site.engineer)
        services.issue_permit(application=_reload(app), permit_number="B-7", actor=site.ahj_user)
        services.report_installed(application=_reload(app), actor=site.installer_user)
        services.schedule_inspection(application=_reload(app), on=scheduled, actor=site.ahj_user)
    ahj = _as(browser, live_server, site.ahj_user.email, contexts)
    ahj.goto(f"/ahj/{site.ahj.slug}/interconnection/{app.pk}/")
    ahj.get_by_role("button", name="Final inspection passed").click()
    expect(ahj.get_by_role("alert")).to_contain_text(
        f"scheduled for {scheduled:%Y-%m-%d}: give the date it actually took place"
    )
    expect(ahj.get_by_test_id("permit-status")).to_have_text("Inspection scheduled")
    # A date in the future is refused with a message too, never a server error.
    ahj.get_by_label("Date of the inspection").fill(f"{scheduled:%Y-%m-%d}")
    ahj.get_by_role("button", name="Final inspection passed").click()
    expect(ahj.get_by_role("alert")).to_contain_text("can't be in the future")
    ahj.get_by_label("Date of the inspection").fill(f"{today:%Y-%m-%d}")
    ahj.get_by_role("button", name="Final inspection passed").click()
    expect(ahj.get_by_test_id("permit-status")).to_have_text("Final inspection passed")
    expect(ahj.get_by_test_id("inspected-on")).to_have_text(f"Inspected {today:%Y-%m-%d}")
    assert _reload(app).inspected_on == today


def test_eligibility_follows_pto_and_applications_go_to_the_premises_ahj(
    browser,
    live_server,
    utility_a,
    contexts,  # noqa: F811
):
    fresno = AHJFactory(name="City of Fresno", zip_codes=["93701", "93704"])
    madera = AHJFactory(name="City of Madera", zip_codes=["93637", "93638"])
    site = make_site(utility_a, label="Madera", ahj=fresno)
    AHJTerritoryFactory(utility=utility_a, ahj=madera)
    with scopes_disabled():
        site.account.zip_code, site.account.city = "93637", "Madera"
        site.account.save(update_fields=["zip_code", "city"])
        program = Program.objects.create(
            utility=utility_a, name="Home Backup V2H", slug="v2h", kind="v2h", status="open",
            require_permission_to_operate=True, require_smart_meter=False,
            eligible_zip_codes=["93637"],
        )  # fmt: skip
        enrollment = Enrollment.objects.create(
            utility=utility_a, program=program, service_account=site.account,
            vehicle=site.vehicle, channel="installer",
        )  # fmt: skip
    with scope(utility=utility_a.pk):
        enrollment_services.reevaluate_accounts(
            service_account_ids=[site.account.pk], now=timezone.now()
        )

    # --- 9. Picked Fresno for a Madera premise: the application goes to Madera. ---
    app = draft(site, ahj=fresno)
    assert _reload(app).ahj_id == madera.pk
    # An older application still in Fresno's hands is flagged for the engineer, who moves it.
    legacy = draft(site)
    with scopes_disabled():
        Application.objects.filter(pk=legacy.pk).update(ahj=fresno)
    walk(site, _reload(legacy), to="submitted")
    with scopes_disabled():
        Application.objects.filter(pk=legacy.pk).update(ahj=fresno)
    engineer = _as(browser, live_server, site.engineer.email, contexts)
    engineer.goto(f"/u/{utility_a.slug}/interconnection/")
    row = engineer.get_by_role("row", name=re.compile(_reload(legacy).reference))
    expect(row.get_by_test_id("ahj-mismatch")).to_be_visible()
    row.get_by_role("link", name=re.compile(r"^IC-")).click()
    expect(engineer.get_by_test_id("ahj-mismatch")).to_contain_text(
        "outside City of Fresno's jurisdiction"
    )
    engineer.get_by_role("button", name="Route to the premise's AHJ").click()
    expect(engineer.get_by_test_id("ahj-mismatch")).to_have_count(0)
    assert _reload(legacy).ahj_id == madera.pk

    # --- 6. PTO granted in the browser: the enrollment's PTO rule passes at once. ---
    app = walk(site, _reload(app), to="witness_waived")
    admin = _as(browser, live_server, make_member(Role.PROGRAM_ANALYST, utility=utility_a).email,
                contexts)  # fmt: skip
    admin.goto(f"/u/{utility_a.slug}/enrollments/{enrollment.pk}/")
    pto_row = admin.locator(
        "tr", has=admin.get_by_role("rowheader", name="Interconnection PTO", exact=True)
    )
    expect(pto_row).to_contain_text("Fail")
    engineer.goto(f"/u/{utility_a.slug}/interconnection/{app.pk}/")
    engineer.get_by_role("button", name="Grant permission to operate").click()
    expect(engineer.get_by_test_id("utility-status")).to_have_text("Permission to operate")
    admin.reload()
    expect(pto_row).to_contain_text("Pass")
    expect(admin.locator("body")).to_contain_text("Active")

    # Revoked: the enrollment goes back to review, the rule fails again.
    engineer.goto(f"/u/{utility_a.slug}/interconnection/{app.pk}/")
    engineer.get_by_text("Revoke permission to operate").first.click()
    engineer.get_by_label("Reason").fill("Inverter replaced without approval.")
    engineer.get_by_role("button", name="Revoke permission to operate").click()
    expect(engineer.get_by_test_id("utility-status")).to_have_text("Permission to operate revoked")
    admin.reload()
    expect(pto_row).to_contain_text("Fail")
