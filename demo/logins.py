"""Demo logins: one person for every role, their memberships, TOTP for the program admins,
the table ``seed_demo`` prints and the current TOTP code ``demo_totp`` prints."""

from __future__ import annotations

import time
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.db import models

from demo.organizations import AHJS, INSTALLERS, SCALE_UTILITY, UTILITIES, UtilitySpec, record_once
from portal.models import (
    AHJ,
    InstallerCompany,
    Membership,
    User,
    Utility,
)
from portal.roles import ROLE_ORG_KIND, OrgKind, Role

# Shared by every demo login; documented in the README. Never use outside a demo.
DEMO_PASSWORD = "demo-portal-2026!"  # noqa: S105
# Base32 TOTP secret pre-activated for the demo program admins (add it to any authenticator
# app, or run `manage.py demo_totp EMAIL`).
DEMO_TOTP_SECRET = "V2XDEMOPORTALTOTPSECRETKEYABCDEF"  # noqa: S105
DEMO_EMAIL_DOMAIN = "demo.test"


class DemoError(Exception):
    """A demo operation asked for something the demo data does not contain."""


@dataclass(frozen=True)
class LoginSpec:
    """A demo person and the memberships they hold, as (role, organization slug)."""

    email: str
    full_name: str
    memberships: tuple[tuple[str, str], ...] = ()
    superuser: bool = False


@dataclass(frozen=True)
class LoginRow:
    email: str
    role: str
    organization: str
    mfa: bool


# The local part of each utility role's demo address: admin@pvp.demo.test and so on.
ROLE_MAILBOX = {
    Role.PROGRAM_ADMIN: "admin",
    Role.PROGRAM_ANALYST: "analyst",
    Role.INTERCONNECTION_ENGINEER: "engineer",
    Role.DR_OPERATOR: "operator",
    Role.SETTLEMENT_ANALYST: "settlement",
    Role.CUSTOMER_SERVICE: "service",
    Role.AUDITOR: "auditor",
}


def _utility_logins(spec: UtilitySpec) -> list[LoginSpec]:
    return [
        LoginSpec(
            email=f"{ROLE_MAILBOX[role]}@{spec.slug}.{DEMO_EMAIL_DOMAIN}",
            full_name=full_name,
            memberships=((role, spec.slug),),
        )
        for role, full_name in spec.staff
    ]


LOGINS: tuple[LoginSpec, ...] = (
    *(login for spec in UTILITIES for login in _utility_logins(spec)),
    LoginSpec(
        email=f"admin@bright-current.{DEMO_EMAIL_DOMAIN}",
        full_name="Jordan Price",
        memberships=((Role.INSTALLER_ADMIN, "bright-current"),),
    ),
    LoginSpec(
        email=f"crew@bright-current.{DEMO_EMAIL_DOMAIN}",
        full_name="Casey Nguyen",
        memberships=((Role.INSTALLER_USER, "bright-current"),),
    ),
    LoginSpec(
        email=f"reviewer@fresno-building.{DEMO_EMAIL_DOMAIN}",
        full_name="Patricia Gomez",
        memberships=((Role.AHJ_REVIEWER, "fresno-building"),),
    ),
    # Holds roles in two utilities, so the workspace switcher has something to switch.
    LoginSpec(
        email=f"regional.analyst@{DEMO_EMAIL_DOMAIN}",
        full_name="Noah Fischer",
        memberships=((Role.PROGRAM_ANALYST, "pvp"), (Role.PROGRAM_ANALYST, "frec")),
    ),
    LoginSpec(email=f"platform@{DEMO_EMAIL_DOMAIN}", full_name="Platform Operator", superuser=True),
)

SCALE_LOGINS: tuple[LoginSpec, ...] = tuple(_utility_logins(SCALE_UTILITY))


def _organization(role: str, slug: str) -> dict[str, models.Model]:
    kind = ROLE_ORG_KIND[role]
    if kind == OrgKind.INSTALLER:
        return {"installer": InstallerCompany.objects.get(slug=slug)}
    if kind == OrgKind.AHJ:
        return {"ahj": AHJ.objects.get(slug=slug)}
    return {"utility": Utility.objects.get(slug=slug)}


def ensure_login(*, spec: LoginSpec, password_hash: str) -> User:
    """The user, a verified primary address (allauth requires one to sign in), their
    memberships, and TOTP for roles that must use it."""
    user, created = User.objects.get_or_create(
        email=spec.email,
        defaults={
            "full_name": spec.full_name,
            "password": password_hash,
            "is_staff": spec.superuser,
            "is_superuser": spec.superuser,
        },
    )
    EmailAddress.objects.update_or_create(
        user=user, email=spec.email, defaults={"verified": True, "primary": True}
    )
    for role, org_slug in spec.memberships:
        org = _organization(role, org_slug)
        membership, made = Membership.objects.get_or_create(user=user, role=role, **org)
        if made and "utility" in org:
            record_once(
                action="membership.created", utility=org["utility"], obj=membership, to_state=role
            )
    if (
        needs_totp(spec)
        and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    ):
        TOTP.activate(user, DEMO_TOTP_SECRET)
    return user


def needs_totp(spec: LoginSpec) -> bool:
    # Program admins and the platform's staff (the admin site) must use a second factor.
    return spec.superuser or any(role == Role.PROGRAM_ADMIN for role, _ in spec.memberships)


def login_rows(specs: tuple[LoginSpec, ...] | list[LoginSpec]) -> list[LoginRow]:
    """One row per (login, membership), for the printed table and the README."""
    names = {
        **{s.slug: s.name for s in (*UTILITIES, SCALE_UTILITY)},
        **{s.slug: s.name for s in INSTALLERS},
        **{s.slug: s.name for s in AHJS},
    }
    rows = []
    for spec in specs:
        if spec.superuser:
            rows.append(LoginRow(spec.email, "Platform superuser (/admin/)", "—", True))
        for role, slug in spec.memberships:
            rows.append(LoginRow(spec.email, Role(role).label, names[slug], needs_totp(spec)))
    return rows


def demo_totp_code(*, email: str, at: float | None = None) -> tuple[str, int]:
    """The current TOTP code of a demo login and the seconds it stays valid.

    Refuses any account whose secret is not the published demo secret, so this command can
    never be used to get past someone's real second factor.
    """
    authenticator = Authenticator.objects.filter(
        user__email=email.strip().lower(), type=Authenticator.Type.TOTP
    ).first()
    if authenticator is None:
        raise DemoError(f"{email} has no TOTP authenticator.")
    secret = decrypt(authenticator.data["secret"])
    if secret != DEMO_TOTP_SECRET:
        raise DemoError(f"{email} does not use the demo TOTP secret.")
    now = time.time() if at is None else at
    period = mfa_settings.TOTP_PERIOD
    code = format_hotp_value(hotp_value(secret, int(now) // period))
    return code, period - int(now) % period
