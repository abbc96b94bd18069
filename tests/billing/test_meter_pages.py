from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from billing.models import MeterImport, MeterInterval
from portal.models import AuditEvent
from portal.roles import Role
from tests.billing import gb_samples as gb
from tests.billing.factories import csv_bytes, meter_import
from tests.billing.test_green_button_hostile_xml import BILLION_LAUGHS
from tests.customers.factories import ServiceAccountFactory
from tests.portal.factories import make_member
from tests.shared_data import shared_data

pytestmark = pytest.mark.django_db
NINE_DAYS = "TestGBDataHourlyNineDaysBinnedDaily.xml"


@pytest.fixture
def analyst(client, utility_a):
    client.force_login(make_member(Role.SETTLEMENT_ANALYST, utility=utility_a))
    return client


def _upload(client, utility, data: bytes, name: str, account: str, **extra):
    return client.post(
        reverse("utility:meter_import", args=[utility.slug]),
        {"file": SimpleUploadedFile(name, data), "account_number": account, **extra},
    )


def _count(utility, model=MeterInterval) -> int:
    with scope(utility=utility.pk):
        return model.objects.count()


def test_it_imports_a_green_button_upload_and_reports_a_re_upload(analyst, utility_a):
    ServiceAccountFactory(utility=utility_a, account_number="8800")
    data = shared_data("greenbutton", NINE_DAYS).read_bytes()

    response = _upload(analyst, utility_a, data, NINE_DAYS, "8800")
    assert response.status_code == 302
    page = analyst.get(response["Location"]).content.decode()
    assert "216 in the file: <strong>216 imported</strong>, 0 duplicates skipped" in page

    again = analyst.get(_upload(analyst, utility_a, data, NINE_DAYS, "8800")["Location"])
    body = again.content.decode()
    assert "This file was already imported on" in body
    assert "<strong>0 imported</strong>, 216 duplicates skipped" in body
    assert _count(utility_a) == 216
    with scope(utility=utility_a.pk):
        assert AuditEvent.objects.filter(action="billing.meter_imported").count() == 2


def test_an_account_number_of_another_utility_is_not_found(analyst, utility_a, utility_b):
    ServiceAccountFactory(utility=utility_b, account_number="8801")

    response = _upload(
        analyst, utility_a, csv_bytes(datetime(2026, 1, 1, tzinfo=UTC), [1, 2]), "m.csv", "8801"
    )

    assert response.status_code == 200
    assert "No service account &#x27;8801&#x27; found." in response.content.decode()
    assert _count(utility_a) == _count(utility_b) == 0


def test_several_usage_points_ask_for_a_choice_then_import_it(analyst, utility_a):
    ServiceAccountFactory(utility=utility_a, account_number="8802")
    document = gb.feed(
        gb.usage_point(1, "North"),
        gb.usage_point(2, "South"),
        gb.meter_reading(1, "01", "1"),
        gb.meter_reading(2, "01", "1"),
        gb.reading_type("1"),
        gb.interval_block(1, "01", gb.hourly(2)),
        gb.interval_block(2, "01", gb.hourly(3)),
    )

    asked = _upload(analyst, utility_a, document, "two.xml", "8802")
    body = asked.content.decode()
    assert asked.status_code == 200
    assert "The file holds 2 UsagePoints; choose the one to import." in body
    assert '<select name="usage_point"' in body and "South" in body
    assert _count(utility_a) == 0

    chosen = _upload(
        analyst,
        utility_a,
        document,
        "two.xml",
        "8802",
        usage_point=f"{gb.BASE}/UsagePoint/2".split("https://dc.example.com")[1],
    )
    assert chosen.status_code == 302
    assert _count(utility_a) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "declares entities in a DOCTYPE"),
        (b"<feed><entry>", "not well-formed XML"),
        (b"start,kwh\n2026-01-01T00:00,1\n2026-01-01T01:00,1\n", "has no UTC offset"),
        (b"\x00\x01garbage", "header must name the columns start,kwh"),
    ],
)
def test_a_refused_file_is_explained_and_nothing_is_stored(analyst, utility_a, data, message):
    ServiceAccountFactory(utility=utility_a, account_number="8803")

    response = _upload(analyst, utility_a, data, "bad.xml", "8803")

    assert response.status_code == 200
    assert message in response.content.decode()
    assert _count(utility_a, MeterImport) == _count(utility_a) == 0


def test_an_oversized_upload_is_dropped_while_it_arrives(analyst, utility_a, settings):
    settings.BILLING_MAX_UPLOAD_BYTES = 4096
    ServiceAccountFactory(utility=utility_a, account_number="8804")
    data = csv_bytes(datetime(2026, 1, 1, tzinfo=UTC), [1] * 400)

    response = _upload(analyst, utility_a, data, "big.csv", "8804")

    assert response.status_code == 200
    assert "The file is over the limit of 4,096 bytes." in response.content.decode()
    assert _count(utility_a, MeterImport) == 0


def test_the_import_list_paginates_in_constant_queries_and_filters_by_account(
    analyst, utility_a, django_assert_max_num_queries
):
    accounts = ServiceAccountFactory.create_batch(3, utility=utility_a)
    for account in accounts[:2]:
        meter_import(account, filename=f"file-of-{account.account_number}.csv")
    with scopes_disabled():
        template = MeterImport.objects.first()
        MeterImport.objects.bulk_create(  # rows like the service writes, many at once
            [
                MeterImport(
                    utility=utility_a, service_account=accounts[2], filename=f"bulk-{n}.csv",
                    sha256=template.sha256, kind=template.kind, created_by=None,
                )
                for n in range(58)
            ]
        )  # fmt: skip
    url = reverse("utility:meter_import_list", args=[utility_a.slug])

    with django_assert_max_num_queries(12):
        page_one = analyst.get(url)
    with django_assert_max_num_queries(12):
        page_two = analyst.get(url + "?page=2")
    filtered = analyst.get(url, {"account": accounts[1].account_number}).content.decode()

    assert "Page 1 of 2 · 60 in all" in page_one.content.decode()
    assert page_two.status_code == 200
    assert f"file-of-{accounts[1].account_number}.csv" in filtered
    assert f"file-of-{accounts[0].account_number}.csv" not in filtered


def test_the_account_page_shows_daily_energy_and_the_import_history(analyst, utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    # 07:00 UTC = midnight in Los Angeles: 24 hours of 1.5 kWh, then a day exporting.
    meter_import(
        account,
        data=csv_bytes(datetime(2026, 6, 1, 7, tzinfo=UTC), [Decimal("1.5")] * 24 + ["-0.5"] * 24),
        filename="june.csv",
    )
    url = reverse("utility:meter_account", args=[utility_a.slug, account.pk])

    body = analyst.get(url).content.decode()

    assert "<svg" in body and "Daily net energy of account" in body
    assert "<td>2026-06-01</td><td>36.000</td><td>0.000</td><td>36.000</td>" in body
    assert "<td>2026-06-02</td><td>0.000</td><td>12.000</td><td>-12.000</td>" in body
    assert "june.csv" in body
    bad = analyst.get(url, {"start": "2026-06-05", "end": "2026-06-01"})
    assert bad.status_code == 200 and "The end is before the start." in bad.content.decode()


def test_viewing_needs_billing_view_and_importing_settlement_manage(client, utility_a):
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))

    assert (
        client.get(reverse("utility:meter_import_list", args=[utility_a.slug])).status_code == 200
    )
    assert client.get(reverse("utility:meter_import", args=[utility_a.slug])).status_code == 403
