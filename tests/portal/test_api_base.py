"""The partner endpoint base, through a probe endpoint built on it the way later endpoints
will be: tenant scope, per-method scopes, errors raised by views and services, audit actor.

This module is its own URLconf (``pytest.mark.urls``): the probe, then the real site.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import include, path
from django_scopes import scopes_disabled
from rest_framework import serializers
from rest_framework.response import Response

from portal.api.base import PartnerAPIView
from portal.api.errors import Conflict
from portal.customers.models import ServiceAccount
from portal.models import AuditEvent, PartnerAgreement
from tests.customers.factories import ServiceAccountFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


class ProbeSerializer(serializers.Serializer):
    utility = serializers.SlugField()
    outcome = serializers.ChoiceField(["ok", "conflict", "invalid_model", "bug"])
    kwh = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=0)


class ProbeView(PartnerAPIView):
    required_scopes = {"GET": ["utilities:read"], "POST": ["vehicles:write"]}

    def get(self, request):
        # A tenant-owned table, queried with no filter of the view's own.
        accounts = ServiceAccount.objects.values_list("account_number", flat=True)
        return Response({"accounts": sorted(accounts)})

    def post(self, request):
        probe = ProbeSerializer(data=request.data)
        probe.is_valid(raise_exception=True)
        utility = self.get_utility(probe.validated_data["utility"])
        match probe.validated_data["outcome"]:
            case "conflict":
                raise Conflict("Already acknowledged.", details={"command_id": 7})
            case "invalid_model":
                ServiceAccount(utility=utility, zip_code="nope").full_clean()
            case "bug":
                raise RuntimeError("a bug")
        event = self.audit(action="probe.accepted", utility=utility, comment="probe")
        return Response({"audit_event": event.pk}, status=201)


urlpatterns = [
    path("api/v1/probe", ProbeView.as_view()),
    path("", include("portal.urls")),
]


@pytest.fixture
def probe_api(api_client, obtain_token, kestrel):
    api_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {obtain_token(kestrel, 'utilities:read vehicles:write')}"
    )
    return api_client


def post_probe(api, **fields):
    return api.post("/api/v1/probe", {"utility": "alpha", "kwh": "1.5", **fields}, format="json")


def test_it_runs_the_handler_in_the_clients_utilities_only(probe_api, utility_a, utility_b):
    ServiceAccountFactory(utility=utility_a, account_number="A-1")
    ServiceAccountFactory(utility=utility_b, account_number="B-1")
    assert probe_api.get("/api/v1/probe").json() == {"accounts": ["A-1"]}


def test_it_shows_nothing_rather_than_everything_once_no_utility_is_left(
    probe_api, utility_a, utility_b
):
    ServiceAccountFactory(utility=utility_a, account_number="A-1")
    ServiceAccountFactory(utility=utility_b, account_number="B-1")
    with scopes_disabled():
        PartnerAgreement.objects.update(status=PartnerAgreement.Status.ENDED)
    assert probe_api.get("/api/v1/probe").json() == {"accounts": []}


def test_it_requires_each_methods_own_scopes(
    api_client, obtain_token, kestrel, utility_a, assert_api_error
):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(kestrel, 'utilities:read')}")
    assert api_client.get("/api/v1/probe").status_code == 200
    error = assert_api_error(post_probe(api_client, outcome="ok"), 403, "insufficient_scope")
    assert error["details"]["required_scopes"] == ["vehicles:write"]


def test_it_records_the_client_as_the_actor(probe_api, kestrel, utility_a):
    response = post_probe(probe_api, outcome="ok")
    assert response.status_code == 201
    with scopes_disabled():
        event = AuditEvent.objects.get(pk=response.json()["audit_event"])
    assert event.utility == utility_a
    assert event.actor_user is None
    assert event.actor_client_id == kestrel.client_id
    assert event.actor_label == f"API client {kestrel.client_id} (Kestrel Auto)"
    assert event.request_id == response["X-Request-ID"]


def test_it_answers_404_for_a_utility_outside_reach_in_a_request_body(
    probe_api, utility_a, utility_b, assert_api_error
):
    assert_api_error(post_probe(probe_api, utility="bravo", outcome="ok"), 404, "not_found")


def test_it_answers_malformed_json_with_the_error_shape(probe_api, utility_a, assert_api_error):
    response = probe_api.post(
        "/api/v1/probe", data='{"utility": "alpha",', content_type="application/json"
    )
    assert_api_error(response, 400, "malformed_request")


def test_it_lists_field_errors_with_stable_codes(probe_api, utility_a, assert_api_error):
    response = probe_api.post("/api/v1/probe", {"kwh": "-1", "outcome": "maybe"}, format="json")
    error = assert_api_error(response, 400, "validation_failed")
    assert error["details"] == {
        "utility": [{"message": "This field is required.", "code": "required"}],
        "outcome": [{"message": '"maybe" is not a valid choice.', "code": "invalid_choice"}],
        "kwh": [
            {"message": "Ensure this value is greater than or equal to 0.", "code": "min_value"}
        ],
    }


def test_it_answers_a_services_validation_error_as_invalid_input(
    probe_api, utility_a, assert_api_error
):
    error = assert_api_error(
        post_probe(probe_api, outcome="invalid_model"), 400, "validation_failed"
    )
    assert error["details"]["zip_code"] == [
        {"message": "Enter a five-digit ZIP code.", "code": "invalid"}
    ]


def test_it_answers_a_domain_error_with_its_code(probe_api, utility_a, assert_api_error):
    error = assert_api_error(post_probe(probe_api, outcome="conflict"), 409, "conflict")
    assert error["message"] == "Already acknowledged."
    assert error["details"] == {"command_id": 7}


def test_it_answers_a_bug_with_a_json_500_and_logs_it(
    probe_api, utility_a, assert_api_error, caplog
):
    probe_api.raise_request_exception = False  # the test client re-raises by default
    response = post_probe(probe_api, outcome="bug")
    assert_api_error(response, 500, "internal_error")
    assert "a bug" not in response.content.decode()
    assert "Unhandled error in API view" in caplog.text
    assert "RuntimeError: a bug" in caplog.text


def test_it_keeps_the_callers_request_id(probe_api, utility_a, assert_api_error):
    response = probe_api.get("/api/v2/nothing", HTTP_X_REQUEST_ID="partner-req-42")
    assert assert_api_error(response, 404, "not_found")["request_id"] == "partner-req-42"


def test_it_refuses_a_view_that_requires_an_unknown_scope():
    with pytest.raises(ImproperlyConfigured, match="vehicle:read"):

        class Misspelt(PartnerAPIView):
            required_scopes = {"GET": ["vehicle:read"]}
