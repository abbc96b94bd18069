"""``manage.py create_partner_client``: credentials that work, or nothing at all."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled
from oauth2_provider.models import Application

from portal.models import AuditEvent, AutomakerPartner, PartnerAgreement, PartnerClient
from tests.portal.factories import AutomakerPartnerFactory, PartnerAgreementFactory

pytestmark = pytest.mark.django_db


def create_partner_client(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_partner_client", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def printed(label: str, output: str) -> str:
    return re.search(rf"^{label}:\s+(\S+)$", output, re.MULTILINE).group(1)


def test_it_prints_credentials_that_work_at_the_token_endpoint(
    oauth_post, api_client, utility_a, utility_b
):
    output, warnings = create_partner_client(
        "--partner", "Kestrel Auto", "--utility", "alpha", "--utility", "bravo"
    )
    client_id, secret = printed("client_id", output), printed("client_secret", output)
    assert "http://127.0.0.1:8000/o/token/" in output
    assert f"curl -s -u '{client_id}:{secret}'" in output
    assert warnings == ""

    token = oauth_post(
        "/o/token/",
        client_id,
        secret,
        {"grant_type": "client_credentials", "scope": "utilities:read enrollments:write"},
    )
    assert token.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
    me = api_client.get("/api/v1/me").json()
    assert me["partner"] == {"name": "Kestrel Auto", "slug": "kestrel-auto"}
    assert [u["slug"] for u in me["utilities"]] == ["alpha", "bravo"]


def test_it_creates_the_partner_agreements_and_audit_rows(utility_a, utility_b):
    output, _ = create_partner_client(
        "--partner", "Kestrel Auto", "--utility", "alpha", "--utility", "bravo"
    )
    client_id = printed("client_id", output)

    application = Application.objects.get(client_id=client_id)
    assert application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    assert application.client_type == Application.CLIENT_CONFIDENTIAL
    assert application.client_secret != printed("client_secret", output)
    partner_client = PartnerClient.objects.get(application=application)
    assert partner_client.partner.slug == "kestrel-auto"
    assert set(partner_client.utilities.values_list("slug", flat=True)) == {"alpha", "bravo"}
    with scopes_disabled():
        assert set(PartnerAgreement.objects.values_list("utility__slug", "status")) == {
            ("alpha", "active"),
            ("bravo", "active"),
        }
        actions = sorted(
            AuditEvent.objects.filter(utility__isnull=False).values_list("action", "utility__slug")
        )
        audited = str(list(AuditEvent.objects.values_list("changes", "object_repr", "comment")))
    assert printed("client_secret", output) not in audited
    assert actions == [
        ("partner_agreement.created", "alpha"),
        ("partner_agreement.created", "bravo"),
        ("partner_client.created", "alpha"),
        ("partner_client.created", "bravo"),
    ]


def test_it_gives_an_existing_partner_another_client(utility_a):
    partner = AutomakerPartnerFactory(name="Kestrel Auto", slug="kestrel-auto")
    PartnerAgreementFactory(partner=partner, utility=utility_a)
    first, _ = create_partner_client("--partner", "Kestrel Auto", "--utility", "alpha")
    second, _ = create_partner_client("--partner", "kestrel auto", "--utility", "alpha")
    assert printed("client_id", first) != printed("client_id", second)
    assert AutomakerPartner.objects.count() == 1
    assert partner.clients.count() == 2


def test_it_creates_nothing_for_an_unknown_utility(utility_a):
    with pytest.raises(CommandError, match="nowhere"):
        create_partner_client(
            "--partner", "Kestrel Auto", "--utility", "alpha", "--utility", "nowhere"
        )
    assert not AutomakerPartner.objects.exists()
    assert not Application.objects.exists()
    with scopes_disabled():
        assert not PartnerAgreement.objects.exists()
        assert not AuditEvent.objects.exists()


def test_it_refuses_an_ended_agreement_unless_told_to_reactivate(utility_a, utility_b):
    partner = AutomakerPartnerFactory(name="Kestrel Auto", slug="kestrel-auto")
    PartnerAgreementFactory(partner=partner, utility=utility_a)
    ended = PartnerAgreementFactory(
        partner=partner, utility=utility_b, status=PartnerAgreement.Status.ENDED
    )

    with pytest.raises(CommandError, match=r"bravo \(ended\).*--reactivate"):
        create_partner_client(
            "--partner", "Kestrel Auto", "--utility", "alpha", "--utility", "bravo"
        )
    assert not Application.objects.exists()

    create_partner_client(
        "--partner", "Kestrel Auto", "--utility", "alpha", "--utility", "bravo", "--reactivate"
    )
    with scopes_disabled():
        ended.refresh_from_db()
        reactivated = AuditEvent.objects.get(action="partner_agreement.reactivated")
    assert ended.status == PartnerAgreement.Status.ACTIVE
    assert (reactivated.from_state, reactivated.to_state) == ("ended", "active")


def test_it_refuses_an_unknown_scope(utility_a):
    with pytest.raises(CommandError, match="Unknown scope"):
        create_partner_client(
            "--partner", "Kestrel Auto", "--utility", "alpha", "--scopes", "utilities:read root"
        )
    assert not AutomakerPartner.objects.exists()


def test_it_limits_a_client_to_the_scopes_it_was_given(oauth_post, utility_a):
    output, warnings = create_partner_client(
        "--partner", "Kestrel Auto", "--utility", "alpha", "--scopes", "utilities:read"
    )
    assert printed("scopes", output) == "utilities:read"
    assert warnings == ""
    client_id, secret = printed("client_id", output), printed("client_secret", output)
    granted = oauth_post(
        "/o/token/",
        client_id,
        secret,
        {"grant_type": "client_credentials", "scope": "utilities:read"},
    )
    assert granted.status_code == 200
    assert granted.json()["scope"] == "utilities:read"
    refused = oauth_post(
        "/o/token/",
        client_id,
        secret,
        {"grant_type": "client_credentials", "scope": "utilities:read telemetry:write"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
