"""The application's two tracks end to end: submission, deficiencies with per-item answers
and re-uploads, screens routing, the AHJ's permit and inspection, PTO and what it unblocks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django_scopes import scope, scopes_disabled

from devices.models import Charger
from enrollment.interconnection import services
from enrollment.interconnection.models import (
    ApplicationDocument,
    ApplicationTransition,
    InterconnectionApplication,
    SlaClock,
)
from enrollment.interconnection.services import AnswerInput, DeficiencyItemInput
from enrollment.models import Enrollment, Program
from portal.models import AuditEvent
from tests.interconnection.factories import PNG_BYTES, big_file, draft, make_site, pdf, walk

pytestmark = pytest.mark.django_db

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus


@pytest.fixture
def site(utility_a):
    return make_site(utility_a)


def _reload(app):
    with scopes_disabled():
        return Application.objects.get(pk=app.pk)


def test_it_refuses_to_submit_an_incomplete_draft_and_says_what_is_missing(site):
    app = draft(site, documents=False, busbar_rating_amps=None)
    with scope(utility=site.utility.pk), pytest.raises(services.ChecklistIncomplete) as error:
        services.submit(application=app, actor=site.installer_user)
    assert "Busbar rating" in error.value.message
    assert "Single-line diagram" in error.value.message
    assert _reload(app).status == Status.DRAFT


def test_it_submits_to_both_tracks_and_starts_their_clocks(
    site, django_capture_on_commit_callbacks
):
    app = draft(site)
    with django_capture_on_commit_callbacks(execute=True):
        app = walk(site, app, to="submitted")
    assert (app.status, app.permit_status) == (Status.SUBMITTED, Permit.PERMIT_REVIEW)
    assert app.reference.startswith("IC-")
    with scopes_disabled():
        clocks = {c.stage: c for c in SlaClock.objects.filter(application=app)}
        assert set(clocks) == {"acknowledgement", "permit"}
        assert clocks["acknowledgement"].target_business_days == 3
        assert AuditEvent.objects.filter(action="interconnection.submitted").exists()
    # Every party hears about it: installer, AHJ and the utility's engineers.
    recipients = {address for message in mail.outbox for address in message.to}
    assert {site.installer_user.email, site.ahj_user.email, site.engineer.email} <= recipients


def test_charge_only_needs_no_interconnection_review(site):
    app = draft(site, configuration=Application.Configuration.CHARGE_ONLY)
    app = walk(site, app, to="submitted")
    assert app.status == Status.NO_REVIEW_NEEDED
    assert app.review_path == Application.ReviewPath.NONE
    assert app.permit_status == Permit.PERMIT_REVIEW  # the electrical permit still applies


def test_it_fast_tracks_when_every_screen_passes(site):
    app = walk(site, draft(site), to="approved_to_install")
    assert app.status == Status.APPROVED_TO_INSTALL and app.fast_tracked
    assert all(row["passed"] for row in app.screen_results)


def test_a_failing_screen_sends_it_to_engineering_review(site):
    app = walk(site, draft(site, backfeed_breaker_amps=60), to="acknowledged")
    with scope(utility=site.utility.pk):
        services.accept_complete(application=app, actor=site.engineer)
    app = _reload(app)
    assert app.status == Status.TECHNICAL_REVIEW and not app.fast_tracked
    failed = [r["screen"] for r in app.screen_results if not r["passed"]]
    assert failed == ["busbar_120"]


def test_a_deficiency_pauses_the_clock_and_the_answer_keeps_document_versions(site):
    app = walk(site, draft(site), to="acknowledged")
    with scope(utility=site.utility.pk):
        services.request_information(
            application=app,
            items=[
                DeficiencyItemInput(
                    "document", "The single-line diagram lacks the MID.", "single_line_diagram"
                ),
                DeficiencyItemInput("other", "Confirm the meter number."),
            ],
            actor=site.engineer,
        )
        app = _reload(app)
        assert app.status == Status.NEEDS_INFO and app.deficiency_rounds == 1
        clock = SlaClock.objects.get(application=app, stopped_on__isnull=True, track="utility")
        assert clock.stage == "completeness" and clock.paused_since is not None

        deficiency = app.deficiencies.get()
        first, second = deficiency.items.all()
        # Missing an answer: nothing is saved.
        with pytest.raises(services.InvalidInput):
            services.answer_deficiency(
                application=app, answers=[AnswerInput(first.pk, "new SLD", pdf("sld2.pdf"))],
                actor=site.installer_user,
            )  # fmt: skip
        assert ApplicationDocument.objects.filter(kind="single_line_diagram").count() == 1
        services.answer_deficiency(
            application=app,
            answers=[
                AnswerInput(first.pk, "Updated SLD attached.", pdf("sld2.pdf")),
                AnswerInput(second.pk, "Meter M500001."),
            ],
            actor=site.installer_user,
        )
        app = _reload(app)
        assert app.status == Status.COMPLETENESS_REVIEW
        versions = list(
            ApplicationDocument.objects.filter(kind="single_line_diagram").values_list(
                "version", flat=True
            )
        )
        assert sorted(versions) == [1, 2]
        clock.refresh_from_db()
        assert clock.paused_since is None and clock.stopped_on is None


def test_a_double_click_changes_nothing_the_second_time(site):
    app = walk(site, draft(site), to="submitted")
    with scope(utility=site.utility.pk):
        services.acknowledge(application=app, actor=site.engineer, expected=Status.SUBMITTED)
        with pytest.raises(services.StaleState) as error:
            services.acknowledge(application=app, actor=site.engineer, expected=Status.SUBMITTED)
        assert "Nothing was done" in error.value.message
        assert ApplicationTransition.objects.filter(action="acknowledged").count() == 1


def test_it_refuses_a_skipped_step(site):
    app = walk(site, draft(site), to="submitted")
    with scope(utility=site.utility.pk):
        with pytest.raises(services.TransitionNotAllowed):
            services.accept_complete(application=app, actor=site.engineer)
        with pytest.raises(services.TransitionNotAllowed):
            services.report_installed(application=app, actor=site.installer_user)
        with pytest.raises(services.TransitionNotAllowed):
            services.record_inspection(application=app, passed=True, actor=site.ahj_user)
    assert _reload(app).status == Status.SUBMITTED


def test_pto_needs_the_final_inspection_and_the_witness_test(site):
    app = walk(site, draft(site), to="installed")
    with scope(utility=site.utility.pk):
        with pytest.raises(services.TransitionNotAllowed) as error:
            services.grant_pto(application=app, actor=site.engineer)
    assert "final inspection" in error.value.message and "witness test" in error.value.message


def test_pto_sets_the_export_limit_and_activates_the_waiting_enrollment(site):
    with scopes_disabled():
        program = Program.objects.create(
            utility=site.utility, name="V2H Backup", slug="v2h", kind="v2h", status="open",
            require_permission_to_operate=True, require_smart_meter=False,
        )  # fmt: skip
        enrollment = Enrollment.objects.create(
            utility=site.utility, program=program, service_account=site.account,
            vehicle=site.vehicle, channel="installer",
            status=Enrollment.Status.AWAITING_INTERCONNECTION,
        )  # fmt: skip
    app = walk(site, draft(site), to="pto")
    assert app.status == Status.PTO_GRANTED and app.approved_export_kw == 9.6
    assert app.business_days_to_pto == 0
    with scopes_disabled():
        assert Charger.objects.get(pk=site.charger.pk).approved_export_kw == 9.6
        enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.ACTIVE, enrollment.status_reason


def _pto_rule(enrollment) -> dict:
    with scopes_disabled():
        enrollment.refresh_from_db()
    return next(r for r in enrollment.eligibility if r["rule"] == "permission_to_operate")


def test_eligibility_follows_pto_granted_and_revoked(site):
    """Every open enrollment of the customer is re-evaluated when PTO is granted or revoked
    (not only those awaiting it), so none keeps showing a stale "PTO: Fail"."""
    with scopes_disabled():
        program = Program.objects.create(
            utility=site.utility, name="V2H Backup", slug="v2h", kind="v2h", status="open",
            require_permission_to_operate=True, require_smart_meter=False,
        )  # fmt: skip
        # In staff review for PTO and another rule that staff approved despite.
        enrollment = Enrollment.objects.create(
            utility=site.utility, program=program, service_account=site.account,
            vehicle=site.vehicle, channel="installer",
            status=Enrollment.Status.ELIGIBILITY_REVIEW, overridden_rules=["smart_meter"],
            eligibility=[{"rule": "permission_to_operate", "passed": False, "detail": "No PTO"}],
            failed_rules=["permission_to_operate"],
        )  # fmt: skip
    app = walk(site, draft(site), to="pto")
    rule = _pto_rule(enrollment)
    assert rule["passed"] and "9.6 kW" in rule["detail"]
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert enrollment.failed_rules == []

    with scope(utility=site.utility.pk):
        with pytest.raises(services.InvalidInput):
            services.revoke_pto(application=app, actor=site.engineer, reason="  ")
        services.revoke_pto(
            application=app, actor=site.engineer, reason="Inverter swapped without approval.",
            expected=Status.PTO_GRANTED,
        )  # fmt: skip
    assert _reload(app).status == Status.PTO_REVOKED
    assert not _pto_rule(enrollment)["passed"]
    assert enrollment.status == Enrollment.Status.ELIGIBILITY_REVIEW
    with scopes_disabled():
        # Dispatch caps discharge at the charger's export limit: it goes with the PTO.
        assert Charger.objects.get(pk=site.charger.pk).approved_export_kw is None
        limits = AuditEvent.objects.filter(action="charger.export_limit_set").order_by("id")
        assert [e.changes["to"] for e in limits] == [9.6, None]

    # Granted again once the premise is back in order.
    with scope(utility=site.utility.pk):
        services.grant_pto(application=_reload(app), actor=site.engineer)
    assert _pto_rule(enrollment)["passed"]


def test_an_ahj_correction_round_pauses_the_permit_clock(site):
    app = walk(site, draft(site), to="submitted")
    with scope(utility=site.utility.pk):
        services.request_corrections(
            application=app, items=[DeficiencyItemInput("electrical", "Show the 120% calc.")],
            actor=site.ahj_user,
        )  # fmt: skip
        app = _reload(app)
        assert app.permit_status == Permit.CORRECTIONS
        item = app.deficiencies.get(track="ahj").items.get()
        services.answer_deficiency(
            application=app, answers=[AnswerInput(item.pk, "Added.")], actor=site.installer_user
        )
        assert _reload(app).permit_status == Permit.PERMIT_REVIEW
        # The utility track was untouched by the AHJ's round.
        assert _reload(app).status == Status.SUBMITTED


def test_a_failed_inspection_goes_back_to_the_installer_then_passes(site):
    app = walk(site, draft(site), to="installed")
    with scope(utility=site.utility.pk):
        with pytest.raises(services.InvalidInput):
            services.record_inspection(application=app, passed=False, actor=site.ahj_user)
        services.schedule_inspection(
            application=app, on=date.today() + timedelta(days=3), actor=site.ahj_user
        )
        services.record_inspection(
            application=app, passed=False, comment="Label the disconnect.", actor=site.ahj_user
        )
        services.report_installed(application=_reload(app), actor=site.installer_user)
        services.record_inspection(application=_reload(app), passed=True, actor=site.ahj_user)
    app = _reload(app)
    assert app.permit_status == Permit.INSPECTION_PASSED and app.status == Status.INSTALLED


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (pdf("fake.pdf", b"MZ\x90\x00 this is an exe"), "is not a PDF, PNG or JPEG file"),
        (pdf("empty.pdf", b""), "empty"),
        (big_file(20 * 1024 * 1024 + 1), "limit is 20 MB"),
    ],
)
def test_it_refuses_a_bad_file_and_keeps_the_rest(site, upload, message):
    app = draft(site)
    with scope(utility=site.utility.pk):
        before = ApplicationDocument.objects.count()
        with pytest.raises(Exception) as error:
            services.upload_document(
                application=app, kind="site_plan", upload=upload, actor=site.installer_user
            )
        assert message in str(error.value)
        assert ApplicationDocument.objects.count() == before


def test_it_accepts_png_by_content_and_stores_it_under_a_random_name(site):
    app = draft(site, documents=False)
    upload = pdf("customer-smith-sld.pdf", PNG_BYTES)  # the name and the claim say PDF
    with scope(utility=site.utility.pk):
        doc = services.upload_document(
            application=app, kind="site_plan", upload=upload, actor=site.installer_user
        )
    assert doc.content_type == "image/png"
    assert "smith" not in doc.file.name and doc.file.name.endswith(".png")
