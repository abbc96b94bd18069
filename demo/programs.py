"""Demo programs and enrollments for a demo utility (see ``demo.seed``; its incentives are
``demo.incentives``', its interconnection applications ``demo.interconnection``'s), all made
through the project's own services, so states and audit rows are what the pages would have
produced.

Safe to run again: programs, terms and offers are keyed on their natural keys; a vehicle
that was ever enrolled in a program is not enrolled again; staff actions (override,
withdrawal) happen only when their result is not there yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_scopes import scope

from demo.fleet import is_cohort
from devices.models import Vehicle
from enrollment import services
from enrollment.models import Enrollment, Program, TermsVersion
from portal.models import User, Utility

DEMO_DOMAIN = "demo.test"
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TERMS_EFFECTIVE_ON = date(2025, 1, 1)
SEASONS = [
    {"name": "Summer", "months": [6, 7, 8, 9]},
    {"name": "Winter", "months": [11, 12, 1, 2]},
]
WEEKDAYS = [0, 1, 2, 3, 4]
DATA_SHARING = ["telemetry", "charging_schedule"]
COHORT_ENROLLED_DAYS_AGO = 120  # the dispatch cohort joined peak relief in the summer

Kind = Program.Kind
Status = Enrollment.Status


@dataclass(frozen=True)
class ProgramSpec:
    slug: str
    name: str
    kind: str
    description: str
    cap: int
    budget: Decimal
    fields: dict
    only_in: tuple[str, ...] = ()


PROGRAMS = (
    ProgramSpec(
        slug="smart-charge",
        name="Smart Charge Rewards",
        kind=Kind.V1G,
        description=(
            "Managed charging: the utility shifts home charging out of the 4–9 pm summer "
            "peak. For customers on a time-of-use or EV rate."
        ),
        cap=500,
        budget=Decimal("50000.00"),
        fields={
            "eligible_rate_classes": ["residential_tou", "residential_ev"],
            "max_events_per_season": 30,
            "max_hours_per_event": 3,
        },
    ),
    ProgramSpec(
        slug="home-backup-v2h",
        name="Home Backup V2H",
        kind=Kind.V2H,
        description=(
            "Vehicle-to-home: a bidirectional charger powers the home from the vehicle "
            "during peak events and outages. Needs approved equipment and interconnection PTO."
        ),
        cap=50,
        budget=Decimal("100000.00"),
        fields={
            "require_permission_to_operate": True,
            "discharge_soc_floor_pct": 30,
            "income_qualified_tier": True,
            "max_events_per_season": 20,
            "max_hours_per_event": 4,
        },
    ),
    ProgramSpec(
        slug="v2g-pilot",
        name="V2G Export Pilot",
        kind=Kind.V2G,
        description="A five-vehicle pilot exporting to the grid during summer peaks.",
        cap=5,
        budget=Decimal("10000.00"),
        fields={
            "require_permission_to_operate": True,
            "discharge_soc_floor_pct": 35,
            "max_events_per_season": 15,
            "max_hours_per_event": 2,
        },
        only_in=("pvp",),
    ),
    ProgramSpec(
        slug="peak-relief-v2h",
        name="Peak Relief V2H (backup-only)",
        kind=Kind.V2H,
        description=(
            "Backup-only vehicle-to-home: during peak events the home runs from the vehicle, "
            "isolated from the grid by its transfer switch — no export, so no interconnection "
            "study. Emergency events may be called at any time of year."
        ),
        cap=200,
        budget=Decimal("60000.00"),
        fields={
            "discharge_soc_floor_pct": 30,
            "max_events_per_season": 25,
            "max_hours_per_event": 3,
        },
    ),
)


# Which program each demo vehicle is enrolled in, by model and position within the model
# (0–5, see demo.fleet.VEHICLES_PER_MODEL); absent models (no agreement) are skipped.
PLAN = {
    "pvp": {
        "Longhorn EV": ["smart-charge"] * 2 + ["v2g-pilot"] * 4,
        "Sparrow": [["smart-charge", "home-backup-v2h"]] + ["smart-charge"] * 5,
        "K9 Summit": ["home-backup-v2h"] * 3 + ["v2g-pilot"] * 3,
        "Ridgeline EV": ["home-backup-v2h"] * 4 + ["smart-charge"] * 2,
    },
    "frec": {
        "Longhorn EV": ["smart-charge"] * 3 + ["home-backup-v2h"] * 3,
        "Sparrow": [["smart-charge", "home-backup-v2h"]] + ["smart-charge"] * 5,
        "K9 Summit": ["home-backup-v2h"] * 3 + ["smart-charge"] * 3,
    },
}
OVERRIDE_REASON = (
    "Customer's rate change to the EV rate is approved and takes effect on the next bill "
    "cycle (service order on file)."
)
WITHDRAW_REASON = "Customer sold the vehicle."


def pdf_upload(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


def user_by_email(email: str) -> User:
    return User.objects.get(email=email)


def ensure_demo_programs(*, utility: Utility) -> None:
    """Programs and enrollments for a demo utility."""
    with scope(utility=utility.pk), timezone.override(utility.tzinfo):
        admin = user_by_email(f"admin@{utility.slug}.{DEMO_DOMAIN}")
        programs = _ensure_programs(utility=utility, admin=admin)
        _ensure_enrollments(utility=utility, programs=programs, admin=admin)


# --- Programs -------------------------------------------------------------------------------


def _ensure_programs(*, utility: Utility, admin: User) -> dict[str, Program]:
    programs: dict[str, Program] = {}
    for spec in PROGRAMS:
        if spec.only_in and utility.slug not in spec.only_in:
            continue
        program = Program.objects.filter(utility=utility, slug=spec.slug).first()
        if program is None:
            program = services.save_program(
                program=Program(
                    utility=utility,
                    slug=spec.slug,
                    name=spec.name,
                    kind=spec.kind,
                    status=Program.Status.OPEN,
                    description=spec.description,
                    seasons=SEASONS,
                    event_weekdays=WEEKDAYS,
                    event_window_start=time(16, 0),
                    event_window_end=time(21, 0),
                    enrollment_cap=spec.cap,
                    budget_total=spec.budget,
                    min_notice_minutes=120,
                    **spec.fields,
                ),
                before=None,
                # V2H and V2G use the same battery: a vehicle is in one or the other.
                conflicting=[programs["home-backup-v2h"]] if spec.kind == Kind.V2G else [],
                actor=admin,
            )
        if not TermsVersion.objects.filter(program=program, version="2025.1").exists():
            services.add_terms_version(
                terms=TermsVersion(
                    utility=utility,
                    program=program,
                    version="2025.1",
                    title=f"{spec.name} participation terms",
                    body=(
                        f"By enrolling in {spec.name}, the customer lets {utility.name} manage "
                        "the vehicle's charging"
                        + (" and discharging" if spec.kind != Kind.V1G else "")
                        + " during events on weekdays between 4 pm and 9 pm, June to "
                        "September and November to February (emergency events at any time), "
                        "and to receive the telemetry and charging schedule needed for it. "
                        "The customer can opt out of any event in the app."
                    ),
                    effective_on=TERMS_EFFECTIVE_ON,
                    consent_valid_days=365,
                ),
                actor=admin,
            )
        programs[spec.slug] = program
    return programs


# --- Enrollments ----------------------------------------------------------------------------


def _vehicle_index(vehicle: Vehicle) -> int:
    return int(vehicle.partner_vehicle_id.rsplit("-", 1)[1])


def _fleet(utility: Utility) -> list[tuple[Vehicle, list[str]]]:
    """(vehicle, program slugs) in fleet order, from PLAN."""
    plan = PLAN.get(utility.slug, {})
    vehicles = sorted(
        Vehicle.objects.filter(
            utility=utility, status=Vehicle.Status.ACTIVE, service_account__isnull=False
        ).select_related("service_account", "partner"),
        key=_vehicle_index,
    )
    positions: dict[str, int] = {}
    rows = []
    for vehicle in vehicles:
        slots = plan.get(vehicle.model)
        if not slots:
            continue
        position = positions.get(vehicle.model, 0)
        positions[vehicle.model] = position + 1
        if position >= len(slots):
            continue
        slugs = slots[position]
        rows.append((vehicle, [slugs] if isinstance(slugs, str) else list(slugs)))
    return rows


def _ensure_enrollments(*, utility: Utility, programs: dict[str, Program], admin: User) -> None:
    now = timezone.now()
    cohort = [
        (vehicle, ["peak-relief-v2h"])
        for vehicle in Vehicle.objects.filter(
            utility=utility, status=Vehicle.Status.ACTIVE, service_account__isnull=False
        ).select_related("service_account", "partner")
        if is_cohort(vehicle)
    ]
    for number, (vehicle, slugs) in enumerate(_fleet(utility) + cohort):
        for slug in slugs:
            program = programs.get(slug)
            if (
                program is None
                or Enrollment.objects.filter(program=program, vehicle=vehicle).exists()
            ):
                continue
            terms = services.current_terms(program)
            services.submit_enrollment(
                program=program,
                account=vehicle.service_account,
                vehicle=vehicle,
                consent=services.ConsentInput(
                    terms_version=terms,
                    accepted_at=now - timedelta(days=max(1, 90 - number)),
                    channel=Enrollment.Channel.AUTOMAKER_APP,
                    data_sharing_scope=DATA_SHARING,
                ),
                channel=Enrollment.Channel.AUTOMAKER_APP,
                partner=vehicle.partner,
                now=now,
            )
    # The dispatch cohort has taken part since the summer (its past events and monthly
    # participation credits need that history).
    Enrollment.objects.filter(
        program__slug="peak-relief-v2h", activated_at__gte=now - timedelta(days=1)
    ).update(activated_at=now - timedelta(days=COHORT_ENROLLED_DAYS_AGO))
    smart = programs["smart-charge"]
    # One staff override: a customer about to move to an eligible rate.
    if not Enrollment.objects.filter(program=smart).exclude(override_reason="").exists():
        candidate = (
            Enrollment.objects.filter(program=smart, status=Status.ELIGIBILITY_REVIEW)
            .order_by("id")
            .first()
        )
        if candidate is not None:
            services.override(enrollment=candidate, reason=OVERRIDE_REASON, actor=admin)
    # One withdrawal (the customer sold the car), on their behalf by customer service.
    if not Enrollment.objects.filter(program=smart, status=Status.WITHDRAWN).exists():
        active = list(
            Enrollment.objects.filter(
                program=smart, status=Status.ACTIVE, override_reason=""
            ).order_by("id")
        )
        if active:
            services.withdraw(
                enrollment=active[-1],
                reason=WITHDRAW_REASON,
                actor=user_by_email(f"service@{utility.slug}.{DEMO_DOMAIN}"),
            )
