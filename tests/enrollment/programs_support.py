"""Factories and helpers for programs, terms, enrollments and consent, shared by the program
and enrollment tests, the isolation cases and the enrollment benchmark (candidates for
tests/factories.py). Rows are created with scopes disabled, like the other factories."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.models import ApprovedEquipment
from enrollment import services
from enrollment.interconnection.models import InterconnectionApplication
from enrollment.models import Consent, Enrollment, Program, TermsVersion
from portal.models import AutomakerPartner, PartnerAgreement
from tests.factories import (
    AutomakerPartnerFactory,
    ChargerFactory,
    InstallerCompanyFactory,
    ScopelessFactory,
    ServiceAccountFactory,
    UtilityFactory,
    VehicleFactory,
)


class ProgramFactory(ScopelessFactory):
    class Meta:
        model = Program

    utility = factory.SubFactory(UtilityFactory)
    name = factory.Sequence(lambda n: f"Program {n}")
    slug = factory.Sequence(lambda n: f"program-{n}")
    kind = Program.Kind.V2H
    status = Program.Status.OPEN
    require_approved_equipment = True
    require_smart_meter = True


class TermsVersionFactory(ScopelessFactory):
    class Meta:
        model = TermsVersion

    program = factory.SubFactory(ProgramFactory)
    utility = factory.SelfAttribute("program.utility")
    version = factory.Sequence(lambda n: f"2026.{n}")
    title = "Program terms"
    body = "The customer lets the utility manage charging and discharging within limits."
    effective_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    consent_valid_days = 365


class EnrollmentFactory(ScopelessFactory):
    """An enrollment row as it stands, without going through the services (for lists,
    isolation cases and benchmarks)."""

    class Meta:
        model = Enrollment

    program = factory.SubFactory(ProgramFactory)
    utility = factory.SelfAttribute("program.utility")
    service_account = factory.SubFactory(
        ServiceAccountFactory, utility=factory.SelfAttribute("..utility")
    )
    vehicle = factory.SubFactory(
        VehicleFactory,
        utility=factory.SelfAttribute("..utility"),
        service_account=factory.SelfAttribute("..service_account"),
    )
    partner = factory.SelfAttribute("vehicle.partner")
    channel = Enrollment.Channel.AUTOMAKER_APP
    status = Enrollment.Status.ACTIVE


class ConsentFactory(ScopelessFactory):
    class Meta:
        model = Consent

    enrollment = factory.SubFactory(EnrollmentFactory)
    utility = factory.SelfAttribute("enrollment.utility")
    terms_version = factory.SubFactory(
        TermsVersionFactory, program=factory.SelfAttribute("..enrollment.program")
    )
    accepted_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    channel = Enrollment.Channel.AUTOMAKER_APP
    data_sharing_scope = factory.LazyFunction(lambda: ["telemetry"])
    expires_at = factory.LazyAttribute(
        lambda c: c.accepted_at + timedelta(days=c.terms_version.consent_valid_days)
    )


def partner_with_agreement(utility, *, name: str | None = None) -> AutomakerPartner:
    name = name or f"{utility.name} Programs Marker Motors"
    partner = AutomakerPartner.objects.filter(name=name).first() or AutomakerPartnerFactory(
        name=name
    )
    with scopes_disabled():
        PartnerAgreement.objects.get_or_create(utility=utility, partner=partner)
    return partner


def eligible_vehicle(
    utility,
    *,
    partner: AutomakerPartner | None = None,
    account=None,
    model: str = "F-150 Lightning",
    pto: bool = True,
    **vehicle_fields,
):
    """An active vehicle at a (new) account in the territory, on a charger, whose pair is
    approved for every mode, with interconnection PTO (a granted application for the
    account and charger) unless ``pto=False``."""
    partner = partner or partner_with_agreement(utility)
    account = account or ServiceAccountFactory(utility=utility, zip_code="94110")
    charger = ChargerFactory(
        utility=utility, service_account=account, approved_export_kw=9.6 if pto else None
    )
    if pto:
        pto_granted(account=account, charger=charger)
    with scopes_disabled():
        ApprovedEquipment.objects.get_or_create(
            utility=utility,
            partner=partner,
            vehicle_model=model,
            charger_maker=charger.maker,
            charger_model=charger.model,
            defaults={"allows_v1g": True, "allows_v2h": True, "allows_v2g": True},
        )
    return VehicleFactory(
        utility=utility,
        partner=partner,
        service_account=account,
        charger=charger,
        model=model,
        **vehicle_fields,
    )


def pto_granted(*, account, charger, export_kw: float = 9.6) -> InterconnectionApplication:
    """An interconnection application of ``account`` for ``charger`` that holds PTO (the row
    only; tests/interconnection walks the real services)."""
    with scopes_disabled():
        return InterconnectionApplication.objects.create(
            utility_id=account.utility_id,
            installer=InstallerCompanyFactory(),
            service_account=account,
            charger=charger,
            configuration=InterconnectionApplication.Configuration.GRID_PARALLEL_V2H,
            status=InterconnectionApplication.Status.PTO_GRANTED,
            requested_export_kw=export_kw,
            approved_export_kw=export_kw,
            pto_at=timezone.now(),
        )


def consent_for(program, *, accepted_at=None, scope_names=("telemetry",), terms=None):
    terms = terms or TermsVersionFactory(program=program)
    return services.ConsentInput(
        terms_version=terms,
        accepted_at=accepted_at or timezone.now() - timedelta(minutes=1),
        channel=Enrollment.Channel.AUTOMAKER_APP,
        data_sharing_scope=list(scope_names),
    )


def submit(program, vehicle, *, terms=None, **kwargs) -> Enrollment:
    """Enroll through the service, as a partner would, inside the program's scope."""
    with scope(utility=program.utility_id):
        enrollment, _ = services.submit_enrollment(
            program=program,
            account=vehicle.service_account,
            vehicle=vehicle,
            consent=kwargs.pop("consent", None) or consent_for(program, terms=terms),
            channel=Enrollment.Channel.AUTOMAKER_APP,
            partner=vehicle.partner,
            **kwargs,
        )
    return enrollment


