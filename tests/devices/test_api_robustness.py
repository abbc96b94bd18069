"""Every device endpoint: documented in the OpenAPI schema with its scopes and examples, and
answering any input — valid or not — with something other than a 500."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

DEVICE_OPERATIONS = {
    ("/api/v1/vehicles", "get"): ["vehicles:read"],
    ("/api/v1/vehicles", "post"): ["vehicles:write"],
    ("/api/v1/vehicles/{vin}", "get"): ["vehicles:read"],
    ("/api/v1/vehicles/{vin}", "patch"): ["vehicles:write"],
    ("/api/v1/vehicles/by-id/{vehicle_id}", "get"): ["vehicles:read"],
    ("/api/v1/vehicles/by-id/{vehicle_id}", "patch"): ["vehicles:write"],
    ("/api/v1/telemetry", "post"): ["telemetry:write"],
    ("/api/v1/commands", "get"): ["commands:read"],
    ("/api/v1/commands/ack", "post"): ["commands:write"],
    ("/api/v1/opt-outs", "post"): ["vehicles:write"],
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_it_documents_every_device_operation_with_its_scopes(schema):
    for (path, method), scopes in DEVICE_OPERATIONS.items():
        operation = schema["paths"][path][method]
        assert operation["security"] == [{"oauth2": scopes}], (path, method)
        assert operation["summary"], (path, method)
        assert "200" in operation["responses"] or "201" in operation["responses"]
        if method in ("post", "patch"):
            assert "requestBody" in operation, (path, method)


def test_it_gives_examples_for_the_write_operations(schema):
    for path, method in [
        ("/api/v1/vehicles", "post"),
        ("/api/v1/telemetry", "post"),
        ("/api/v1/commands/ack", "post"),
        ("/api/v1/opt-outs", "post"),
    ]:
        body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert body.get("examples"), (path, method)


def test_it_documents_the_batch_limit_and_the_conflicts(schema):
    assert "413" in schema["paths"]["/api/v1/telemetry"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/v1/vehicles"]["post"]["responses"]
    readings = schema["components"]["schemas"]["TelemetryBatchRequest"]["properties"]["readings"]
    assert readings["maxItems"] == 5000


GARBAGE = [
    "",
    "{",
    "null",
    "true",
    "0",
    "[]",
    '"x"',
    "{}",
    '{"a": 1}',
    "[" * 50_000 + "]" * 50_000,
    '{"readings": [' + ", ".join(["{}"] * 10) + "]}",
    '{"acks": [null, 1, "x"]}',
    '{"vin": null, "utility": null, "vehicle_id": null, "capabilities": null}',
    '{"vin": 1e400, "model_year": 1e400, "usable_battery_kwh": -1e400}',
    '{"vin": "' + "A" * 100_000 + '"}',
    '{"readings": "' + "x" * 1000 + '"}',
    '{"vehicle_id": "\\u0000", "event_id": "\\u0000"}',
    '{"utility": "alpha", "vin": "\\ud800"}',
    json.dumps({"readings": [{"vehicle_id": {"$ne": 1}, "ts": [], "soc": {}, "power_kw": None}]}),
]
WRITE_PATHS = [
    ("post", "/api/v1/vehicles"),
    ("patch", "/api/v1/vehicles/VIN"),
    ("patch", "/api/v1/vehicles/by-id/veh-1"),
    ("post", "/api/v1/telemetry"),
    ("post", "/api/v1/commands/ack"),
    ("post", "/api/v1/opt-outs"),
]


@pytest.mark.parametrize(("method", "path"), WRITE_PATHS)
def test_it_never_answers_garbage_with_a_500(method, path, kestrel_api, vehicle):
    path = path.replace("VIN", vehicle.vin)
    for body in GARBAGE:
        for content_type in ("application/json", "text/plain"):
            response = getattr(kestrel_api, method)(path, body, content_type=content_type)
            assert response.status_code < 500, (body[:80], content_type, response.content[:300])
            assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "query",
    [
        "?utility=%00",
        "?vin=%00",
        "?vehicle_id=" + "x" * 10_000,
        "?status=bogus",
        "?page=0",
        "?page=99999",
        "?page_size=-1",
        "?limit=1e400",
        "?utility=" + "%ff" * 10,
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/vehicles", "/api/v1/commands"])
def test_it_never_answers_odd_queries_with_a_500(query, path, kestrel_api, vehicle):
    response = kestrel_api.get(path + query)
    assert response.status_code < 500, response.content[:300]
