"""Program setup pages: list, detail, create and edit with validation, terms versions, and the
rules version going up (with a re-evaluation) when eligibility rules change."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from enrollment.models import Program, TermsVersion
from portal.models import AuditEvent
from portal.roles import Role
from tests.devices.isolation_cases import signed_in
from tests.enrollment.factories import ProgramFactory, TermsVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, utility_a):
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    return client


def url(name: str, utility, *args) -> str:
    return reverse(f"utility:{name}", args=[utility.slug, *args])


VALID = {
    "name": "Summer V2H",
    "slug": "summer-v2h",
    "kind": "v2h",
    "status": "open",
    "description": "Vehicle-to-home on summer evenings.",
    "seasons": "Summer: 6, 7, 8, 9\nShoulder: May, Oct",
    "event_weekdays": ["0", "1", "2", "3", "4"],
    "event_window_start": "16:00",
    "event_window_end": "21:00",
    "enrollment_cap": "500",
    "max_events_per_season": "15",
    "max_events_per_month": "3",
    "max_hours_per_event": "4",
    "min_notice_minutes": "120",
    "discharge_soc_floor_pct": "30",
    "eligible_zip_codes": "94110, 94111\n94110",
    "eligible_account_numbers": "",
    "eligible_rate_classes": ["residential_ev", "residential_tou"],
    "require_approved_equipment": "on",
    "require_permission_to_operate": "on",
    "require_smart_meter": "on",
    "medical_need_policy": "exclude_from_events",
}


def test_it_creates_a_program_with_parsed_settings_and_an_audit_row(admin_client, utility_a):
    response = admin_client.post(url("program_create", utility_a), VALID)

    assert response.status_code == 302, response.content.decode()[:2000]
    with scopes_disabled():
        program = Program.objects.get(utility=utility_a, slug="summer-v2h")
    assert response["Location"] == url("program_detail", utility_a, program.pk)
    assert program.seasons == [
        {"name": "Summer", "months": [6, 7, 8, 9]},
        {"name": "Shoulder", "months": [5, 10]},
    ]
    assert program.event_weekdays == [0, 1, 2, 3, 4]
    assert program.eligible_zip_codes == ["94110", "94111"]
    assert program.enrollment_cap == 500
    assert program.rules_version == 1
    with scopes_disabled():
        created = AuditEvent.objects.get(action="program.created", object_id=str(program.pk))
    assert created.changes["slug"] == "summer-v2h"

    page = admin_client.get(url("program_detail", utility_a, program.pk)).content.decode()
    assert "Summer V2H" in page and "94110, 94111" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"event_window_end": "15:00"}, "event_window_end", "must end after it starts"),
        ({"event_window_end": ""}, "event_window_end", "both ends"),
        ({"seasons": "Summer: 6, 7\nPeak: 7, 8"}, "seasons", "already in"),
        ({"seasons": "Summer: 13"}, "seasons", "not a month"),
        ({"seasons": "Summer 6 7"}, "seasons", "Name: months"),
        ({"event_weekdays": ["7"]}, "event_weekdays", "not one of the available choices"),
        (
            {"discharge_soc_floor_pct": "101"},
            "discharge_soc_floor_pct",
            "less than or equal to 100",
        ),
        (
            {"discharge_soc_floor_pct": "-1"},
            "discharge_soc_floor_pct",
            "greater than or equal to 0",
        ),
        ({"enrollment_cap": "-1"}, "enrollment_cap", "greater than or equal to 0"),
        ({"eligible_zip_codes": "94110, 9411"}, "eligible_zip_codes", "Not valid: 9411"),
        ({"max_events_per_month": "20"}, "max_events_per_month", "More per month than per season"),
        ({"kind": "v1g"}, "discharge_soc_floor_pct", "never discharge"),
    ],
)
def test_it_refuses_invalid_settings(admin_client, utility_a, changes, field, message):
    response = admin_client.post(url("program_create", utility_a), {**VALID, **changes})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    with scopes_disabled():
        assert not Program.objects.exists()


def test_it_offers_only_this_utilitys_programs_as_conflicting(admin_client, utility_a, utility_b):
    mine = ProgramFactory(utility=utility_a, name="Alpha Winter")
    theirs = ProgramFactory(utility=utility_b, name="Bravo Winter")
    page = admin_client.get(url("program_create", utility_a)).content.decode()
    assert "Alpha Winter" in page and "Bravo Winter" not in page

    refused = admin_client.post(
        url("program_create", utility_a), {**VALID, "conflicting_programs": [theirs.pk]}
    )
    assert "conflicting_programs" in refused.context["form"].errors

    accepted = admin_client.post(
        url("program_create", utility_a), {**VALID, "conflicting_programs": [mine.pk]}
    )
    assert accepted.status_code == 302
    with scopes_disabled():
        created = Program.objects.get(utility=utility_a, slug="summer-v2h")
        assert list(created.conflicting_programs.all()) == [mine]
        assert list(mine.conflicting_programs.all()) == [created]  # symmetrical


def test_it_refuses_a_slug_taken_in_the_same_utility_only(admin_client, utility_a, utility_b):
    ProgramFactory(utility=utility_b, slug="summer-v2h")
    assert admin_client.post(url("program_create", utility_a), VALID).status_code == 302
    again = admin_client.post(url("program_create", utility_a), {**VALID, "name": "Again"})
    assert "slug" in again.context["form"].errors


def test_editing_rules_bumps_the_version_and_schedules_a_reevaluation(
    admin_client, utility_a, django_capture_on_commit_callbacks
):
    program = ProgramFactory(utility=utility_a, name="Summer V2H", slug="summer-v2h")
    form = {**VALID, "enrollment_cap": ""}

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url("program_edit", utility_a, program.pk), form)
    assert response.status_code == 302
    program.refresh_from_db()
    assert program.rules_version == 2
    assert len(callbacks) == 1

    with django_capture_on_commit_callbacks() as callbacks:
        admin_client.post(
            url("program_edit", utility_a, program.pk), {**form, "description": "New words"}
        )
    program.refresh_from_db()
    assert program.rules_version == 2  # not a rule
    assert callbacks == []
    with scopes_disabled():
        updates = AuditEvent.objects.filter(action="program.updated", object_id=str(program.pk))
        assert updates.count() == 2
        assert updates.order_by("id").last().changes == {
            "description": {"from": "Vehicle-to-home on summer evenings.", "to": "New words"}
        }


def test_the_edit_form_shows_the_stored_settings(admin_client, utility_a):
    program = ProgramFactory(
        utility=utility_a,
        seasons=[{"name": "Summer", "months": [6, 7]}],
        eligible_zip_codes=["94110", "94111"],
    )
    page = admin_client.get(url("program_edit", utility_a, program.pk)).content.decode()
    assert "Summer: 6, 7" in page
    assert "94110, 94111" in page


def test_it_adds_terms_versions(admin_client, utility_a):
    program = ProgramFactory(utility=utility_a)
    TermsVersionFactory(program=program, version="2026.1")
    data = {
        "version": "2026.2",
        "title": "Summer terms",
        "body": "…",
        "effective_on": "2026-06-01",
        "consent_valid_days": "180",
    }
    response = admin_client.post(url("terms_version_create", utility_a, program.pk), data)
    assert response.status_code == 302
    with scopes_disabled():
        terms = TermsVersion.objects.get(program=program, version="2026.2")
        assert terms.utility_id == utility_a.pk and terms.consent_valid_days == 180
        assert AuditEvent.objects.filter(action="terms_version.created").count() == 1

    duplicate = admin_client.post(
        url("terms_version_create", utility_a, program.pk), {**data, "version": "2026.1"}
    )
    assert "version" in duplicate.context["form"].errors
    too_short = admin_client.post(
        url("terms_version_create", utility_a, program.pk),
        {**data, "version": "2026.3", "consent_valid_days": "0"},
    )
    assert "consent_valid_days" in too_short.context["form"].errors


def test_readers_see_programs_but_cannot_change_them(client, utility_a):
    program = ProgramFactory(utility=utility_a, name="Summer V2H")
    signed_in(client, Role.DR_OPERATOR, utility_a)
    page = client.get(url("program_list", utility_a)).content.decode()
    assert "Summer V2H" in page and "New program" not in page
    assert client.get(url("program_edit", utility_a, program.pk)).status_code == 403
    assert client.post(url("program_create", utility_a), VALID).status_code == 403


def test_the_list_runs_a_constant_number_of_queries(
    admin_client, utility_a, django_assert_max_num_queries
):
    for _ in range(3):
        ProgramFactory(utility=utility_a)
    with django_assert_max_num_queries(20) as few:
        admin_client.get(url("program_list", utility_a))
    for _ in range(20):
        ProgramFactory(utility=utility_a)
    with django_assert_max_num_queries(20) as many:
        admin_client.get(url("program_list", utility_a))
    assert len(few.captured_queries) == len(many.captured_queries)


def test_the_program_page_lists_consents_due_for_renewal(admin_client, utility_a):
    from datetime import timedelta

    from django.utils import timezone

    from enrollment.models import Consent
    from tests.enrollment.programs_support import eligible_vehicle, submit

    program = ProgramFactory(utility=utility_a, enrollment_cap=10)
    due = submit(program, eligible_vehicle(utility_a))
    with scopes_disabled():
        Consent.objects.filter(enrollment=due).update(expires_at=timezone.now() + timedelta(days=9))
    page = admin_client.get(url("program_detail", utility_a, program.pk))
    body = page.content.decode()
    assert page.context["renewal_count"] == 1
    assert due.vehicle.vin in body
    assert "1 taken of 10" in body
