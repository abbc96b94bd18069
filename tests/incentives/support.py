"""Helpers for incentives, shared by the incentive, ledger and payout tests and the
tenant-isolation cases; the offer factory is in tests/incentives/factories.py. Rows are created
with scopes disabled, like the factories' rows; writes that matter go through the services, inside the
program's scope. Every ``make`` may run several times for one utility in one test, so each
row it creates is numbered."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from enrollment.incentives import services
from enrollment.incentives.models import Dispute, Incentive, IncentiveOffer
from enrollment.models import Enrollment, Program
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory
from tests.enrollment.factories import EnrollmentFactory, ProgramFactory
from tests.incentives.factories import OfferFactory

_serial = count(1)

PDF_BYTES = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploaded documents go to a folder of the test's own (use with ``usefixtures``)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(name: str = "invoice.pdf", content: bytes = PDF_BYTES, content_type: str = ""):
    return SimpleUploadedFile(name, content, content_type=content_type or "application/pdf")


def _offer(program: Program, kind: str, defaults: dict, fields: dict) -> IncentiveOffer:
    label = IncentiveOffer.Kind(kind).label
    merged = {"name": f"{label} {next(_serial)}", "kind": kind, **defaults, **fields}
    return OfferFactory(program=program, **merged)


def rebate_offer(program: Program, **fields) -> IncentiveOffer:
    return _offer(program, IncentiveOffer.Kind.CHARGER_REBATE, {}, fields)


def bonus_offer(program: Program, **fields) -> IncentiveOffer:
    defaults = {
        "amount": Decimal("100.00"),
        "income_qualified_amount": None,
        "reason_code": "EVBONUS",
        "requires_review": False,
    }
    return _offer(program, IncentiveOffer.Kind.ENROLLMENT_BONUS, defaults, fields)


def monthly_offer(program: Program, **fields) -> IncentiveOffer:
    defaults = {
        "amount": Decimal("10.00"),
        "income_qualified_amount": None,
        "forfeit_after_opt_outs": 2,
        "reason_code": "EVMONTH",
        "requires_review": False,
    }
    return _offer(program, IncentiveOffer.Kind.MONTHLY_CREDIT, defaults, fields)


def performance_offer(program: Program, **fields) -> IncentiveOffer:
    defaults = {
        "amount": None,
        "income_qualified_amount": None,
        "rate_per_kwh": Decimal("2.0000"),
        "season_cap": Decimal("1000.00"),
        "reason_code": "EVPERF",
        "requires_review": False,
    }
    return _offer(program, IncentiveOffer.Kind.EVENT_PERFORMANCE, defaults, fields)


def capacity_offer(program: Program, **fields) -> IncentiveOffer:
    defaults = {
        "amount": None,
        "income_qualified_amount": None,
        "rate_per_kw": Decimal("275.00"),
        "season_cap": Decimal("2000.00"),
        "reason_code": "EVCAP",
        "requires_review": False,
    }
    return _offer(program, IncentiveOffer.Kind.CAPACITY_PAYMENT, defaults, fields)


def funded_program(utility, *, budget: str = "10000.00", **fields) -> Program:
    fields.setdefault("name", f"{utility.name} Incentive Program {next(_serial)}")
    fields.setdefault(
        "seasons",
        [{"name": "Summer", "months": [6, 7, 8, 9]}, {"name": "Winter", "months": [11, 12, 1, 2]}],
    )
    return ProgramFactory(utility=utility, budget_total=Decimal(budget), **fields)


def participant(program: Program, *, income_qualified: bool = False, account=None, **fields):
    """An active enrollment in ``program`` (a new customer unless ``account`` is given)."""
    utility = program.utility
    account = account or ServiceAccountFactory(
        utility=utility,
        customer_name=fields.pop("customer_name", f"{utility.name} Customer {next(_serial)}"),
        income_qualified=income_qualified,
    )
    vehicle = VehicleFactory(utility=utility, service_account=account)
    fields = {"status": Enrollment.Status.ACTIVE, "activated_at": timezone.now(), **fields}
    return EnrollmentFactory(
        program=program, service_account=account, vehicle=vehicle, partner=vehicle.partner, **fields
    )


def apply_rebate(offer, enrollment, *, total="450.00", actor=None, invoice=None) -> Incentive:
    with scope(utility=offer.utility_id):
        return services.submit_charger_rebate(
            offer=offer,
            enrollment=enrollment,
            invoice_total=Decimal(total),
            invoice=invoice or upload(),
            actor=actor,
        )


def approve(incentive, actor=None) -> Incentive:
    with scope(utility=incentive.utility_id):
        return services.approve_incentive(incentive_id=incentive.pk, actor=actor)


def reload(obj):
    with scopes_disabled():
        return type(obj).objects.get(pk=obj.pk)


# --- Tenant-isolation cases (tests/enrollment/isolation_cases.py takes them from here) ------


def marker_rebate(utility) -> Incentive:
    """A charger rebate awaiting approval, for a customer named after the utility."""
    program = funded_program(utility)
    enrollment = participant(
        program, customer_name=f"{utility.name} Incentive Marker {next(_serial)}"
    )
    return apply_rebate(rebate_offer(program), enrollment)


def marker_approved(utility) -> Incentive:
    """An approved bill-credit amount (an enrollment bonus approved automatically)."""
    program = funded_program(utility)
    enrollment = participant(program, customer_name=f"{utility.name} Ledger Marker {next(_serial)}")
    bonus_offer(program)
    with scope(utility=utility.pk):
        return services.award_enrollment_bonus(program=program, enrollment=enrollment)


def marker_document(utility):
    marker = f"{utility.name} marker document {next(_serial)}"
    with scope(utility=utility.pk):
        document = services.store_document(
            utility_id=utility.pk,
            kind="invoice",
            upload=upload(content=PDF_BYTES + marker.encode()),
            actor=None,
        )
    document.marker = marker
    return document


def marker_batch(utility):
    incentive = marker_approved(utility)
    with scope(utility=utility.pk):
        batch = services.create_payout_batch(
            program_id=incentive.program_id, channel="bill_credit", actor=None
        )
    batch.marker = incentive.service_account.account_number
    return batch


def marker_dispute(utility) -> Dispute:
    incentive = marker_approved(utility)
    with scope(utility=utility.pk):
        return services.open_dispute(
            incentive_id=incentive.pk,
            description=f"{utility.name} marker dispute {next(_serial)}",
            claimed_amount=Decimal("150.00"),
            evidence=None,
            actor=None,
        )


def marker_offer(utility) -> IncentiveOffer:
    return rebate_offer(
        funded_program(utility), name=f"{utility.name} Marker Rebate {next(_serial)}"
    )


def _customer(incentive) -> str:
    return incentive.service_account.customer_name


def _program(obj) -> str:
    return obj.program.name


def incentive_cases():
    from tests.isolation import Case, pk_kwargs

    return {
        "utility:incentive_list": Case(make=marker_rebate, marker=_customer),
        "utility:incentive_create": Case(),
        "utility:incentive_detail": Case(make=marker_rebate, kwargs=pk_kwargs, marker=_customer),
        "utility:incentive_approve": Case(make=marker_rebate, kwargs=pk_kwargs, marker=_customer),
        "utility:incentive_reject": Case(make=marker_rebate, kwargs=pk_kwargs, marker=_customer),
        "utility:incentive_document": Case(
            make=marker_document, kwargs=pk_kwargs, marker=lambda d: d.marker
        ),
        "utility:budget_dashboard": Case(make=marker_approved, marker=_program),
        "utility:ledger": Case(make=marker_approved, marker=_customer),
        "utility:ledger_export": Case(make=marker_approved, marker=_customer),
        "utility:payout_batch_list": Case(make=marker_batch, marker=_program),
        "utility:payout_batch_create": Case(make=marker_approved, marker=_program),
        "utility:payout_batch_detail": Case(
            make=marker_batch, kwargs=pk_kwargs, marker=lambda b: b.marker
        ),
        "utility:payout_batch_export": Case(
            make=marker_batch,
            kwargs=lambda b: {"pk": b.pk, "method": "bill_credit"},
            marker=lambda b: b.marker,
            method="post",
        ),
        "utility:payout_batch_mark_paid": Case(
            make=marker_batch, kwargs=pk_kwargs, marker=_program
        ),
        "utility:dispute_list": Case(make=marker_dispute, marker=lambda d: d.description),
        "utility:dispute_create": Case(make=marker_approved, kwargs=pk_kwargs, marker=_customer),
        "utility:dispute_detail": Case(
            make=marker_dispute, kwargs=pk_kwargs, marker=lambda d: d.description
        ),
        "utility:dispute_resolve": Case(
            make=marker_dispute, kwargs=pk_kwargs, marker=lambda d: d.description
        ),
        "utility:incentive_offer_list": Case(make=marker_offer, marker=lambda o: o.name),
        "utility:incentive_offer_create": Case(),
        "utility:incentive_offer_edit": Case(
            make=marker_offer, kwargs=pk_kwargs, marker=lambda o: o.name
        ),
    }
