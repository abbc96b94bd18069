"""Helpers for programs, terms, enrollments and consent, shared by the program and enrollment
tests, the isolation cases and the enrollment benchmark. The factories are in
tests/enrollment/factories.py."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.models import ApprovedEquipment
from enrollment import services
from enrollment.interconnection.models import InterconnectionApplication
from enrollment.models import Enrollment, Program
from portal.models import AutomakerPartner, PartnerAgreement
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import ChargerFactory, VehicleFactory
from tests.enrollment.factories import EnrollmentFactory, ProgramFactory, TermsVersionFactory
from tests.portal.factories import AutomakerPartnerFactory, InstallerCompanyFactory


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