# --- Tenant-isolation cases (tests/enrollment/isolation_cases.py takes them from here) ------


def marker_program(utility) -> Program:
    return ProgramFactory(utility=utility, name=f"{utility.name} Marker Program")


def marker_enrollment(utility, **fields) -> Enrollment:
    program = marker_program(utility)
    account = ServiceAccountFactory(
        utility=utility, customer_name=f"{utility.name} Marker Customer"
    )
    vehicle = VehicleFactory(
        utility=utility, partner=partner_with_agreement(utility), service_account=account
    )
    return EnrollmentFactory(
        program=program, service_account=account, vehicle=vehicle, partner=vehicle.partner, **fields
    )


def offboarded_enrollment(utility) -> Enrollment:
    return marker_enrollment(
        utility,
        status=Enrollment.Status.SUSPENDED,
        suspension_cause=Enrollment.SuspensionCause.PARTNER_OFFBOARDED,
    )


def marker_import(utility):
    from portal.customers.models import CustomerImport

    with scopes_disabled():
        return CustomerImport.objects.create(
            utility=utility,
            filename=f"{utility.name} marker extract.csv",
            rejected=1,
            report=[
                {
                    "row": 2,
                    "account_number": "1",
                    "outcome": "rejected",
                    "reasons": [f"{utility.name} marker reason"],
                }
            ],
        )


def _customer_name(enrollment) -> str:
    return enrollment.service_account.customer_name


def _program_name(obj) -> str:
    return obj.name if isinstance(obj, Program) else obj.program.name


def isolation_cases():
    from tests.isolation import Case, pk_kwargs

    return {
        "utility:program_list": Case(make=marker_program, marker=_program_name),
        "utility:program_create": Case(),
        "utility:program_detail": Case(make=marker_program, kwargs=pk_kwargs, marker=_program_name),
        "utility:program_edit": Case(make=marker_program, kwargs=pk_kwargs, marker=_program_name),
        "utility:terms_version_create": Case(
            make=marker_program, kwargs=pk_kwargs, marker=_program_name
        ),
        "utility:enrollment_list": Case(make=marker_enrollment, marker=_customer_name),
        "utility:enrollment_create": Case(),
        "utility:enrollment_bulk": Case(method="post"),
        "utility:enrollment_offboarding": Case(make=offboarded_enrollment, marker=_program_name),
        "utility:enrollment_detail": Case(
            make=marker_enrollment, kwargs=pk_kwargs, marker=_customer_name
        ),
        # An empty POST is an incomplete form: the enrollment page again, with the problem.
        "utility:enrollment_action": Case(
            make=marker_enrollment, kwargs=pk_kwargs, marker=_customer_name, method="post"
        ),
        "utility:customer_import": Case(make=marker_import, marker=lambda i: i.filename),
        "utility:customer_import_detail": Case(
            make=marker_import, kwargs=pk_kwargs, marker=lambda i: i.filename
        ),
        "utility:customer_import_report": Case(
            make=marker_import, kwargs=pk_kwargs, marker=lambda i: i.report[0]["reasons"][0]
        ),
    }


API_ISOLATION = "tests/enrollment/test_api_enrollments.py::"
API_NOTES = {
    "api:v1:enrollment-list": (
        "partner API; only the client's partner's enrollments in the utilities it may act in "
        f"({API_ISOLATION}test_it_lists_only_the_partners_own_enrollments_in_reach)"
    ),
    "api:v1:enrollment-detail": (
        "partner API; another partner's or utility's enrollment is 404 "
        f"({API_ISOLATION}test_it_answers_404_for_enrollments_out_of_reach)"
    ),
    "api:v1:enrollment-withdraw": (
        "partner API; another partner's or utility's enrollment is 404 "
        f"({API_ISOLATION}test_it_answers_404_for_enrollments_out_of_reach)"
    ),
    "api:v1:enrollment-consent": (
        "partner API; another partner's or utility's enrollment is 404 "
        f"({API_ISOLATION}test_it_answers_404_for_enrollments_out_of_reach)"
    ),
}
