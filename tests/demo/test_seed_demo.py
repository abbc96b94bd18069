"""The demo data set: idempotent, a working login for every role, and the scale tenant."""

from __future__ import annotations

import re
import time
from io import StringIO
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from demo.customers import CUSTOMERS_PER_DEMO_UTILITY
from demo.logins import (
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    LOGINS,
    SCALE_LOGINS,
    LoginSpec,
    demo_totp_code,
)
from demo.organizations import SCALE_SLUG
from demo.scale import SCALE_AUDIT_COMMENT, scale_customer_count
from portal.customers.models import ServiceAccount
from portal.models import (
    AHJ,
    AccessRequest,
    AHJTerritory,
    AuditEvent,
    AutomakerPartner,
    InstallerApproval,
    InstallerCompany,
    Membership,
    PartnerAgreement,
    User,
    Utility,
)
from portal.roles import ROLE_ORG_KIND, OrgKind, Role

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
COUNTED = (
    Utility,
    InstallerCompany,
    InstallerApproval,
    AHJ,
    AHJTerritory,
    AutomakerPartner,
    PartnerAgreement,
    AccessRequest,
    ServiceAccount,
    User,
    EmailAddress,
    Membership,
    Authenticator,
    AuditEvent,
)


def snapshot() -> dict[str, object]:
    with scopes_disabled():
        counts = {model.__name__: model.objects.count() for model in COUNTED}
        customers = list(
            ServiceAccount.objects.order_by("utility_id", "account_number").values_list(
                "account_number", "customer_name", "premise_address", "zip_code", "meter_id"
            )
        )
    return {"counts": counts, "customers": customers}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_it_creates_the_demo_world(demo_world):
    output = demo_world
    utilities = {u.slug: u for u in Utility.objects.all()}
    assert {"pvp", "frec"} <= set(utilities)
    assert utilities["pvp"].time_zone != utilities["frec"].time_zone
    with scopes_disabled():
        for slug in ("pvp", "frec"):
            utility = utilities[slug]
            accounts = ServiceAccount.objects.filter(utility=utility)
            assert accounts.count() == CUSTOMERS_PER_DEMO_UTILITY
            assert set(accounts.values_list("zip_code", flat=True)) <= set(
                utility.territory_zip_codes
            )
            assert AccessRequest.objects.filter(
                utility=utility, status=AccessRequest.Status.PENDING
            ).exists()
            assert AuditEvent.objects.filter(utility=utility, action="utility.created").exists()
        both = InstallerCompany.objects.filter(approvals__isnull=False).distinct()
        assert any(c.approvals.count() == 2 for c in both)
        assert AHJTerritory.objects.count() >= 3
        agreements = PartnerAgreement.objects.filter(status=PartnerAgreement.Status.ACTIVE)
        assert any(
            agreements.filter(partner=p).count() == 1 for p in AutomakerPartner.objects.all()
        )
    assert DEMO_PASSWORD in output
    for spec in LOGINS:
        assert spec.email in output


def test_it_is_idempotent(demo_world):
    first = snapshot()
    seed()
    assert snapshot() == first


def test_it_has_a_login_for_every_role():
    roles = {role for spec in LOGINS for role, _ in spec.memberships}
    assert roles == set(Role.values)
    assert any(spec.superuser for spec in LOGINS)
    assert any(len(spec.memberships) > 1 for spec in LOGINS)


@pytest.fixture(autouse=True)
def _clean_cache():
    # Login throttling and used TOTP codes are counted in the cache; start each login clean.
    cache.clear()


def fresh_totp_code(email: str) -> str:
    code, seconds_left = demo_totp_code(email=email)
    if seconds_left < 3:  # about to roll over: wait for the next code
        time.sleep(seconds_left + 0.5)
        code, _ = demo_totp_code(email=email)
    return code


def sign_in(client, email: str):
    response = client.post(reverse("account_login"), {"login": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.content[:2000]
    if response["Location"] == reverse("mfa_authenticate"):
        response = client.post(reverse("mfa_authenticate"), {"code": fresh_totp_code(email)})
        assert response.status_code == 302, response.content[:2000]
    return client.get(response["Location"], follow=True)


def expected_landing(spec: LoginSpec) -> str:
    if spec.superuser or len(spec.memberships) > 1:
        return reverse("home")
    role, slug = spec.memberships[0]
    kind = ROLE_ORG_KIND[role]
    if kind == OrgKind.UTILITY:
        return reverse("utility:dashboard", kwargs={"utility_slug": slug})
    if kind == OrgKind.INSTALLER:
        return reverse("installer_workspace", kwargs={"org_slug": slug})
    return reverse("ahj_workspace", kwargs={"org_slug": slug})


@pytest.mark.parametrize("spec", LOGINS, ids=lambda spec: spec.email)
def test_it_signs_every_demo_login_in_to_its_workspace(client, demo_world, spec):
    response = sign_in(client, spec.email)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == expected_landing(spec)
    if len(spec.memberships) > 1:
        for _, slug in spec.memberships:
            assert Utility.objects.get(slug=slug).name in response.content.decode()
    if spec.superuser:
        assert client.get("/admin/").status_code == 200


def test_it_requires_totp_of_every_program_admin(demo_world):
    admins = User.objects.filter(memberships__role=Role.PROGRAM_ADMIN).distinct()
    assert admins.exists()
    for user in admins:
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def test_it_prints_a_totp_code_allauth_accepts(demo_world):
    email = f"admin@pvp.{DEMO_EMAIL_DOMAIN}"
    fresh_totp_code(email)  # step past a rollover before reading the command's code
    out = StringIO()
    call_command("demo_totp", email, stdout=out, stderr=StringIO())
    code = out.getvalue().strip()
    assert re.fullmatch(r"\d{6}", code)
    authenticator = Authenticator.objects.get(user__email=email, type=Authenticator.Type.TOTP)
    assert TOTP(authenticator).validate_code(code)


def test_it_refuses_a_totp_code_for_a_real_secret(demo_world):
    user = User.objects.create_user("someone@example.test", "x" * 16)
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    with pytest.raises(CommandError):
        call_command("demo_totp", user.email, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("demo_totp", "nobody@example.test", stdout=StringIO(), stderr=StringIO())


def test_it_makes_and_tops_up_the_scale_tenant():
    seed(scale=25)
    utility = Utility.objects.get(slug=SCALE_SLUG)
    with scope(utility=utility.pk):
        assert ServiceAccount.objects.count() == 25
        assert AuditEvent.objects.filter(comment=SCALE_AUDIT_COMMENT).count() == 2
    seed(scale=40)
    with scope(utility=utility.pk):
        assert ServiceAccount.objects.count() == 40
        assert AuditEvent.objects.filter(comment=SCALE_AUDIT_COMMENT).count() == 4
    admin = User.objects.get(email=SCALE_LOGINS[0].email)
    assert Membership.objects.filter(user=admin, utility=utility, role=Role.PROGRAM_ADMIN).exists()
    assert Authenticator.objects.filter(user=admin).exists()
    assert scale_customer_count() == 40


def test_the_readme_lists_every_demo_login():
    readme = README.read_text()
    for spec in (*LOGINS, *SCALE_LOGINS):
        assert spec.email in readme
    assert DEMO_PASSWORD in readme
    assert DEMO_TOTP_SECRET in readme
