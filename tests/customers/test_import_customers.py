"""Customer CSV import: upsert by account number with a row-level report, through the service,
the page and the management command; files that are not customer CSVs get a clear refusal."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from portal.customers import services as customer_import
from portal.customers.models import CustomerImport, ServiceAccount
from portal.customers.services import CustomerFileError, import_customers
from portal.models import AuditEvent
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.isolation_cases import signed_in

pytestmark = pytest.mark.django_db

HEADER = (
    "Account_Number,Customer Name,premise_address,CITY,state,zip-code,meter_id,rate_class,"
    "tariff,email,phone,smart_meter,income_qualified,medical_need,Legacy Code"
)


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


GOOD = "4400000001,Ada Park,1 Main St,San Francisco,CA,94110,M1,residential_ev,EV2-A,ada@example.test,555-0100,yes,no,no,X1"


def run(utility, raw: bytes, filename: str = "extract.csv") -> CustomerImport:
    with scope(utility=utility.pk):
        return import_customers(utility=utility, raw=raw, filename=filename)


def outcomes(result: CustomerImport) -> list[tuple[int, str, str]]:
    return [(r["row"], r["account_number"], r["outcome"]) for r in result.report]


def test_it_imports_updates_and_rejects_row_by_row(utility_a):
    ServiceAccountFactory(
        utility=utility_a,
        account_number="4400000002",
        customer_name="Ben Ortiz",
        premise_address="2 Oak Ave",
        city="San Francisco",
        state="CA",
        zip_code="94110",
        meter_id="M2",
        rate_class="residential",
        tariff="E-1",
        email="",
        phone="",
    )
    ServiceAccountFactory(
        utility=utility_a,
        account_number="4400000003",
        customer_name="Cy Lin",
        premise_address="3 Elm St",
        city="Oakland",
        state="CA",
        zip_code="94111",
        meter_id="M3",
        rate_class="residential_tou",
        tariff="",
        email="",
        phone="",
    )
    raw = csv_bytes(
        GOOD,
        "4400000002,Ben Ortiz,2 Oak Ave,San Francisco,CA,94110,M2,Residential time-of-use,E-TOU-C,,,yes,yes,no,",
        "4400000003,Cy Lin,3 Elm St,Oakland,ca,94111,M3,residential_tou,,,,true,0,false,",
        "4400000004,Dee Fox,4 Pine St,Fresno,CA,9372,M4,industrial,,not-an-email,,maybe,,,",
        ",No Number,5 Ash St,Fresno,CA,93721,,residential,,,,,,,",
        "4400000001,Ada Again,1 Main St,San Francisco,CA,94110,M1,residential_ev,,,,,,,",
        "4400000005,Too Few",
    )

    result = run(utility_a, raw)

    assert outcomes(result) == [
        (2, "4400000001", "imported"),
        (3, "4400000002", "updated"),
        (4, "4400000003", "unchanged"),
        (5, "4400000004", "rejected"),
        (6, "", "rejected"),
        (7, "4400000001", "rejected"),
        (8, "4400000005", "rejected"),
    ]
    assert (result.imported, result.updated, result.unchanged, result.rejected) == (1, 1, 1, 4)
    assert result.unknown_columns == ["Legacy Code"]
    reasons = {r["row"]: " ".join(r["reasons"]) for r in result.report}
    assert "zip_code" in reasons[5] and "rate_class" in reasons[5]
    assert "email" in reasons[5] and "smart_meter" in reasons[5]
    assert "account_number: required" in reasons[6]
    assert "Duplicate of row 2" in reasons[7]
    assert "2 values, but the header has 15" in reasons[8]
    with scopes_disabled():
        ada = ServiceAccount.objects.get(utility=utility_a, account_number="4400000001")
        ben = ServiceAccount.objects.get(utility=utility_a, account_number="4400000002")
        assert ServiceAccount.objects.filter(utility=utility_a).count() == 3
        event = AuditEvent.objects.get(action="customer_import.completed")
    assert (ada.customer_name, ada.rate_class, ada.smart_meter) == (
        "Ada Park",
        "residential_ev",
        True,
    )
    assert (ben.rate_class, ben.tariff, ben.income_qualified) == (
        "residential_tou",
        "E-TOU-C",
        True,
    )
    assert event.changes["rejected"] == 4


def test_a_partial_extract_updates_only_its_columns(utility_a):
    ServiceAccountFactory(utility=utility_a, account_number="4400000009", phone="555-0000")
    header = "account_number,phone"
    result = run(utility_a, csv_bytes("4400000009,555-0199", "4400000010,555-0200", header=header))
    assert outcomes(result) == [(2, "4400000009", "updated"), (3, "4400000010", "rejected")]
    assert "no customer_name" in result.report[1]["reasons"][0]
    with scopes_disabled():
        assert ServiceAccount.objects.get(account_number="4400000009").phone == "555-0199"


def test_it_keeps_each_utilitys_accounts_apart(utility_a, utility_b):
    ServiceAccountFactory(utility=utility_b, account_number="4400000001", customer_name="Bravo's")
    result = run(utility_a, csv_bytes(GOOD))
    assert outcomes(result) == [(2, "4400000001", "imported")]
    with scopes_disabled():
        assert ServiceAccount.objects.get(utility=utility_b).customer_name == "Bravo's"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        ("account_number,customer_name\n1,Zoë\n".encode("latin-1"), "not UTF-8"),
        (b"PK\x03\x04\x00\x00binary", "binary file"),
        (b"name,address\nA,B\n", "no account_number column"),
        (b"account_number;customer_name\n1;A\n", "semicolons"),
        (b"account_number,account_number\n1,2\n", "named twice"),
    ],
)
def test_it_refuses_files_that_are_not_customer_csvs(utility_a, raw, message):
    with pytest.raises(CustomerFileError, match=message):
        run(utility_a, raw)
    with scopes_disabled():
        assert not CustomerImport.objects.exists()


def test_it_accepts_a_byte_order_mark(utility_a):
    result = run(utility_a, b"\xef\xbb\xbf" + csv_bytes(GOOD))
    assert result.imported == 1


def test_it_judges_uploads_before_reading_them():
    check = customer_import.check_upload
    assert check(name="a.csv", size=10, content_type="text/csv") is None
    assert check(name="a.csv", size=10, content_type="application/vnd.ms-excel") is None
    assert "not a CSV" in check(name="a.pdf", size=10, content_type="application/pdf")
    assert "at most 10 MB" in check(
        name="a.csv", size=customer_import.MAX_UPLOAD_BYTES + 1, content_type="text/csv"
    )


# --- The page ---------------------------------------------------------------------------------


@pytest.fixture
def service_client(client, utility_a):
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)
    return client


def test_the_page_imports_and_shows_and_serves_the_report(service_client, utility_a):
    page = reverse("utility:customer_import", args=[utility_a.slug])
    upload = SimpleUploadedFile("extract.csv", csv_bytes(GOOD, "bad"), content_type="text/csv")

    response = service_client.post(page, {"file": upload}, follow=True)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Imported 1, updated 0, unchanged 0, rejected 1." in body
    assert "1 values, but the header has 15" in body
    result = response.context["customer_import"]
    report = service_client.get(
        reverse("utility:customer_import_report", args=[utility_a.slug, result.pk])
    )
    assert report["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert rows[0] == ["row", "account_number", "outcome", "reasons"]
    assert rows[1] == ["2", "4400000001", "imported", ""]
    assert rows[2][2] == "rejected"


@pytest.mark.parametrize(
    ("name", "content", "content_type", "message"),
    [
        ("extract.pdf", b"%PDF-1.7", "application/pdf", "not a CSV file"),
        ("extract.csv", "account_number\n1\n".encode("utf-16"), "text/csv", "binary file"),
        (
            "extract.csv",
            "account_number,city\n1,Zürich\n".encode("cp1252"),
            "text/csv",
            "not UTF-8",
        ),
    ],
)
def test_the_page_explains_a_refused_file(
    service_client, utility_a, name, content, content_type, message
):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    response = service_client.post(
        reverse("utility:customer_import", args=[utility_a.slug]), {"file": upload}
    )
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])


def test_the_page_refuses_files_over_10_mb(service_client, utility_a, monkeypatch):
    monkeypatch.setattr(customer_import, "MAX_UPLOAD_BYTES", 100)
    upload = SimpleUploadedFile("big.csv", csv_bytes(GOOD, GOOD, GOOD), content_type="text/csv")
    response = service_client.post(
        reverse("utility:customer_import", args=[utility_a.slug]), {"file": upload}
    )
    assert "at most" in " ".join(response.context["form"].errors["file"])


def test_roles_without_the_capability_cannot_import(client, utility_a):
    signed_in(client, Role.DR_OPERATOR, utility_a)
    assert client.get(reverse("utility:customer_import", args=[utility_a.slug])).status_code == 403


# --- The command ------------------------------------------------------------------------------


def test_the_command_imports_and_writes_the_report(utility_a, tmp_path):
    source = tmp_path / "extract.csv"
    source.write_bytes(csv_bytes(GOOD, "bad"))
    report = tmp_path / "report.csv"
    out = io.StringIO()

    call_command(
        "import_customers", "--utility", "alpha", str(source), "--report", str(report), stdout=out
    )

    assert "1 imported, 0 updated, 0 unchanged, 1 rejected" in out.getvalue()
    assert "Ignored columns: Legacy Code" in out.getvalue()
    assert report.read_text().splitlines()[1] == "2,4400000001,imported,"
    with scopes_disabled():
        assert CustomerImport.objects.get().source == "command"


def test_the_command_explains_what_it_cannot_import(utility_a, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes("account_number\nZoë\n".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_customers", "--utility", "alpha", str(bad))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_customers", "--utility", "alpha", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="No utility"):
        call_command("import_customers", "--utility", "nope", str(bad))


def test_it_imports_an_optional_feeder_column(utility_a):
    ServiceAccountFactory(utility=utility_a, account_number="4400000002", feeder="OLD-1")
    ServiceAccountFactory(utility=utility_a, account_number="4400000003", feeder="KEEP-1")
    header = "account_number,customer_name,premise_address,city,state,zip_code,rate_class,Feeder"
    result = run(
        utility_a,
        csv_bytes(
            "4400000001,Ada Park,1 Main St,San Francisco,CA,94110,residential,SF-1102",
            "4400000002,Ben Ortiz,2 Oak Ave,San Francisco,CA,94110,residential, SF-1104 ",
            f"4400000004,Cy Long,3 Elm St,San Francisco,CA,94110,residential,{'F' * 41}",
            header=header,
        ),
    )
    assert [r["outcome"] for r in result.report] == ["imported", "updated", "rejected"]
    assert result.report[2]["reasons"] == ["feeder: longer than 40 characters."]
    assert result.unknown_columns == []
    # A file without the column leaves the feeders as they are.
    run(utility_a, csv_bytes("4400000003,Di Ray", header="account_number,customer_name"))
    with scopes_disabled():
        feeders = dict(ServiceAccount.objects.values_list("account_number", "feeder"))
    assert feeders == {"4400000001": "SF-1102", "4400000002": "SF-1104", "4400000003": "KEEP-1"}
