"""Tenant isolation across every route of the portal.

Each URL pattern must appear in one of the tables below, or the suite fails: a new page or
endpoint cannot ship without saying how another utility's objects stay invisible on it.
For every utility page the suite proves: another utility's slug is 404, another utility's
object under your own slug is 404, lists show only your utility's rows, anonymous users are
sent to sign in, and each role gets the page only if its capabilities allow (403 otherwise).
"""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse
from django_scopes import scopes_disabled

from portal import audit
from portal.models import Membership
from portal.roles import CAPABILITIES, UTILITY_ROLES, Role
from tests.billing.isolation_cases import BILLING_CASES
from tests.billing.meter_isolation_cases import METER_CASES
from tests.customers.factories import ServiceAccountFactory
from tests.devices.isolation_cases import DEVICES_CASES
from tests.dispatch.isolation_cases import DISPATCH_CASES
from tests.enrollment.isolation_cases import PROGRAM_API, PROGRAM_CASES
from tests.incentives.isolation_cases import INCENTIVE_API, INCENTIVE_CASES
from tests.interconnection.isolation_cases import INTERCONNECTION_CASES, INTERCONNECTION_ORG_ROUTES
from tests.isolation import Case, pk_kwargs
from tests.portal.factories import (
    AHJFactory,
    AHJTerritoryFactory,
    AutomakerPartnerFactory,
    InstallerApprovalFactory,
    InstallerCompanyFactory,
    PartnerAgreementFactory,
    UserFactory,
    make_member,
)
from tests.portal.identity_isolation_cases import IDENTITY_CASES, IDENTITY_NOT_TENANT_DATA
from tests.routes import all_routes

pytestmark = pytest.mark.django_db


def _customer(utility):
    return ServiceAccountFactory(utility=utility, customer_name=f"{utility.name} Marker Customer")


def _audit_event(utility):
    with scopes_disabled():
        return audit.record(
            action="test.marked", utility=utility, comment=f"{utility.name} marker event"
        )


def _agreement(utility):
    partner = AutomakerPartnerFactory(name=f"{utility.name} Marker Motors")
    return PartnerAgreementFactory(utility=utility, partner=partner)


def _installer(utility):
    company = InstallerCompanyFactory(name=f"{utility.name} Marker Solar")
    AHJTerritoryFactory(utility=utility, ahj=AHJFactory(name=f"{utility.name} Marker AHJ"))
    return InstallerApprovalFactory(utility=utility, installer=company)


UTILITY_CASES: dict[str, Case] = {
    "utility:dashboard": Case(make=_customer),
    "utility:audit_list": Case(make=_audit_event, marker=lambda e: e.comment),
    "utility:audit_export": Case(make=_audit_event, marker=lambda e: e.comment),
    "utility:audit_detail": Case(make=_audit_event, kwargs=pk_kwargs, marker=lambda e: e.comment),
    "utility:customer_list": Case(make=_customer, marker=lambda c: c.customer_name),
    "utility:customer_detail": Case(
        make=_customer, kwargs=pk_kwargs, marker=lambda c: c.customer_name
    ),
    "utility:partner_list": Case(make=_agreement, marker=lambda a: a.partner.name),
    "utility:installer_list": Case(make=_installer, marker=lambda a: a.installer.name),
    **DEVICES_CASES,
    **IDENTITY_CASES,
    **PROGRAM_CASES,
    **INCENTIVE_CASES,
    **INTERCONNECTION_CASES,
    **DISPATCH_CASES,
    **BILLING_CASES,
    **METER_CASES,
}

