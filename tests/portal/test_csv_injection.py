"""Every CSV export is formula-safe: a cell that a spreadsheet would run as a formula (it begins
with =, +, -, @, a tab or a carriage return) is written as text, with a leading apostrophe,
while plain numbers stay numbers. One test per export, each fed through the way hostile text
really arrives (a customer name, an installer's company name, an audit comment, an account
number in an import file)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.incentives import services as incentives
from portal import audit
from portal.customers.services import import_customers, write_report
from portal.downloads import csv_safe
from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.devices.isolation_cases import signed_in
from tests.incentives.support import (
    bonus_offer,
    funded_program,
    media_root,  # noqa: F401 - fixture
    participant,
)
from tests.interconnection.factories import InstallerCompanyFactory, draft, make_site, walk
from tests.portal.factories import make_member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

FORMULA = '=HYPERLINK("http://127.0.0.1/x","click")'


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-12.50", "-12.50"),
        ("+3", "+3"),
        ("-1e3", "-1e3"),
        ("Ada = Lovelace", "Ada = Lovelace"),
        ("", ""),
        (-5, -5),
        (D("-7.25"), D("-7.25")),
        (None, None),
    ],
)
def test_it_quotes_formula_cells_and_keeps_numbers(value, written):
    assert csv_safe(value) == written


def test_the_audit_export_is_formula_safe(client, utility_a):
    with scopes_disabled():
        audit.record(action="customer.updated", utility=utility_a, comment=FORMULA)
    client.force_login(make_member(Role.AUDITOR, utility=utility_a))
    body = streamed(client.get(reverse("utility:audit_export", args=["alpha"])))
    comments = [row[8] for row in rows_of(body)[1:]]
    assert comments == ["'" + FORMULA]


def _hostile_bonus(utility, *, channel="bill_credit"):
    program = funded_program(utility, budget="500.00")
    bonus_offer(program, amount=D("50.00"), payout_channel=channel, reason_code="EVBONUS")
    account = ServiceAccountFactory(
        utility=utility, account_number="5500000001", customer_name="@SUM(1+1)*cmd"
    )
    with scope(utility=utility.pk):
        incentives.award_enrollment_bonus(
            program=program, enrollment=participant(program, account=account)
        )
    return program


def test_the_ledger_export_is_formula_safe(client, utility_a):
    _hostile_bonus(utility_a)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    body = streamed(client.get(reverse("utility:ledger_export", args=["alpha"])))
    names = {row[8] for row in rows_of(body)[1:]}
    assert names == {"'@SUM(1+1)*cmd"}


def test_the_payout_file_is_formula_safe(utility_a):
    program = _hostile_bonus(utility_a, channel="off_bill")
    with scope(utility=utility_a.pk):
        batch = incentives.create_payout_batch(
            program_id=program.pk, channel="off_bill", actor=None
        )
        _, content = incentives.export_payout_file(batch_id=batch.pk, method="check", actor=None)
    payee = rows_of(content.decode())[1][1]
    assert payee == "'@SUM(1+1)*cmd"


def test_the_customer_import_report_is_formula_safe(client, utility_a):
    raw = (
        b"account_number,customer_name,premise_address,city,state,zip_code,rate_class\n"
        b"=2+5*cmd,Ada Park,1 Main St,Riverside,CA,92501,residential\n"
    )
    with scope(utility=utility_a.pk):
        result = import_customers(utility=utility_a, raw=raw, filename="extract.csv")
    out = io.StringIO()
    write_report(result, out)
    assert rows_of(out.getvalue())[1][1] == "'=2+5*cmd"
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = client.get(reverse("utility:customer_import_report", args=["alpha", result.pk]))
    assert rows_of(streamed(page))[1][1] == "'=2+5*cmd"


def test_the_interconnection_report_csv_is_formula_safe(client, utility_a):
    site = make_site(utility_a, installer=InstallerCompanyFactory(name="=cmd|' /C calc'!A0"))
    walk(site, draft(site), to="pto")
    client.force_login(site.engineer)
    body = client.get(
        reverse("utility:interconnection_report_csv", args=[site.utility.slug])
    ).content.decode()
    installers = {row[1] for row in rows_of(body) if row[0] == "first_pass"}
    assert installers == {"'=cmd|' /C calc'!A0"}
