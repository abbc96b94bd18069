"""Demo data: two fictional utilities and the organizations and people around them, and an
optional large tenant for benchmarks.

Everything is keyed on natural keys (slugs, emails, account numbers), so seeding twice
creates nothing new. Customers are generated from ``random.Random(f"{slug}:{index}")``: the
same index always gives the same customer, so a rerun, or a top-up to a larger count, yields
identical rows without storing any state.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone
from django_scopes import scope

from devices.models import TelemetryRollup, Vehicle
from enrollment.models import Enrollment
from portal import audit
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

# Shared by every demo login; documented in the README. Never use outside a demo.
DEMO_PASSWORD = "demo-portal-2026!"  # noqa: S105
# Base32 TOTP secret pre-activated for the demo program admins (add it to any authenticator
# app, or run `manage.py demo_totp EMAIL`).
DEMO_TOTP_SECRET = "V2XDEMOPORTALTOTPSECRETKEYABCDEF"  # noqa: S105
DEMO_EMAIL_DOMAIN = "demo.test"
SCALE_SLUG = "scale"
CUSTOMERS_PER_DEMO_UTILITY = 300
BULK_BATCH_SIZE = 2000


class DemoError(Exception):
    """A demo operation asked for something the demo data does not contain."""


# --- Definitions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UtilitySpec:
    name: str
    slug: str
    time_zone: str
    service_territory: str
    state: str
    holiday_subdivision: str
    area_code: str
    account_prefix: str
    meter_prefix: str
    zip_cities: dict[str, str]
    tariffs: dict[str, str]
    # (role, full name) for the staff logins of this utility.
    staff: tuple[tuple[str, str], ...] = ()

    @property
    def zip_codes(self) -> list[str]:
        return sorted(self.zip_cities)


@dataclass(frozen=True)
class InstallerSpec:
    name: str
    slug: str
    license_state: str
    license_number: str
    phone: str
    approved_in: tuple[str, ...]


@dataclass(frozen=True)
class AHJSpec:
    name: str
    slug: str
    jurisdiction: str
    zip_codes: tuple[str, ...]
    overlaps: tuple[str, ...]


@dataclass(frozen=True)
class PartnerSpec:
    name: str
    slug: str
    contact_email: str
    agreements: tuple[str, ...]
    starts_on: date


@dataclass(frozen=True)
class AccessRequestSpec:
    utility: str
    company_name: str
    license_state: str
    license_number: str
    contact_name: str
    contact_email: str
    message: str
    installer: str | None = None  # slug of an existing company, or None for a new one


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


_RATE_CLASS_WEIGHTS = (
    (ServiceAccount.RateClass.RESIDENTIAL, 45),
    (ServiceAccount.RateClass.RESIDENTIAL_TOU, 25),
    (ServiceAccount.RateClass.RESIDENTIAL_EV, 24),
    (ServiceAccount.RateClass.SMALL_COMMERCIAL, 6),
)

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

UTILITIES = (
    UtilitySpec(
        name="Pacific Valley Power",
        slug="pvp",
        time_zone="America/Los_Angeles",
        service_territory=(
            "Fresno, Madera, Kings and Tulare counties in California's Central Valley: "
            "the cities of Fresno, Clovis, Madera, Visalia and Hanford."
        ),
        state="CA",
        holiday_subdivision="CA",
        area_code="559",
        account_prefix="31",
        meter_prefix="PV",
        zip_cities={
            "93701": "Fresno",
            "93704": "Fresno",
            "93710": "Fresno",
            "93720": "Fresno",
            "93611": "Clovis",
            "93612": "Clovis",
            "93637": "Madera",
            "93277": "Visalia",
            "93291": "Visalia",
            "93230": "Hanford",
        },
        tariffs={
            ServiceAccount.RateClass.RESIDENTIAL: "R-1 Residential",
            ServiceAccount.RateClass.RESIDENTIAL_TOU: "TOU-R 4-9 pm",
            ServiceAccount.RateClass.RESIDENTIAL_EV: "EV-TOU-2",
            ServiceAccount.RateClass.SMALL_COMMERCIAL: "GS-1 Small General Service",
        },
        staff=(
            (Role.PROGRAM_ADMIN, "Maria Alvarez"),
            (Role.PROGRAM_ANALYST, "Kevin Tran"),
            (Role.INTERCONNECTION_ENGINEER, "Priya Raman"),
            (Role.DR_OPERATOR, "Marcus Bell"),
            (Role.SETTLEMENT_ANALYST, "Hannah Okafor"),
            (Role.CUSTOMER_SERVICE, "Luis Ortega"),
            (Role.AUDITOR, "Grace Whitfield"),
        ),
    ),
    UtilitySpec(
        name="Front Range Electric Co-op",
        slug="frec",
        time_zone="America/Denver",
        service_territory=(
            "Larimer and Weld counties and northern Boulder County, Colorado: Fort Collins, "
            "Loveland, Berthoud, Longmont and Greeley."
        ),
        state="CO",
        holiday_subdivision="CO",
        area_code="970",
        account_prefix="42",
        meter_prefix="FR",
        zip_cities={
            "80521": "Fort Collins",
            "80524": "Fort Collins",
            "80525": "Fort Collins",
            "80537": "Loveland",
            "80538": "Loveland",
            "80513": "Berthoud",
            "80501": "Longmont",
            "80503": "Longmont",
            "80631": "Greeley",
            "80634": "Greeley",
        },
        tariffs={
            ServiceAccount.RateClass.RESIDENTIAL: "RE-1 Residential",
            ServiceAccount.RateClass.RESIDENTIAL_TOU: "RE-TOU Time of Day",
            ServiceAccount.RateClass.RESIDENTIAL_EV: "RE-EV Managed Charging",
            ServiceAccount.RateClass.SMALL_COMMERCIAL: "SC-1 Small Commercial",
        },
        staff=(
            (Role.PROGRAM_ADMIN, "Daniel Brooks"),
            (Role.PROGRAM_ANALYST, "Aisha Rahman"),
            (Role.INTERCONNECTION_ENGINEER, "Tom Lindqvist"),
            (Role.DR_OPERATOR, "Rosa Martinez"),
            (Role.SETTLEMENT_ANALYST, "Ethan Clarke"),
            (Role.CUSTOMER_SERVICE, "Megan O'Neill"),
            (Role.AUDITOR, "Samuel Yoder"),
        ),
    ),
)

SCALE_UTILITY = UtilitySpec(
    name="Scale Test Utility",
    slug=SCALE_SLUG,
    time_zone="America/Chicago",
    service_territory="Travis and Williamson counties, Texas (benchmark tenant).",
    state="TX",
    holiday_subdivision="TX",
    area_code="512",
    account_prefix="99",
    meter_prefix="SC",
    zip_cities={
        "78701": "Austin",
        "78702": "Austin",
        "78704": "Austin",
        "78745": "Austin",
        "78660": "Pflugerville",
        "78664": "Round Rock",
        "78613": "Cedar Park",
        "78626": "Georgetown",
    },
    tariffs={
        ServiceAccount.RateClass.RESIDENTIAL: "RS Residential",
        ServiceAccount.RateClass.RESIDENTIAL_TOU: "RS-TOU",
        ServiceAccount.RateClass.RESIDENTIAL_EV: "RS-EV",
        ServiceAccount.RateClass.SMALL_COMMERCIAL: "GS Secondary",
    },
    staff=((Role.PROGRAM_ADMIN, "Scale Admin"), (Role.AUDITOR, "Scale Auditor")),
)

INSTALLERS = (
    InstallerSpec(
        name="Bright Current Electric",
        slug="bright-current",
        license_state="CA",
        license_number="1048213",
        phone="(559) 555-0142",
        approved_in=("pvp", "frec"),
    ),
    InstallerSpec(
        name="Valley Volt EV Installers",
        slug="valley-volt",
        license_state="CA",
        license_number="1093377",
        phone="(559) 555-0187",
        approved_in=("pvp",),
    ),
    InstallerSpec(
        name="Foothills EV Wiring",
        slug="foothills-ev",
        license_state="CO",
        license_number="EC.0201934",
        phone="(970) 555-0123",
        approved_in=("frec",),
    ),
)

AHJS = (
    AHJSpec(
        name="City of Fresno Building & Safety",
        slug="fresno-building",
        jurisdiction="City of Fresno, CA",
        zip_codes=("93701", "93704", "93710", "93720"),
        overlaps=("pvp",),
    ),
    AHJSpec(
        name="Tulare County Resource Management Agency",
        slug="tulare-county-rma",
        jurisdiction="Tulare County, CA",
        zip_codes=("93277", "93291"),
        overlaps=("pvp",),
    ),
    AHJSpec(
        name="City of Fort Collins Building Services",
        slug="fort-collins-building",
        jurisdiction="City of Fort Collins, CO",
        zip_codes=("80521", "80524", "80525"),
        overlaps=("frec",),
    ),
    AHJSpec(
        name="Larimer County Building Division",
        slug="larimer-county-building",
        jurisdiction="Larimer County, CO",
        zip_codes=("80513", "80537", "80538"),
        overlaps=("frec",),
    ),
)

PARTNERS = (
    PartnerSpec(
        name="Blue Oval Motors",
        slug="blue-oval",
        contact_email="grid-services@blueoval.example",
        agreements=("pvp", "frec"),
        starts_on=date(2025, 3, 1),
    ),
    PartnerSpec(
        name="Kestrel Automotive",
        slug="kestrel",
        contact_email="v2x-partners@kestrel-auto.example",
        agreements=("pvp", "frec"),
        starts_on=date(2025, 6, 1),
    ),
    PartnerSpec(
        name="General Mobility",
        slug="general-mobility",
        contact_email="energy-api@generalmobility.example",
        agreements=("pvp",),
        starts_on=date(2025, 9, 15),
    ),
)

ACCESS_REQUESTS = (
    AccessRequestSpec(
        utility="pvp",
        company_name="Foothills EV Wiring",
        license_state="CO",
        license_number="EC.0201934",
        contact_name="Riley Sandoval",
        contact_email="riley@foothills-ev.example",
        message="We are opening a Fresno office and would like to install V2H systems here.",
        installer="foothills-ev",
    ),
    AccessRequestSpec(
        utility="pvp",
        company_name="Sierra Sun & Charge",
        license_state="CA",
        license_number="1101456",
        contact_name="Ana Morales",
        contact_email="ana@sierrasun.example",
        message="Solar and bidirectional EVSE installer in Clovis; 40 installs a year.",
    ),
    AccessRequestSpec(
        utility="frec",
        company_name="Valley Volt EV Installers",
        license_state="CA",
        license_number="1093377",
        contact_name="Chris Delgado",
        contact_email="chris@valleyvolt.example",
        message="Several of our fleet customers have depots in Loveland.",
        installer="valley-volt",
    ),
    AccessRequestSpec(
        utility="frec",
        company_name="Peak to Plains Electric",
        license_state="CO",
        license_number="EC.0312877",
        contact_name="Jamie Olsen",
        contact_email="jamie@peaktoplains.example",
        message="Residential electrician in Greeley, certified for Ford and GM bidirectional chargers.",
    ),
)


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

# Deterministic material for customer records.
FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Daniel Lisa Matthew Nancy "
    "Anthony Betty Mark Sandra Donald Ashley Steven Emily Andrew Kimberly Joshua Donna Kenneth "
    "Michelle Kevin Carol Brian Amanda Timothy Melissa Ronald Deborah Jason Stephanie Jose "
    "Rebecca Luis Laura Carlos Maria Juan Rosa Miguel Ana Wei Mei Hiroshi Yuki Arjun Priya "
    "Mohammed Fatima Olga Ivan Kwame Amara Liam Sofia Noah Olivia Ethan Ava Mateo Camila"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Chen Patel Kim Singh Tanaka Okafor Novak Schmidt Yoder Lindqvist Dubois Rossi Kowalski "
    "O'Brien Murphy Castillo Vargas Mendoza Ortiz Fischer Becker Haddad Mensah"
).split()
STREETS = (
    "Olive Ave",
    "Shaw Ave",
    "Herndon Ave",
    "Cedar Ave",
    "Maple St",
    "Oak St",
    "Pine St",
    "Elm St",
    "Willow Way",
    "Sunset Dr",
    "Mountain View Rd",
    "Ridge Rd",
    "Prospect Rd",
    "Harmony Rd",
    "College Ave",
    "Mulberry St",
    "Meadowlark Ln",
    "Canyon Dr",
    "Lakeview Dr",
    "Orchard Ln",
    "Vineyard Way",
    "Walnut St",
    "Juniper Ct",
    "Aspen Ct",
    "Cottonwood Dr",
    "Sycamore Ln",
    "Peach Ave",
    "Railroad Ave",
    "Main St",
    "1st St",
    "2nd St",
    "3rd St",
    "Lincoln Ave",
    "Washington Blvd",
    "Highland Ave",
    "Park Ave",
)
BUSINESS_KINDS = (
    "Bakery",
    "Auto Repair",
    "Family Dental",
    "Hardware",
    "Veterinary Clinic",
    "Coffee Roasters",
    "Tire & Brake",
    "Dry Cleaning",
    "Florist",
    "Fitness",
)


# --- Customers ------------------------------------------------------------------------------


def account_number_for(*, spec: UtilitySpec, index: int) -> str:
    return f"{spec.account_prefix}{index:08d}"


def build_customer(*, utility: Utility, spec: UtilitySpec, index: int) -> ServiceAccount:
    """Customer number ``index`` (1-based) of a utility, always the same for the same index."""
    rng = random.Random(f"{spec.slug}:{index}")
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    rate_class = rng.choices(
        [rate for rate, _ in _RATE_CLASS_WEIGHTS], [weight for _, weight in _RATE_CLASS_WEIGHTS]
    )[0]
    if rate_class == ServiceAccount.RateClass.SMALL_COMMERCIAL:
        customer_name = f"{last} {rng.choice(BUSINESS_KINDS)}"
    else:
        customer_name = f"{first} {last}"
    zip_code = rng.choice(spec.zip_codes)
    address = f"{rng.randint(100, 9899)} {rng.choice(STREETS)}"
    if rng.random() < 0.15:
        address += f" Apt {rng.randint(1, 40)}"
    email = ""
    if rng.random() < 0.7:
        local = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
        email = f"{local}{index % 97}@example.com"
    # Multiplying by a number coprime with 10**8 maps indexes to distinct meter numbers.
    meter_number = (index * 7_654_321 + 1_234_567) % 100_000_000
    return ServiceAccount(
        utility=utility,
        account_number=account_number_for(spec=spec, index=index),
        customer_name=customer_name,
        email=email,
        phone=f"({spec.area_code}) 555-01{rng.randint(0, 99):02d}",
        premise_address=address,
        city=spec.zip_cities[zip_code],
        state=spec.state,
        zip_code=zip_code,
        meter_id=f"{spec.meter_prefix}{meter_number:08d}",
        rate_class=rate_class,
        tariff=spec.tariffs[rate_class],
        smart_meter=rng.random() < 0.97,
    )


def _chunks(indexes: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indexes), size):
        yield indexes[start : start + size]


def ensure_customers(*, utility: Utility, spec: UtilitySpec, count: int) -> int:
    """Make customers 1..count exist (creating only the missing ones); returns how many were
    created. Runs in batches so 100,000 rows never sit in memory at once."""
    with scope(utility=utility.pk):
        existing = set(ServiceAccount.objects.values_list("account_number", flat=True))
        missing = [
            index
            for index in range(1, count + 1)
            if account_number_for(spec=spec, index=index) not in existing
        ]
        for batch in _chunks(missing, BULK_BATCH_SIZE * 5):
            with transaction.atomic():
                ServiceAccount.objects.bulk_create(
                    [build_customer(utility=utility, spec=spec, index=i) for i in batch],
                    batch_size=BULK_BATCH_SIZE,
                )
    return len(missing)


# --- Organizations ------------------------------------------------------------------------


def ensure_utility(*, spec: UtilitySpec) -> Utility:
    utility, _ = Utility.objects.update_or_create(
        slug=spec.slug,
        defaults={
            "name": spec.name,
            "time_zone": spec.time_zone,
            "service_territory": spec.service_territory,
            "territory_zip_codes": spec.zip_codes,
            "holiday_country": "US",
            "holiday_subdivision": spec.holiday_subdivision,
        },
    )
    _record_once(action="utility.created", utility=utility, obj=utility, to_state="active")
    return utility


def ensure_installer(*, spec: InstallerSpec, utilities: dict[str, Utility]) -> InstallerCompany:
    company, _ = InstallerCompany.objects.update_or_create(
        slug=spec.slug,
        defaults={
            "name": spec.name,
            "license_state": spec.license_state,
            "license_number": spec.license_number,
            "phone": spec.phone,
        },
    )
    for slug in spec.approved_in:
        utility = utilities[slug]
        with scope(utility=utility.pk):
            approval, _ = InstallerApproval.objects.get_or_create(
                utility=utility, installer=company
            )
            _record_once(
                action="installer.approved", utility=utility, obj=approval, to_state="active"
            )
    return company


def ensure_ahj(*, spec: AHJSpec, utilities: dict[str, Utility]) -> AHJ:
    ahj, _ = AHJ.objects.update_or_create(
        slug=spec.slug,
        defaults={
            "name": spec.name,
            "jurisdiction": spec.jurisdiction,
            "zip_codes": list(spec.zip_codes),
        },
    )
    for slug in spec.overlaps:
        utility = utilities[slug]
        with scope(utility=utility.pk):
            territory, _ = AHJTerritory.objects.get_or_create(utility=utility, ahj=ahj)
            _record_once(action="ahj_territory.added", utility=utility, obj=territory)
    return ahj


def ensure_partner(*, spec: PartnerSpec, utilities: dict[str, Utility]) -> AutomakerPartner:
    partner, _ = AutomakerPartner.objects.update_or_create(
        slug=spec.slug, defaults={"name": spec.name, "contact_email": spec.contact_email}
    )
    for slug in spec.agreements:
        utility = utilities[slug]
        with scope(utility=utility.pk):
            # get_or_create: a status someone changed in the demo is theirs to keep.
            agreement, _ = PartnerAgreement.objects.get_or_create(
                utility=utility,
                partner=partner,
                defaults={"status": PartnerAgreement.Status.ACTIVE, "starts_on": spec.starts_on},
            )
            _record_once(
                action="agreement.activated",
                utility=utility,
                obj=agreement,
                to_state=PartnerAgreement.Status.ACTIVE,
            )
    return partner


def ensure_access_request(
    *, spec: AccessRequestSpec, utilities: dict[str, Utility]
) -> AccessRequest:
    utility = utilities[spec.utility]
    installer = InstallerCompany.objects.get(slug=spec.installer) if spec.installer else None
    with scope(utility=utility.pk):
        # Keyed without the status, so a request a demo admin decided stays decided.
        request, _ = AccessRequest.objects.get_or_create(
            utility=utility,
            license_state=spec.license_state,
            license_number=spec.license_number,
            defaults={
                "installer": installer,
                "company_name": spec.company_name,
                "contact_name": spec.contact_name,
                "contact_email": spec.contact_email,
                "message": spec.message,
            },
        )
        _record_once(
            action="access_request.submitted",
            utility=utility,
            obj=request,
            to_state=AccessRequest.Status.PENDING,
        )
    return request


def _record_once(*, action: str, utility: Utility, obj: models.Model, **fields) -> None:
    """Audit rows cannot be deleted, so a rerun must not add a second one."""
    with scope(utility=utility.pk):
        if AuditEvent.objects.filter(
            action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk)
        ).exists():
            return
        audit.record(action=action, utility=utility, obj=obj, comment="Demo data", **fields)


# --- People -------------------------------------------------------------------------------


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
            _record_once(
                action="membership.created", utility=org["utility"], obj=membership, to_state=role
            )
    if (
        needs_totp(spec)
        and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    ):
        TOTP.activate(user, DEMO_TOTP_SECRET)
    return user


def needs_totp(spec: LoginSpec) -> bool:
    return any(role == Role.PROGRAM_ADMIN for role, _ in spec.memberships)


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
            rows.append(LoginRow(spec.email, "Platform superuser (/admin/)", "—", False))
        for role, slug in spec.memberships:
            rows.append(LoginRow(spec.email, Role(role).label, names[slug], needs_totp(spec)))
    return rows


# --- Entry points -------------------------------------------------------------------------


@dataclass
class SeedReport:
    customers_created: int = 0
    logins: list[LoginRow] = field(default_factory=list)


def seed_demo(*, customers_per_utility: int = CUSTOMERS_PER_DEMO_UTILITY) -> SeedReport:
    """Create (or complete) the demo data set. Safe to run any number of times."""
    report = SeedReport()
    # One hash for every demo login: hashing is deliberately slow, and they share a password.
    password_hash = make_password(DEMO_PASSWORD)
    with transaction.atomic():
        utilities = {spec.slug: ensure_utility(spec=spec) for spec in UTILITIES}
        for spec in INSTALLERS:
            ensure_installer(spec=spec, utilities=utilities)
        for spec in AHJS:
            ensure_ahj(spec=spec, utilities=utilities)
        for spec in PARTNERS:
            ensure_partner(spec=spec, utilities=utilities)
        for spec in ACCESS_REQUESTS:
            ensure_access_request(spec=spec, utilities=utilities)
        for spec in LOGINS:
            ensure_login(spec=spec, password_hash=password_hash)
    for spec in UTILITIES:
        report.customers_created += ensure_customers(
            utility=utilities[spec.slug], spec=spec, count=customers_per_utility
        )
    _seed_fleet(utilities=utilities)
    from demo.events import ensure_demo_events
    from demo.incentives import ensure_demo_incentives
    from demo.interconnection import ensure_demo_interconnection
    from demo.programs import ensure_demo_programs

    for spec in UTILITIES:
        ensure_demo_programs(utility=utilities[spec.slug])
        ensure_demo_interconnection(utility=utilities[spec.slug])
        ensure_demo_incentives(utility=utilities[spec.slug])
        analyze_seeded_tables()
        ensure_demo_events(utility=utilities[spec.slug])
    report.logins = login_rows(LOGINS)
    return report


def _seed_fleet(*, utilities: dict[str, Utility]) -> None:
    """The demo fleet, and the fleet simulator as every demo partner's cloud (a webhook
    adapter at 127.0.0.1:8100 and API credentials for the simulator)."""
    from demo.fleet import ensure_demo_fleet
    from demo.simulator import ensure_demo_simulator

    partners = {spec.slug: AutomakerPartner.objects.get(slug=spec.slug) for spec in PARTNERS}
    for utility_spec in UTILITIES:
        ensure_demo_fleet(
            utility=utilities[utility_spec.slug],
            partners=[partners[p.slug] for p in PARTNERS if utility_spec.slug in p.agreements],
        )
    for spec in PARTNERS:
        ensure_demo_simulator(
            partner=partners[spec.slug], utilities=[utilities[s] for s in spec.agreements]
        )


def seed_scale_tenant(*, customers: int) -> SeedReport:
    """The benchmark tenant with ``customers`` customers and customers/10 audit rows, plus a
    program admin and an auditor. Tops up an existing one; never removes rows."""
    report = SeedReport()
    password_hash = make_password(DEMO_PASSWORD)
    with transaction.atomic():
        utility = ensure_utility(spec=SCALE_UTILITY)
        for spec in SCALE_LOGINS:
            ensure_login(spec=spec, password_hash=password_hash)
    report.customers_created = ensure_customers(
        utility=utility, spec=SCALE_UTILITY, count=customers
    )
    audit_created = ensure_scale_audit_trail(utility=utility, count=customers // 10)
    if report.customers_created or audit_created:
        refresh_planner_statistics(model_classes=[ServiceAccount, AuditEvent])
    report.logins = login_rows(SCALE_LOGINS)
    return report


def refresh_planner_statistics(*, model_classes: list[type[models.Model]]) -> None:
    """ANALYZE tables after a bulk load: until autovacuum gets to them, the query planner
    believes they are nearly empty and picks plans that are slow for 100,000 rows."""
    with connection.cursor() as cursor:
        for model in model_classes:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


SCALE_AUDIT_COMMENT = "Benchmark data"
_SCALE_AUDIT_ACTIONS = (
    ("customer.updated", "", ""),
    ("customer.contact_changed", "", ""),
    ("enrollment.submitted", "", "submitted"),
    ("enrollment.approved", "submitted", "approved"),
    ("event.opted_out", "enrolled", "opted_out"),
)


def ensure_scale_audit_trail(*, utility: Utility, count: int) -> int:
    """Top the tenant's audit trail up to ``count`` rows spread over the past year, each about
    one of its customers. Bulk-inserted: the trail is append-only, so nothing is updated."""
    label = ServiceAccount._meta.label_lower
    now = timezone.now()
    with scope(utility=utility.pk):
        have = AuditEvent.objects.filter(comment=SCALE_AUDIT_COMMENT).count()
        wanted = max(count - have, 0)
        if not wanted:
            return 0
        customers = list(
            ServiceAccount.objects.order_by("pk").values_list("pk", "account_number")[:wanted]
        )
        if not customers:
            return 0
        rows = []
        for offset in range(wanted):
            index = have + offset
            rng = random.Random(f"{utility.slug}:audit:{index}")
            pk, account_number = customers[offset % len(customers)]
            action, from_state, to_state = rng.choice(_SCALE_AUDIT_ACTIONS)
            rows.append(
                AuditEvent(
                    utility=utility,
                    created_at=now - timedelta(seconds=rng.randint(0, 365 * 86_400)),
                    actor_label="system",
                    action=action,
                    object_type=label,
                    object_id=str(pk),
                    object_repr=account_number,
                    from_state=from_state,
                    to_state=to_state,
                    comment=SCALE_AUDIT_COMMENT,
                )
            )
        with transaction.atomic():
            AuditEvent.objects.bulk_create(rows, batch_size=BULK_BATCH_SIZE)
    return wanted


def scale_customer_count() -> int:
    utility = Utility.objects.filter(slug=SCALE_SLUG).first()
    if utility is None:
        return 0
    with scope(utility=utility.pk):
        return ServiceAccount.objects.count()


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


def analyze_seeded_tables() -> None:
    """Fresh statistics for the tables the demo's past events read (the planner's inputs,
    M&V's rollups): bulk-seeded rows are invisible to the planner until autovacuum analyses
    them, and inside one transaction (a test) it never does."""
    tables = ", ".join(model._meta.db_table for model in (TelemetryRollup, Vehicle, Enrollment))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")  # noqa: S608 - table names from the models
