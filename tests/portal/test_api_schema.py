"""The OpenAPI document and its browsable docs."""

import json
import re

import pytest
import yaml
from django.conf import settings
from drf_spectacular.validation import validate_schema

from portal.api.errors import ErrorCode

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_it_serves_a_valid_openapi_3_document(client, schema):
    validate_schema(schema)  # raises on an invalid document
    assert schema["openapi"].startswith("3.")
    assert yaml.safe_load(client.get("/api/schema/").content) == schema


def test_it_documents_the_endpoints_and_their_scopes(schema):
    paths = schema["paths"]
    assert {"/api/v1/me", "/api/v1/utilities", "/api/v1/utilities/{slug}"} <= set(paths)
    assert paths["/api/v1/utilities"]["get"]["security"] == [{"oauth2": ["utilities:read"]}]
    assert paths["/api/v1/me"]["get"]["security"] == [{"oauth2": []}]


def test_it_documents_client_credentials_with_every_scope(schema):
    flow = schema["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"].endswith("/o/token/")
    assert flow["scopes"] == settings.OAUTH2_PROVIDER["SCOPES"]


def test_it_documents_the_error_shape_on_every_operation(schema):
    error = schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "details", "request_id"]
    assert error["properties"]["code"]["enum"] == [code.value for code in ErrorCode]
    for operations in schema["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            for status in ("401", "403", "429", "500"):
                assert responses[status]["$ref"].startswith("#/components/responses/")
    detail = schema["paths"]["/api/v1/utilities/{slug}"]["get"]["responses"]
    assert detail["404"] == {"$ref": "#/components/responses/NotFound"}


def test_it_serves_the_docs_without_third_party_hosts(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    start_up = client.get("/api/docs/?script").content.decode()  # the page's one script of ours
    assert "/api/schema/" in start_up
    assert "swagger-ui" in page
    assert "cdn." not in page + start_up and "https://" not in page + start_up
    bundle = re.search(r'src="([^"]+swagger-ui-bundle\.js)"', page).group(1)
    assert client.get(bundle).status_code == 200
