"""Uploaded invoices and evidence: PDF, PNG or JPEG by content (not by name), at most 10 MB,
stored under a random name in MEDIA_ROOT, and served only through the document page to staff
of the same utility who may view incentives."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.incentives import services
from enrollment.incentives.models import Incentive, IncentiveDocument
from portal.roles import Role
from tests.devices.isolation_cases import signed_in
from tests.incentives.support import (
    EXE_BYTES,
    JPEG_BYTES,
    PDF_BYTES,
    PNG_BYTES,
    apply_rebate,
    funded_program,
    media_root,  # noqa: F401 - fixture
    participant,
    rebate_offer,
    upload,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(PDF_BYTES, "application/pdf"), (PNG_BYTES, "image/png"), (JPEG_BYTES, "image/jpeg")],
)
def test_it_accepts_pdf_png_and_jpeg_by_their_content(content, content_type):
    assert services.check_document(upload("scan.bin", content))[0] == content_type


def test_it_refuses_a_program_renamed_to_pdf():
    with pytest.raises(services.InvalidDocument, match="not a PDF, PNG or JPEG"):
        services.check_document(upload("invoice.pdf", EXE_BYTES, "application/pdf"))


def test_it_refuses_a_file_over_10_mb_and_accepts_one_of_exactly_10_mb():
    limit = 10 * 1024 * 1024
    exactly = PDF_BYTES + b"0" * (limit - len(PDF_BYTES))
    assert services.check_document(upload("big.pdf", exactly))[0] == "application/pdf"
    with pytest.raises(services.InvalidDocument, match="the limit is 10 MB"):
        services.check_document(upload("big.pdf", exactly + b"0"))


def test_it_refuses_an_empty_file():
    with pytest.raises(services.InvalidDocument, match="is empty"):
        services.check_document(upload("nothing.pdf", b""))


def test_it_stores_an_upload_under_a_random_name_with_the_extension_of_its_content(
    utility_a, settings
):
    with scope(utility=utility_a.pk):
        first = services.store_document(
            utility_id=utility_a.pk,
            kind="invoice",
            upload=upload("My Invoice.png", PDF_BYTES),
            actor=None,
        )
        second = services.store_document(
            utility_id=utility_a.pk,
            kind="invoice",
            upload=upload("My Invoice.png", PDF_BYTES),
            actor=None,
        )

    path = Path(first.file.name)
    assert path.parent == Path(f"incentives/{utility_a.pk}")
    assert path.suffix == ".pdf" and "Invoice" not in path.name
    assert first.file.name != second.file.name
    assert (settings.MEDIA_ROOT / first.file.name).read_bytes() == PDF_BYTES
    assert (first.original_name, first.content_type, first.size_bytes) == (
        "My Invoice.png",
        "application/pdf",
        len(PDF_BYTES),
    )
    assert first.download_name == "My Invoice.pdf"


def test_it_refuses_a_rebate_with_an_invoice_that_is_not_a_document(utility_a):
    program = funded_program(utility_a)
    with pytest.raises(services.InvalidDocument):
        apply_rebate(
            rebate_offer(program), participant(program), invoice=upload("invoice.pdf", EXE_BYTES)
        )
    with scopes_disabled():
        assert not Incentive.objects.exists()
        assert not IncentiveDocument.objects.exists()


# --- Serving --------------------------------------------------------------------------------


def document_url(utility, document):
    return reverse("utility:incentive_document", args=[utility.slug, document.pk])


@pytest.fixture
def invoice(utility_a):
    program = funded_program(utility_a)
    incentive = apply_rebate(rebate_offer(program), participant(program), invoice=upload("inv.pdf"))
    return incentive.invoice


def test_it_serves_a_document_as_an_attachment_of_its_checked_type(client, utility_a, invoice):
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    response = client.get(document_url(utility_a, invoice))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="inv.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_it_hides_documents_from_staff_who_may_not_view_incentives(client, utility_a, invoice):
    signed_in(client, Role.DR_OPERATOR, utility_a)
    assert client.get(document_url(utility_a, invoice)).status_code == 403


def test_it_answers_404_for_another_utilitys_document(client, utility_a, utility_b, invoice):
    signed_in(client, Role.PROGRAM_ANALYST, utility_b)
    assert client.get(document_url(utility_b, invoice)).status_code == 404
    assert client.get(document_url(utility_a, invoice)).status_code == 404


def test_it_shows_an_upload_error_on_the_application_form(client, utility_a):
    program = funded_program(utility_a)
    offer = rebate_offer(program)
    enrollment = participant(program)
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    response = client.post(
        reverse("utility:incentive_create", args=[utility_a.slug]) + f"?offer={offer.pk}",
        {
            "account_number": enrollment.service_account.account_number,
            "invoice_total": "500.00",
            "invoice": upload("invoice.pdf", EXE_BYTES),
        },
    )

    assert response.status_code == 200
    assert "is not a PDF, PNG or JPEG file" in response.content.decode()
    with scopes_disabled():
        assert not Incentive.objects.exists()


def test_it_offers_a_safe_download_name(utility_a):
    with scope(utility=utility_a.pk):
        document = services.store_document(
            utility_id=utility_a.pk,
            kind="evidence",
            upload=upload('../../bill "May"\r\n.exe', PNG_BYTES),
            actor=None,
        )
    assert document.download_name.endswith(".png")
    assert all(c not in document.download_name for c in '"/\r\n')
