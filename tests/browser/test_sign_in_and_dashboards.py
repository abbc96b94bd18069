"""A program admin signs in with a password and a TOTP code and sees the utility dashboard;
an installer signs in and sees the company workspace."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from playwright.sync_api import expect

from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.portal.factories import (
    DEFAULT_PASSWORD,
    InstallerApprovalFactory,
    InstallerCompanyFactory,
    UserFactory,
    make_member,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def current_totp(secret: str) -> str:
    import time

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(page, email: str, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label(re.compile("email", re.I)).fill(email)
    page.get_by_label(re.compile("^password", re.I)).fill(password)
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()


def test_it_signs_a_program_admin_in_with_totp(page, utility_a):
    ServiceAccountFactory(utility=utility_a)
    admin = make_member(
        Role.PROGRAM_ADMIN, utility=utility_a, user=UserFactory(email="admin@alpha.test")
    )
    secret = generate_totp_secret()
    TOTP.activate(admin, secret)

    sign_in(page, "admin@alpha.test")
    # allauth asks for the second factor before the session is signed in.
    page.get_by_label(re.compile("code", re.I)).fill(current_totp(secret))
    page.get_by_role("button", name=re.compile("sign in|verify|confirm", re.I)).click()

    expect(page).to_have_url(re.compile(r"/u/alpha/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha Power")
    expect(page.get_by_role("navigation", name="Alpha Power")).to_contain_text("Audit trail")
    expect(page.get_by_role("navigation", name="Alpha Power")).to_contain_text("Team")


def test_it_sends_a_program_admin_without_totp_to_set_it_up(page, utility_a):
    make_member(
        Role.PROGRAM_ADMIN, utility=utility_a, user=UserFactory(email="new-admin@alpha.test")
    )
    sign_in(page, "new-admin@alpha.test")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    page.goto("/u/alpha/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))


def test_it_shows_an_installer_their_workspace(page, utility_a):
    company = InstallerCompanyFactory(name="Sunrise EV Electric", slug="sunrise")
    InstallerApprovalFactory(utility=utility_a, installer=company)
    make_member(Role.INSTALLER_USER, installer=company, user=UserFactory(email="crew@sunrise.test"))

    sign_in(page, "crew@sunrise.test")

    expect(page).to_have_url(re.compile(r"/installer/sunrise/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sunrise EV Electric")
    expect(page.get_by_role("table")).to_contain_text("Alpha Power")


def test_it_refuses_a_wrong_password(page, utility_a):
    make_member(
        Role.PROGRAM_ANALYST, utility=utility_a, user=UserFactory(email="analyst@alpha.test")
    )
    sign_in(page, "analyst@alpha.test", password="not-the-password")
    expect(page.get_by_text(re.compile("not correct", re.I))).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_the_api_docs_and_a_printable_letter_run_under_the_policy(page, settings):
    # Swagger UI starts from a script file, and the letter's print button from a static
    # handler; the page fixture fails the test on any CSP violation Chromium reports.
    settings.API_DOCS_PUBLIC = True
    page.goto("/api/docs/")
    expect(page.get_by_text("V2X Program Portal — Partner API")).to_be_visible()
