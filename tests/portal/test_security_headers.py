"""Defaults a security review checks first: a Content-Security-Policy on every page that the
pages themselves keep (no inline script), bodies refused by size before anyone reads them, and
the API documentation behind sign-in unless the operator publishes it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.roles import Role
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in header.split(";"))
        if part
    }


def test_every_page_gets_a_policy_without_inline_script(client):
    policy = _policy(client.get("/accounts/login/"))
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy["script-src"] + policy["style-src-elem"]


def test_no_template_carries_inline_script_or_handlers():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        text = path.read_text()
        lowered = text.lower()
        for attribute in (" onclick=", " onload=", " onchange=", " onsubmit=", "javascript:"):
            if attribute in lowered:
                offenders.append(f"{path.relative_to(root)}: {attribute.strip()}")
        for chunk in lowered.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            if "src=" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{path.relative_to(root)}: inline <script>")
        if "<style" in lowered:
            offenders.append(f"{path.relative_to(root)}: <style> block")
    assert offenders == []


def test_a_body_over_the_limit_is_refused_by_its_length(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 2048
    body = b"x" * 4096
    page = client.generic("POST", "/accounts/login/", body, content_type="text/plain")
    assert page.status_code == 413
    api = client.generic("POST", "/api/v1/vehicles", body, content_type="application/json")
    assert api.status_code == 413
    assert api.json()["error"]["code"] == "payload_too_large"
    assert api.json()["error"]["details"] == {"max_bytes": 2048}
    assert api.json()["error"]["request_id"]


@pytest.mark.parametrize("name", ["api:schema", "api:docs"])
def test_the_api_docs_need_a_sign_in_unless_published(client, settings, utility_a, name):
    settings.API_DOCS_PUBLIC = False
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    assert client.get(reverse(name)).status_code == 200
    client.logout()
    settings.API_DOCS_PUBLIC = True
    assert client.get(reverse(name)).status_code == 200


def test_the_docs_page_loads_its_start_up_script_as_a_file(client, settings):
    settings.API_DOCS_PUBLIC = True
    page = client.get(reverse("api:docs")).content.decode()
    assert "?script" in page
    script = client.get(reverse("api:docs") + "?script")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
