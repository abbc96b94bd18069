"""Demo organizations: the two demo utilities and the benchmark tenant, the installer
companies, AHJs, automaker partners and access requests around them, and the functions that
create them. Keyed on slugs, so seeding twice creates nothing new."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import models
from django_scopes import scope

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
    PartnerAgreement,
    Utility,
)
from portal.roles import Role

SCALE_SLUG = "scale"


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
    record_once(action="utility.created", utility=utility, obj=utility, to_state="active")
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
            record_once(
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
            record_once(action="ahj_territory.added", utility=utility, obj=territory)
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
            record_once(
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
        record_once(
            action="access_request.submitted",
            utility=utility,
            obj=request,
            to_state=AccessRequest.Status.PENDING,
        )
    return request


def record_once(*, action: str, utility: Utility, obj: models.Model, **fields) -> None:
    """Audit rows cannot be deleted, so a rerun must not add a second one."""
    with scope(utility=utility.pk):
        if AuditEvent.objects.filter(
            action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk)
        ).exists():
            return
        audit.record(action=action, utility=utility, obj=obj, comment="Demo data", **fields)
