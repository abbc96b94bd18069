"""Rows and helpers for interconnection tests: a complete setup for one utility (installer
approved there, an AHJ overlapping it, a customer with a certified bidirectional charger and
a V2H-capable truck on the approved list), and applications walked to a given state through
the real services."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope, scopes_disabled

from devices.models import ApprovedEquipment
from enrollment.interconnection import services
from enrollment.interconnection.models import InterconnectionApplication, Transformer
from enrollment.interconnection.selectors import REQUIRED_DOCUMENTS
from portal.models import AHJ, InstallerCompany
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import ChargerFactory, VehicleFactory
from tests.portal.factories import (
    AHJFactory,
    AHJTerritoryFactory,
    AutomakerPartnerFactory,
    InstallerApprovalFactory,
    InstallerCompanyFactory,
    make_member,
)

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus
_numbers = itertools.count(1)

PDF_BYTES = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def pdf(name: str = "doc.pdf", content: bytes = PDF_BYTES) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@dataclass
class Site:
    """One utility's cast for an application."""

    utility: object
    installer: InstallerCompany
    ahj: AHJ
    account: object
    charger: object
    vehicle: object
    transformer: Transformer
    installer_user: object
    ahj_user: object
    engineer: object


def make_site(utility, *, label: str = "", installer=None, ahj=None) -> Site:
    label = label or utility.name
    with scopes_disabled():
        installer = installer or InstallerCompanyFactory(name=f"{label} Marker Solar")
        InstallerApprovalFactory(utility=utility, installer=installer)
        ahj = ahj or AHJFactory(name=f"{label} Marker Building Dept")
        AHJTerritoryFactory(utility=utility, ahj=ahj)
        account = ServiceAccountFactory(utility=utility, customer_name=f"{label} Marker Customer")
        partner = AutomakerPartnerFactory(name="Ford", slug="ford")
        charger = ChargerFactory(utility=utility, service_account=account)
        vehicle = VehicleFactory(
            utility=utility, partner=partner, service_account=account, charger=charger
        )
        ApprovedEquipment.objects.get_or_create(
            utility=utility,
            partner=partner,
            vehicle_model=vehicle.model,
            charger_maker=charger.maker,
            charger_model=charger.model,
            defaults={"allows_v2h": True, "allows_v2g": True},
        )
        # A transformer per site, so every site passes the aggregate-export screen.
        transformer = Transformer.objects.create(
            utility=utility, code=f"T-{next(_numbers)}", rating_kva=50, export_threshold_kw=40
        )
    return Site(
        utility=utility,
        installer=installer,
        ahj=ahj,
        account=account,
        charger=charger,
        vehicle=vehicle,
        transformer=transformer,
        installer_user=make_member(Role.INSTALLER_USER, installer=installer),
        ahj_user=make_member(Role.AHJ_REVIEWER, ahj=ahj),
        engineer=make_member(Role.INTERCONNECTION_ENGINEER, utility=utility),
    )


GOOD_VALUES = {
    "configuration": Application.Configuration.GRID_PARALLEL_V2H,
    "nameplate_kw": 11.5,
    "requested_export_kw": 9.6,
    "panel_rating_amps": 200,
    "busbar_rating_amps": 200,
    "main_breaker_amps": 200,
    "backfeed_breaker_amps": 40,
}


def draft(site: Site, *, documents: bool = True, **values) -> Application:
    with scope(utility=site.utility.pk):
        app = services.create_draft(
            utility=site.utility,
            installer=site.installer,
            service_account=site.account,
            actor=site.installer_user,
            values={
                **GOOD_VALUES,
                "ahj": site.ahj,
                "vehicle": site.vehicle,
                "charger": site.charger,
                "transformer": site.transformer,
                **values,
            },
        )
        if documents:
            for kind in REQUIRED_DOCUMENTS[app.configuration]:
                services.upload_document(
                    application=app, kind=kind, upload=pdf(f"{kind}.pdf"), actor=site.installer_user
                )
    return app


# The steps from a complete draft to PTO, in order; ``walk`` stops at the one named.
STEPS = [
    "submitted",
    "acknowledged",
    "approved_to_install",
    "permit_issued",
    "installed",
    "inspection_passed",
    "witness_waived",
    "pto",
]


def walk(site: Site, app: Application, *, to: str) -> Application:
    with scope(utility=site.utility.pk):
        for step in STEPS[: STEPS.index(to) + 1]:
            app = Application.objects.get(pk=app.pk)
            if step == "submitted":
                services.submit(application=app, actor=site.installer_user)
            elif step == "acknowledged":
                services.acknowledge(application=app, actor=site.engineer)
            elif step == "approved_to_install":
                services.accept_complete(application=app, actor=site.engineer)
            elif step == "permit_issued":
                services.issue_permit(application=app, permit_number="B-1", actor=site.ahj_user)
            elif step == "installed":
                services.report_installed(application=app, actor=site.installer_user)
            elif step == "inspection_passed":
                services.record_inspection(application=app, passed=True, actor=site.ahj_user)
            elif step == "witness_waived":
                services.decide_witness_test(application=app, decision="waive", actor=site.engineer)
            elif step == "pto":
                services.grant_pto(application=app, actor=site.engineer)
        return Application.objects.get(pk=app.pk)


def application_at(utility, *, to: str | None = "submitted", label: str = "") -> Application:
    """An application in ``utility`` whose customer name carries ``label`` (default the
    utility's name), walked to ``to`` (None: a complete draft)."""
    site = make_site(utility, label=label or f"{utility.name} {next(_numbers)}")
    app = draft(site)
    return walk(site, app, to=to) if to else app


def big_file(size: int) -> SimpleUploadedFile:
    buffer = io.BytesIO(PDF_BYTES + b"0" * (size - len(PDF_BYTES)))
    return SimpleUploadedFile("big.pdf", buffer.getvalue(), content_type="application/pdf")
