"""The interconnection journey in a real browser: the installer drafts and submits, answers
a deficiency with a re-upload; the AHJ issues the permit and passes the inspection; the
utility grants PTO; the customer's V2H enrollment becomes active; the report shows each
stage's days. Wrong file types and double clicks get clear messages along the way."""

from __future__ import annotations

import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import expect

from enrollment.interconnection.models import InterconnectionApplication
from enrollment.interconnection.selectors import REQUIRED_DOCUMENTS
from enrollment.models import Enrollment, Program
from portal.roles import Role
from tests.browser.test_sign_in_and_dashboards import sign_in
from tests.customers.factories import issue_code
from tests.interconnection.factories import PDF_BYTES, make_site
from tests.portal.factories import UserFactory, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Application = InterconnectionApplication


@pytest.fixture(autouse=True)
def _inline_tasks(settings, eager_tasks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def contexts():
    opened = []
    yield opened
    for context in opened:
        context.close()


def _as(browser, live_server, email, contexts):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, email)
    return page


def _file(name: str, content: bytes = PDF_BYTES, mime: str = "application/pdf") -> dict:
    return {"name": name, "mimeType": mime, "buffer": content}


def test_the_whole_interconnection_journey(browser, live_server, utility_a, contexts):
    site = make_site(utility_a, label="Journey")
    crew = make_member(
        Role.INSTALLER_ADMIN, installer=site.installer, user=UserFactory(email="crew@journey.test")
    )
    inspector = make_member(
        Role.AHJ_REVIEWER, ahj=site.ahj, user=UserFactory(email="inspector@city.test")
    )
    engineer = make_member(
        Role.INTERCONNECTION_ENGINEER,
        utility=utility_a,
        user=UserFactory(email="engineer@alpha.test"),
    )
    with scopes_disabled():
        program = Program.objects.create(
            utility=utility_a, name="Home Backup V2H", slug="v2h", kind="v2h", status="open",
            require_permission_to_operate=True, require_smart_meter=False,
        )  # fmt: skip
        enrollment = Enrollment.objects.create(
            utility=utility_a, program=program, service_account=site.account, vehicle=site.vehicle,
            channel="installer", status=Enrollment.Status.AWAITING_INTERCONNECTION,
        )  # fmt: skip

    # --- The installer drafts, is told what is missing, uploads, submits. ---
    installer = _as(browser, live_server, crew.email, contexts)
    installer.goto(f"/installer/{site.installer.slug}/interconnection/new/")
    installer.get_by_label("Utility").select_option(label=utility_a.name)
    installer.get_by_label("Account number").fill(site.account.account_number)
    installer.get_by_label("Premise ZIP code").fill(site.account.zip_code)
    installer.get_by_label("Customer authorization code").fill(issue_code(site.account))
    installer.get_by_label("Configuration").select_option("grid_parallel_v2h")
    installer.get_by_role("button", name="Create draft").click()
    expect(installer.get_by_test_id("checklist")).to_contain_text("AHJ (permit authority) selected")

    installer.get_by_label("AHJ (permit authority)").select_option(label=site.ahj.name)
    installer.get_by_label(re.compile(r"^Vehicle:?$")).select_option(index=1)
    installer.get_by_label(re.compile(r"^Charger:?$")).select_option(index=1)
    installer.get_by_label("Transformer (if known)").select_option(index=1)
    installer.get_by_label("Nameplate (kW)").fill("11.5")
    installer.get_by_label("Requested export (kW)").fill("9.6")
    installer.get_by_label("Service panel rating (A)").fill("200")
    installer.get_by_label("Busbar rating (A)").fill("200")
    installer.get_by_label("Main breaker (A)").fill("200")
    installer.get_by_label("EVSE backfeed breaker (A)").fill("40")
    installer.get_by_role("button", name="Save details").click()
    expect(installer.get_by_role("status")).to_contain_text("Saved")

    # A skipped step: submitting without the documents says which are missing.
    installer.get_by_role("button", name="Submit application").click()
    expect(installer.get_by_role("alert")).to_contain_text("Single-line diagram")

    # A wrong file type is refused by content, whatever its name says.
    installer.get_by_label("Kind").select_option("site_plan")
    installer.get_by_label("File").set_input_files(_file("plan.pdf", b"MZ\x90\x00not a pdf"))
    installer.get_by_role("button", name="Upload").click()
    expect(installer.get_by_role("alert")).to_contain_text("not uploaded")
    expect(installer.locator("form")).to_contain_text(["is not a PDF, PNG or JPEG file"])

    for kind in REQUIRED_DOCUMENTS["grid_parallel_v2h"]:
        installer.get_by_label("Kind").select_option(kind)
        installer.get_by_label("File").set_input_files(_file(f"{kind}.pdf"))
        installer.get_by_role("button", name="Upload").click()
        expect(installer.get_by_role("status")).to_contain_text("Uploaded")
    installer.get_by_role("button", name="Submit application").click()
    expect(installer.get_by_test_id("utility-status")).to_have_text("Submitted")
    expect(installer.get_by_test_id("permit-status")).to_have_text("Permit review")
    detail_url = installer.url

    # --- The utility acknowledges and sends a deficiency. ---
    utility = _as(browser, live_server, engineer.email, contexts)
    utility.goto(f"/u/{utility_a.slug}/interconnection/")
    utility.get_by_role("link", name=re.compile(r"^IC-")).click()
    token = utility.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    act_url = utility.url + "act/"
    utility.get_by_role("button", name="Acknowledge receipt").click()
    expect(utility.get_by_test_id("utility-status")).to_have_text("Completeness review")
    # A double click (the same form posted a second time) is told it already happened.
    again = utility.request.post(
        act_url,
        form={"csrfmiddlewaretoken": token, "action": "acknowledge", "expected": "submitted"},
    )
    assert again.status == 200 and "Nothing was done" in again.text()

    utility.get_by_text("Request information from the installer").click()
    utility.get_by_label("Item 1 topic").select_option("document")
    utility.locator("select[name='items-0-document_kind']").select_option("single_line_diagram")
    utility.get_by_label("Item 1 comment").fill(
        "Show the transfer switch on the single-line diagram."
    )
    utility.get_by_role("button", name="Send deficiency").click()
    expect(utility.get_by_test_id("utility-status")).to_have_text("Needs information")

    # --- The installer answers with a re-upload (version 2 is kept beside version 1). ---
    installer.goto(detail_url)
    installer.get_by_label("Your answer to item 1").fill("Updated diagram attached.")
    installer.get_by_label("Re-upload for item 1").set_input_files(_file("sld-v2.pdf"))
    installer.get_by_role("button", name="Send answer").click()
    expect(installer.get_by_test_id("utility-status")).to_have_text("Completeness review")
    expect(installer.get_by_role("cell", name="v2", exact=True)).to_be_visible()

    # --- Complete: every screen passes, fast-track approval to install. ---
    utility.reload()
    utility.get_by_role("button", name="Complete: run the screens").click()
    expect(utility.get_by_test_id("utility-status")).to_have_text("Approved to install")

    # --- The AHJ issues the permit. ---
    ahj = _as(browser, live_server, inspector.email, contexts)
    ahj.goto(f"/ahj/{site.ahj.slug}/interconnection/")
    ahj.get_by_role("link", name=re.compile(r"^IC-")).click()
    ahj.get_by_label("Permit number").fill("B25-0042")
    ahj.get_by_role("button", name="Issue permit").click()
    expect(ahj.get_by_test_id("permit-status")).to_have_text("Permit issued")

    # --- The installer installs; the AHJ passes the final inspection. ---
    installer.goto(detail_url)
    installer.get_by_role("button", name=re.compile("Installation complete")).click()
    expect(installer.get_by_test_id("utility-status")).to_have_text("Installed, awaiting PTO")
    ahj.reload()
    ahj.get_by_role("button", name="Final inspection passed").click()
    expect(ahj.get_by_test_id("permit-status")).to_have_text("Final inspection passed")

    # --- The utility waives the witness test and grants PTO. ---
    utility.reload()
    utility.get_by_role("button", name="Waive witness test").click()
    utility.get_by_role("button", name="Grant permission to operate").click()
    expect(utility.get_by_test_id("utility-status")).to_have_text("Permission to operate")
    utility.get_by_role("link", name="Printable PTO letter").click()
    expect(utility.get_by_role("heading", level=1)).to_have_text("Permission to operate")
    expect(utility.locator("body")).to_contain_text("up to 9.6 kW")

    with scopes_disabled():
        enrollment.refresh_from_db()
        assert enrollment.status == Enrollment.Status.ACTIVE
        assert Application.objects.get().documents.filter(kind="single_line_diagram").count() == 2

    # --- The report shows each stage's days. ---
    utility.goto(f"/u/{utility_a.slug}/interconnection/report/")
    table = utility.get_by_test_id("stage-table")
    for stage in (
        "Acknowledgement",
        "Completeness review",
        "AHJ permit",
        "AHJ inspection",
        "Completion to PTO",
    ):
        expect(table.get_by_role("row", name=re.compile(stage))).to_contain_text("1")
    expect(table.get_by_role("row", name=re.compile("Submission to PTO"))).to_contain_text("0")
    expect(utility.locator("svg[role=img]").first).to_be_visible()