# Pages outside any utility that show no tenant data, or check their own access (tested in
# the named test modules).
NOT_TENANT_DATA: dict[str, str] = {
    "home": "lists only the signed-in person's own workspaces",
    "switch_workspace": "redirects only to the person's own workspaces (test_workspaces)",
    "healthz": "database and broker status only",
    "installer_workspace": "organization workspace (ORG_CASES below)",
    "ahj_workspace": "organization workspace (ORG_CASES below)",
    "api:v1:root": "public links only",
    "api:v1:me": "the calling client's own partner and utilities (test_api_auth)",
    "api:v1:utility-list": "partner API; scoped to the client's utilities (test_api_utilities)",
    "api:v1:utility-detail": "partner API; outside the client's reach is 404 (test_api_utilities)",
    "api:schema": "API description, no data",
    "api:docs": "API description, no data",
    "api:not_found": "JSON 404 for unknown /api/ paths",
    "oauth2_provider:token": "OAuth2 client credentials",
    "oauth2_provider:revoke-token": "OAuth2 token revocation",
    "api:v1:vehicle-list": "partner API; only the client's partner's vehicles in its utilities "
    "(test_api_vehicles::test_it_lists_only_the_partners_vehicles_in_the_clients_utilities)",
    "api:v1:vehicle-detail": "partner API; another partner's or utility's vehicle is 404 "
    "(test_api_vehicles::test_it_answers_404_for_a_vehicle_that_is_not_the_clients)",
    "api:v1:vehicle-by-id": "partner API; as vehicle-detail (same test)",
    "api:v1:vehicle-preferences": "partner API; a foreign vehicle is 404 "
    "(test_api_preferences::test_it_answers_404_for_a_vehicle_that_is_not_the_clients)",
    "api:v1:telemetry": "partner API; a foreign vehicle's reading is unknown_vehicle "
    "(test_api_telemetry::test_it_treats_another_partners_or_utilitys_vehicle_as_unknown)",
    "api:v1:command-pull": "partner API; only the client's partner's commands in its utilities "
    "(test_api_commands::test_it_hands_out_only_the_clients_live_pending_commands)",
    "api:v1:command-ack": "partner API; a foreign command is unknown_command "
    "(test_api_commands::test_it_answers_unknown_command_for_one_that_is_not_the_clients)",
    "api:v1:opt-out-create": "partner API; a foreign vehicle is 404 "
    "(test_api_opt_outs::test_it_answers_404_for_a_vehicle_that_is_not_the_clients)",
    **IDENTITY_NOT_TENANT_DATA,
    **PROGRAM_API,
    **INCENTIVE_API,
    **INTERCONNECTION_ORG_ROUTES,
}

# Whole areas with their own access rules.
EXEMPT_PREFIXES: dict[str, str] = {
    "accounts/": "allauth: sign-in, password reset, MFA — the person's own account only",
    "admin/": "platform operators (is_staff) only",
    "static/": "static files",
}


def _covered(route) -> bool:
    return (
        route.name in UTILITY_CASES
        or route.name in NOT_TENANT_DATA
        or route.route.startswith(tuple(EXEMPT_PREFIXES))
    )


def test_it_covers_every_route():
    missing = [f"{r.name} ({r.route})" for r in all_routes() if not _covered(r)]
    assert not missing, "Routes without a tenant-isolation case:\n" + "\n".join(missing)


def test_it_has_no_stale_cases():
    names = {r.name for r in all_routes()}
    stale = (set(UTILITY_CASES) | set(NOT_TENANT_DATA)) - names
    assert not stale, f"Cases for routes that no longer exist: {sorted(stale)}"


def _with_totp(user):
    TOTP.activate(user, generate_totp_secret())
    return user


@pytest.fixture
def all_roles_member(utility_a):
    """One person holding every utility role in utility A (program admin needs TOTP)."""
    user = _with_totp(UserFactory(email="everything@alpha.test"))
    for role in UTILITY_ROLES:
        Membership.objects.create(user=user, role=role, utility=utility_a)
    return user


def _url(name: str, utility, case: Case, obj) -> str:
    return reverse(name, kwargs={"utility_slug": utility.slug, **case.kwargs(obj)})


def _request(client, case: Case, url: str):
    return getattr(client, case.method)(url)


@pytest.mark.parametrize("name", sorted(UTILITY_CASES))
def test_it_answers_404_for_another_utilitys_slug(
    name, client, utility_a, utility_b, all_roles_member
):
    case = UTILITY_CASES[name]
    obj_b = case.make(utility_b) if case.make else None
    client.force_login(all_roles_member)
    response = _request(client, case, _url(name, utility_b, case, obj_b))
    assert response.status_code == 404


