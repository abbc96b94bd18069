"""Demo interconnection applications for the demo utility pvp (see ``demo.seed``): its
V2H customers' applications walked through the services to six stages (PTO granted down to
a complete draft), so states, SLA clocks and audit rows are what the pages would have
produced.

Safe to run again: applications are keyed on (installer, customer).
"""

from __future__ import annotations

from django.utils import timezone
from django_scopes import scope

from demo.programs import DEMO_DOMAIN, pdf_upload, user_by_email
from enrollment.interconnection import services as ic
from enrollment.interconnection.models import InterconnectionApplication, Transformer
from enrollment.interconnection.selectors import REQUIRED_DOCUMENTS
from enrollment.models import Enrollment
from portal.models import AHJ, AHJTerritory, InstallerCompany, User, Utility

Application = InterconnectionApplication
Status = Enrollment.Status

# pvp interconnection applications: the stage each one is walked to.
IC_INSTALLER = "bright-current"
IC_AHJ = "fresno-building"
IC_STAGES = ("pto", "inspection_passed", "approved_to_install", "engineering", "needs_info", None)
# The program whose customers apply (``demo.programs``'s backup V2H program).
V2H_PROGRAM = "home-backup-v2h"


def ensure_demo_interconnection(*, utility: Utility) -> None:
    """pvp's interconnection applications, walked to their stages (run after
    ``demo.programs.ensure_demo_programs``: the applicants are its V2H enrollments)."""
    if utility.slug != "pvp":
        return
    with scope(utility=utility.pk), timezone.override(utility.tzinfo):
        _ensure_applications(utility=utility)


def _ensure_applications(*, utility: Utility) -> None:
    installer = InstallerCompany.objects.get(slug=IC_INSTALLER)
    ahj = AHJ.objects.get(slug=IC_AHJ)
    if not AHJTerritory.objects.filter(utility=utility, ahj=ahj).exists():
        return  # the reviewer's AHJ must be in this utility's territory
    crew = user_by_email(f"admin@{IC_INSTALLER}.{DEMO_DOMAIN}")
    engineer = user_by_email(f"engineer@{utility.slug}.{DEMO_DOMAIN}")
    reviewer = user_by_email(f"reviewer@{IC_AHJ}.{DEMO_DOMAIN}")
    # Transformers have no service of their own: they are utility reference data.
    transformer, _ = Transformer.objects.get_or_create(
        utility=utility,
        code="FRE-T-1042",
        defaults={"feeder": "FRESNO-12", "rating_kva": 75, "export_threshold_kw": 60},
    )
    # Customers waiting for V2H interconnection, those in the AHJ's ZIP codes first.
    waiting = list(
        Enrollment.objects.filter(
            program__slug=V2H_PROGRAM,
            status__in=[Status.AWAITING_INTERCONNECTION, Status.ACTIVE],
        )
        .select_related("service_account", "vehicle__charger")
        .order_by("id")
    )
    waiting.sort(key=lambda e: e.service_account.zip_code not in ahj.zip_codes)
    for enrollment, stage in zip(waiting, IC_STAGES, strict=False):
        account = enrollment.service_account
        if Application.objects.filter(installer=installer, service_account=account).exists():
            continue
        vehicle = enrollment.vehicle
        app = ic.create_draft(
            utility=utility,
            installer=installer,
            service_account=account,
            actor=crew,
            values={
                "configuration": Application.Configuration.GRID_PARALLEL_V2H,
                "ahj": ahj,
                "vehicle": vehicle,
                "charger": vehicle.charger,
                # Without a transformer the aggregate screen fails: engineering review.
                "transformer": None if stage == "engineering" else transformer,
                "nameplate_kw": 11.5,
                "requested_export_kw": 9.6,
                "panel_rating_amps": 200,
                "busbar_rating_amps": 200,
                "main_breaker_amps": 200,
                "backfeed_breaker_amps": 40,
            },
        )
        for kind in REQUIRED_DOCUMENTS[app.configuration]:
            ic.upload_document(
                application=app, kind=kind, upload=pdf_upload(f"{kind}.pdf"), actor=crew
            )
        if stage is None:
            continue  # a complete draft, not sent yet
        _walk(app, stage=stage, crew=crew, engineer=engineer, reviewer=reviewer)


def _walk(app, *, stage: str, crew: User, engineer: User, reviewer: User) -> None:
    def fresh():
        return Application.objects.get(pk=app.pk)

    ic.submit(application=fresh(), actor=crew)
    ic.acknowledge(application=fresh(), actor=engineer)
    if stage == "needs_info":
        ic.request_information(
            application=fresh(),
            items=[
                ic.DeficiencyItemInput(
                    topic="document",
                    document_kind="single_line_diagram",
                    comment="The single-line diagram does not show the backfeed breaker; "
                    "add it with its rating.",
                ),
                ic.DeficiencyItemInput(
                    topic="electrical",
                    comment="Confirm the busbar rating from the panel label (photo).",
                ),
            ],
            actor=engineer,
        )
        return
    ic.accept_complete(application=fresh(), actor=engineer)
    if stage in ("engineering", "approved_to_install"):
        return
    ic.issue_permit(application=fresh(), permit_number=f"B26-{app.pk:05d}", actor=reviewer)
    ic.report_installed(application=fresh(), actor=crew)
    ic.record_inspection(application=fresh(), passed=True, actor=reviewer)
    if stage == "inspection_passed":
        return
    ic.decide_witness_test(application=fresh(), decision="waive", actor=engineer)
    ic.grant_pto(application=fresh(), actor=engineer)
