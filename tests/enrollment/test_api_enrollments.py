"""/api/v1/enrollments: an automaker enrolls its customers, reads status and reasons, pulls
changes, withdraws and renews consent — with real OAuth2 tokens from /o/token/, and only
ever its own enrollments in the utilities it may act in."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from enrollment import services
from enrollment.eligibility import Rule
from enrollment.models import Consent, Enrollment
from portal.models import AuditEvent, PartnerAgreement
from tests.api import assert_api_error
from tests.customers.factories import ServiceAccountFactory
from tests.enrollment.api_support import body, enroll
from tests.enrollment.factories import ProgramFactory
from tests.enrollment.programs_support import eligible_vehicle, submit
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- Submitting -------------------------------------------------------------------------------


def test_it_enrolls_and_answers_with_the_evaluation(api, program, vehicle, kestrel):
    response = enroll(api, body(vehicle))

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "active"
    assert data["utility"] == "alpha" and data["program"] == "summer-v2h"
    assert data["vehicle"] == {"vin": vehicle.vin, "vehicle_id": vehicle.partner_vehicle_id}
    assert data["failed_rules"] == []
    assert {r["rule"] for r in data["eligibility"]} >= {Rule.TERRITORY, Rule.APPROVED_EQUIPMENT}
    assert data["consent"]["terms_version"] == "2026.1"
    assert data["consent"]["data_sharing_scope"] == ["charging_schedule", "telemetry"]
    with scopes_disabled():
        enrollment = Enrollment.objects.get(pk=data["id"])
        submitted = AuditEvent.objects.get(action="enrollment.submitted", object_id=str(data["id"]))
    assert enrollment.partner.name == "Kestrel Auto"
    assert enrollment.channel == Enrollment.Channel.AUTOMAKER_APP
    assert submitted.actor_client_id == kestrel.client_id


def test_it_also_finds_the_vehicle_by_the_partners_own_id(api, program, vehicle):
    response = enroll(api, body(vehicle, vehicle={"vehicle_id": vehicle.partner_vehicle_id}))
    assert response.status_code == 201


def test_a_retry_with_the_same_key_and_body_returns_the_original(api, program, vehicle):
    data = body(vehicle)
    first = enroll(api, data)
    retry = enroll(api, json.loads(json.dumps(data)))
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    with scopes_disabled():
        assert Enrollment.objects.count() == 1

    other = enroll(api, body(vehicle, zip_code="94111"))
    error = assert_api_error(other, 409, "idempotency_conflict")
    assert error["details"]["enrollment_id"] == first.json()["id"]


def test_it_needs_an_idempotency_key(api, program, vehicle):
    response = api.post("/api/v1/enrollments", body(vehicle), format="json")
    error = assert_api_error(response, 400, "validation_failed")
    assert "Idempotency-Key" in error["details"]


def test_a_wrong_zip_and_an_unknown_account_look_the_same(api, program, vehicle):
    wrong_zip = enroll(api, body(vehicle, zip_code="94111"), key="a")
    unknown = enroll(api, body(vehicle, account_number="0000000000"), key="b")
    first = assert_api_error(wrong_zip, 400, "account_not_verified")
    second = assert_api_error(unknown, 400, "account_not_verified")
    assert (first["message"], first["details"]) == (second["message"], second["details"])


def test_it_refuses_what_is_not_the_partners_or_not_there(
    api, program, vehicle, utility_a, utility_b, issue_client
):
    someone_elses = eligible_vehicle(utility_a)  # another automaker's vehicle
    assert_api_error(
        enroll(api, body(vehicle, vehicle={"vin": someone_elses.vin}), key="v"),
        404,
        "unknown_vehicle",
    )
    assert_api_error(enroll(api, body(vehicle, program="nope"), key="p"), 404, "unknown_program")
    ProgramFactory(utility=utility_b, slug="summer-v2h")
    assert_api_error(enroll(api, body(vehicle, utility="bravo"), key="u"), 404, "not_found")
    consent = {**body(vehicle)["consent"], "terms_version": "9.9"}
    assert_api_error(enroll(api, body(vehicle, consent=consent), key="t"), 400, "invalid_consent")
    old = {**body(vehicle)["consent"], "accepted_at": "2020-01-01T00:00:00Z"}
    assert_api_error(enroll(api, body(vehicle, consent=old), key="o"), 400, "invalid_consent")
    with scopes_disabled():
        assert not Enrollment.objects.exists()


def test_it_refuses_a_conflicting_enrollment_clearly(api, program, vehicle):
    assert enroll(api, body(vehicle), key="one").status_code == 201
    error = assert_api_error(enroll(api, body(vehicle), key="two"), 409, "enrollment_conflict")
    assert "already has an open enrollment" in error["message"]


def test_it_refuses_a_closed_program(api, program, vehicle):
    with scopes_disabled():
        program.status = "closed"
        program.save()
    assert_api_error(enroll(api, body(vehicle)), 409, "program_not_open")


def test_it_waitlists_waits_for_pto_or_sends_to_review(api, program, utility_a, partner):
    with scopes_disabled():
        program.enrollment_cap = 1
        program.require_permission_to_operate = True
        program.save()
    no_pto = eligible_vehicle(utility_a, partner=partner, pto=False)
    assert enroll(api, body(no_pto), key="1").json()["status"] == "awaiting_interconnection"
    full = eligible_vehicle(utility_a, partner=partner)
    assert enroll(api, body(full), key="2").json()["status"] == "waitlisted"
    outside = eligible_vehicle(
        utility_a,
        partner=partner,
        account=ServiceAccountFactory(utility=utility_a, zip_code="80202"),
    )
    review = enroll(api, body(outside), key="3").json()
    assert review["status"] == "eligibility_review"
    assert review["failed_rules"] == [Rule.TERRITORY]


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        [],
        {},
        {"vehicle": {"vin": "1FTVW1EL0NW000001", "vehicle_id": "x"}},
        {"vehicle": {"vin": "TOO-SHORT"}},
        {"consent": {"terms_version": "2026.1", "accepted_at": "yesterday"}},
        {
            "consent": {
                "terms_version": "2026.1",
                "accepted_at": "2026-01-01T00:00:00Z",
                "data_sharing_scope": ["dna"],
            }
        },
        {"zip_code": "9411"},
    ],
)
def test_bad_bodies_get_a_clear_400(api, program, vehicle, payload):
    if isinstance(payload, dict) and payload:
        payload = body(vehicle, **payload)
    if isinstance(payload, str):
        response = api.post(
            "/api/v1/enrollments",
            payload,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k",
        )
    else:
        response = enroll(api, payload, key="k")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("validation_failed", "malformed_request")


def test_it_needs_the_write_scope_to_enroll(bearer, kestrel, program, vehicle):
    reader = bearer(kestrel, "enrollments:read")
    response = enroll(reader, body(vehicle))
    assert_api_error(response, 403, "insufficient_scope")
    assert reader.get("/api/v1/enrollments").status_code == 200


# --- Reading, isolation -----------------------------------------------------------------------


def test_it_lists_only_the_partners_own_enrollments_in_reach(
    api, program, vehicle, utility_a, utility_b, partner, issue_client
):
    mine = enroll(api, body(vehicle)).json()["id"]
    others = submit(program, eligible_vehicle(utility_a))  # another automaker, same utility
    # Kestrel's own enrollment in Bravo, which this client was not issued for.
    issue_client("Kestrel Auto", utility_b.slug)
    in_bravo = submit(
        ProgramFactory(utility=utility_b), eligible_vehicle(utility_b, partner=partner)
    )

    listed = api.get("/api/v1/enrollments").json()
    assert [e["id"] for e in listed["results"]] == [mine]
    assert others.pk != mine and in_bravo.pk != mine


def test_it_answers_404_for_enrollments_out_of_reach(
    api, program, utility_a, utility_b, partner, issue_client
):
    another_partners = submit(program, eligible_vehicle(utility_a))
    issue_client("Kestrel Auto", utility_b.slug)
    own_in_bravo = submit(
        ProgramFactory(utility=utility_b), eligible_vehicle(utility_b, partner=partner)
    )
    consent = {"terms_version": "x", "accepted_at": timezone.now().isoformat()}
    for enrollment in (another_partners, own_in_bravo):
        base = f"/api/v1/enrollments/{enrollment.pk}"
        assert_api_error(api.get(base), 404, "not_found")
        assert_api_error(api.post(f"{base}/withdraw", {}, format="json"), 404, "not_found")
        assert_api_error(api.post(f"{base}/consent", consent, format="json"), 404, "not_found")
    assert_api_error(api.get("/api/v1/enrollments/999999"), 404, "not_found")
    with scopes_disabled():
        assert Enrollment.objects.get(pk=another_partners.pk).status == "active"


def test_access_ends_with_the_agreement(api, program, vehicle, utility_a):
    enrollment = enroll(api, body(vehicle)).json()
    with scopes_disabled():
        PartnerAgreement.objects.filter(utility=utility_a).update(status="ended")
    assert_api_error(api.get(f"/api/v1/enrollments/{enrollment['id']}"), 404, "not_found")


def test_the_list_runs_a_constant_number_of_queries(api, program, utility_a, partner):
    def queries_for(count: int) -> int:
        for _ in range(count):
            submit(program, eligible_vehicle(utility_a, partner=partner))
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/enrollments")
        assert response.status_code == 200
        return len(queries)

    assert queries_for(2) == queries_for(10)


# --- Status changes, withdrawal, consent ----------------------------------------------------


def test_partners_pull_status_changes_since_a_time(api, program, vehicle, utility_a, partner):
    first = enroll(api, body(vehicle)).json()
    second_vehicle = eligible_vehicle(utility_a, partner=partner)
    second = enroll(api, body(second_vehicle), key="key-2").json()
    checkpoint = max(first["updated_at"], second["updated_at"])

    staff = UserFactory()
    with scope(utility=utility_a.pk):
        services.suspend(
            enrollment=Enrollment.objects.get(pk=first["id"]), reason="Meter swap", actor=staff
        )

    changed = api.get("/api/v1/enrollments", {"changed_since": checkpoint}).json()["results"]
    assert changed[-1]["id"] == first["id"] and changed[-1]["status"] == "suspended"
    assert changed[-1]["updated_at"] > checkpoint
    assert [c["updated_at"] for c in changed] == sorted(c["updated_at"] for c in changed)
    later = api.get("/api/v1/enrollments", {"changed_since": changed[-1]["updated_at"]}).json()
    assert [c["id"] for c in later["results"]] == [first["id"]]

    assert_api_error(
        api.get("/api/v1/enrollments", {"changed_since": "last tuesday"}), 400, "validation_failed"
    )
    only_active = api.get("/api/v1/enrollments", {"status": "active"}).json()["results"]
    assert [e["id"] for e in only_active] == [second["id"]]


def test_it_withdraws_once_and_refuses_what_is_over(api, program, vehicle, utility_a, kestrel):
    enrollment = enroll(api, body(vehicle)).json()
    url = f"/api/v1/enrollments/{enrollment['id']}/withdraw"

    first = api.post(url, {"reason": "Opted out in the app"}, format="json")
    again = api.post(url, {}, format="json")

    assert first.status_code == 200 and first.json()["status"] == "withdrawn"
    assert again.status_code == 200 and again.json()["status"] == "withdrawn"
    with scopes_disabled():
        withdrawn = AuditEvent.objects.filter(
            action="enrollment.withdrawn", object_id=str(enrollment["id"])
        )
        assert withdrawn.count() == 1
        assert withdrawn.get().comment == "Opted out in the app"
        assert withdrawn.get().actor_client_id == kestrel.client_id

    ended = submit(program, eligible_vehicle(utility_a, partner=vehicle.partner))
    with scope(utility=utility_a.pk):
        services.end(enrollment=ended, reason="Program over", actor=UserFactory())
    assert_api_error(
        api.post(f"/api/v1/enrollments/{ended.pk}/withdraw", {}, format="json"),
        409,
        "invalid_transition",
    )


def test_a_renewed_consent_reinstates_an_expired_one(api, program, vehicle, utility_a):
    enrollment = enroll(api, body(vehicle)).json()
    with scopes_disabled():
        Consent.objects.filter(enrollment_id=enrollment["id"]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    with scope(utility=utility_a.pk):
        services.expire_consents()
    assert api.get(f"/api/v1/enrollments/{enrollment['id']}").json()["status"] == "suspended"

    renewal = {
        "terms_version": "2026.1",
        "accepted_at": timezone.now().isoformat(),
        "data_sharing_scope": ["telemetry"],
    }
    response = api.post(f"/api/v1/enrollments/{enrollment['id']}/consent", renewal, format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "active"
    assert response.json()["consent"]["data_sharing_scope"] == ["telemetry"]


def test_the_schema_documents_the_enrollment_endpoints(client):
    schema = json.loads(
        client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content
    )
    create = schema["paths"]["/api/v1/enrollments"]["post"]
    assert create["security"] == [{"oauth2": ["enrollments:write"]}]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert "Submission" in create["requestBody"]["content"]["application/json"]["examples"]
    assert {"200", "201", "400", "404", "409"} <= set(create["responses"])
    listing = schema["paths"]["/api/v1/enrollments"]["get"]
    assert any(p["name"] == "changed_since" for p in listing["parameters"])
    assert "/api/v1/enrollments/{id}/withdraw" in schema["paths"]


def test_odd_addresses_and_parameters_get_clear_answers(api, program, vehicle):
    huge = "/api/v1/enrollments/99999999999999999999999999"
    assert_api_error(api.get(huge), 404, "not_found")
    assert_api_error(api.post(f"{huge}/withdraw", {}, format="json"), 404, "not_found")
    assert (
        api.get("/api/v1/enrollments", {"changed_since": "2026-01-01T00:00:00"}).status_code == 200
    )
    assert_api_error(api.get("/api/v1/enrollments", {"page": "999"}), 404, "not_found")
    assert_api_error(enroll(api, body(vehicle), key="x" * 101), 400, "validation_failed")