def _object_routes() -> list[str]:
    """Utility routes that address one object (their pattern has more than the slug)."""
    return sorted(
        r.name for r in all_routes() if r.name in UTILITY_CASES and r.route.count("<") > 1
    )


@pytest.mark.parametrize("name", _object_routes())
def test_it_answers_404_for_another_utilitys_object_under_your_slug(
    name, client, utility_a, utility_b, all_roles_member
):
    case = UTILITY_CASES[name]
    obj_a, obj_b = case.make(utility_a), case.make(utility_b)
    client.force_login(all_roles_member)
    assert _request(client, case, _url(name, utility_a, case, obj_b)).status_code == 404
    assert _request(client, case, _url(name, utility_a, case, obj_a)).status_code == 200


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("name", sorted(n for n, c in UTILITY_CASES.items() if c.marker))
def test_it_shows_only_your_utilitys_rows(name, client, utility_a, utility_b, all_roles_member):
    case = UTILITY_CASES[name]
    obj_a, obj_b = case.make(utility_a), case.make(utility_b)
    client.force_login(all_roles_member)
    response = _request(client, case, _url(name, utility_a, case, obj_a))
    assert response.status_code == 200
    body = _body(response)
    assert case.marker(obj_a) in body
    assert case.marker(obj_b) not in body


@pytest.mark.parametrize("name", sorted(UTILITY_CASES))
def test_it_sends_anonymous_visitors_to_sign_in(name, client, utility_a):
    case = UTILITY_CASES[name]
    obj = case.make(utility_a) if case.make else None
    response = _request(client, case, _url(name, utility_a, case, obj))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def _required_capability(name: str) -> str:
    route = next(r for r in all_routes() if r.name == name)
    return route.view_class.required_capability


@pytest.mark.parametrize("role", UTILITY_ROLES)
def test_it_gives_each_role_exactly_the_pages_its_capabilities_allow(role, client, utility_a):
    user = make_member(role, utility=utility_a)
    if role == Role.PROGRAM_ADMIN:
        _with_totp(user)
    client.force_login(user)
    for name, case in UTILITY_CASES.items():
        if case.method != "get":
            continue
        obj = case.make(utility_a) if case.make else None
        allowed = _required_capability(name) in CAPABILITIES[role]
        status = _request(client, case, _url(name, utility_a, case, obj)).status_code
        assert status == (200 if allowed else 403), f"{role} on {name}: {status}"


# --- Organization workspaces (installer companies, AHJs) ------------------------------------


def test_it_hides_another_installer_companys_workspace(client):
    mine, theirs = InstallerCompanyFactory(), InstallerCompanyFactory()
    user = make_member(Role.INSTALLER_USER, installer=mine)
    client.force_login(user)
    assert client.get(reverse("installer_workspace", args=[mine.slug])).status_code == 200
    assert client.get(reverse("installer_workspace", args=[theirs.slug])).status_code == 404


def test_it_shows_an_installer_only_its_own_utilities(client, utility_a, utility_b):
    mine, theirs = InstallerCompanyFactory(), InstallerCompanyFactory(name="Other Marker Solar")
    InstallerApprovalFactory(utility=utility_a, installer=mine)
    InstallerApprovalFactory(utility=utility_b, installer=theirs)
    client.force_login(make_member(Role.INSTALLER_ADMIN, installer=mine))
    body = client.get(reverse("installer_workspace", args=[mine.slug])).content.decode()
    assert utility_a.name in body
    assert utility_b.name not in body


def test_it_hides_another_ahjs_workspace(client, utility_a):
    mine, theirs = AHJFactory(), AHJFactory()
    client.force_login(make_member(Role.AHJ_REVIEWER, ahj=mine))
    assert client.get(reverse("ahj_workspace", args=[mine.slug])).status_code == 200
    assert client.get(reverse("ahj_workspace", args=[theirs.slug])).status_code == 404


def test_it_refuses_installer_and_ahj_users_on_utility_pages(client, utility_a):
    company = InstallerCompanyFactory()
    InstallerApprovalFactory(utility=utility_a, installer=company)
    client.force_login(make_member(Role.INSTALLER_ADMIN, installer=company))
    assert client.get(reverse("utility:dashboard", args=[utility_a.slug])).status_code == 404
