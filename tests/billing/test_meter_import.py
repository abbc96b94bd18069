import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django_scopes import scope

from billing.models import MeterImport, MeterInterval
from billing.services.meter import (
    AccountNotFound,
    MeterFileError,
    account_by_number,
    import_meter_file,
)
from portal.models import AuditEvent
from tests.billing import gb_samples as gb
from tests.billing.factories import csv_bytes, meter_import
from tests.billing.test_green_button_hostile_xml import BILLION_LAUGHS
from tests.customers.factories import ServiceAccountFactory
from tests.shared_data import shared_data

pytestmark = pytest.mark.django_db
JUNE = datetime(2026, 6, 1, 7, tzinfo=UTC)


def _import(account, data, filename="meter.csv", **kw):
    with scope(utility=account.utility_id):
        return import_meter_file(
            utility=account.utility, account=account, data=data, filename=filename, **kw
        )


def _stored(account):
    with scope(utility=account.utility_id):
        return list(
            MeterInterval.objects.filter(service_account=account).values_list("start", "kwh")
        )


def test_it_stores_the_intervals_and_the_report(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    data = csv_bytes(JUNE, ["1.5", "-0.25", "x"])

    result = _import(account, data)

    assert (result.readings_in_file, result.readings_imported, result.duplicates_skipped) == (
        2,
        2,
        0,
    )
    assert result.readings_rejected == 1
    assert result.rejected == [["row 4", "kwh 'x' is not a number"]]
    assert result.kind == MeterImport.Kind.CSV
    assert _stored(account) == [
        (JUNE, Decimal("1.500000")),
        (datetime(2026, 6, 1, 8, tzinfo=UTC), Decimal("-0.250000")),
    ]
    with scope(utility=utility_a.pk):
        audit = AuditEvent.objects.get(action="billing.meter_imported")
    assert audit.object_id == str(result.pk)
    assert audit.changes["readings_imported"] == 2


def test_re_importing_the_same_file_adds_nothing_twice_and_says_when_it_was_first(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    data = csv_bytes(JUNE, ["1"] * 5)
    first = _import(account, data)

    again = _import(account, data)

    assert (again.readings_imported, again.duplicates_skipped) == (0, 5)
    assert again.previous == first
    assert len(_stored(account)) == 5


def test_an_overlapping_file_adds_only_the_new_intervals_and_flags_changed_values(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    _import(account, csv_bytes(JUNE, ["1", "1", "1"]))

    later = _import(account, csv_bytes(JUNE, ["1", "9", "1", "1"]))

    assert (later.readings_imported, later.duplicates_skipped) == (1, 3)
    assert later.previous is None
    assert any("1 duplicate reading(s) differ" in warning for warning in later.warnings)
    assert len(_stored(account)) == 4


def test_an_interval_inside_a_stored_one_is_rejected_not_double_counted(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    hourly = _import(account, csv_bytes(JUNE, ["4", "4"]))

    quarter = _import(account, csv_bytes(JUNE.replace(minute=30), ["1"] * 8, minutes=15))

    # 07:30 and 07:45 fall inside the stored 07:00 hour, 08:00 is a duplicate start,
    # 08:15 and 08:30 and 08:45 inside the 08:00 hour; 09:00 and 09:15 are new.
    assert quarter.readings_imported == 2
    assert quarter.duplicates_skipped == 1
    assert quarter.readings_rejected == 5
    assert f"(import #{hourly.pk})" in quarter.rejected[0][1]


def test_the_same_starts_in_two_accounts_are_both_kept(utility_a):
    data = csv_bytes(JUNE, ["1", "2"])
    first, second = ServiceAccountFactory.create_batch(2, utility=utility_a)

    assert _import(first, data).readings_imported == 2
    assert _import(second, data).readings_imported == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "declares entities"),
        (b"start,kwh\n2026-06-01T00:00,1\n2026-06-01T01:00,1\n", "no usable row"),
        (b"<feed><entry>", "not well-formed"),
    ],
)
def test_a_refused_file_stores_nothing(utility_a, data, message):
    account = ServiceAccountFactory(utility=utility_a)

    with pytest.raises(MeterFileError, match=message):
        _import(account, data)

    with scope(utility=utility_a.pk):
        assert not MeterImport.objects.exists()
        assert not AuditEvent.objects.filter(action="billing.meter_imported").exists()
    assert _stored(account) == []


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(utility_a, settings):
    settings.BILLING_MAX_UPLOAD_BYTES = 1024
    account = ServiceAccountFactory(utility=utility_a)

    with pytest.raises(MeterFileError, match="the limit is 1,024 bytes"):
        _import(account, csv_bytes(JUNE, ["1"] * 100))


def test_several_usage_points_are_refused_with_the_list_then_the_chosen_one_imports(utility_a):
    account = ServiceAccountFactory(utility=utility_a)
    document = gb.feed(
        gb.usage_point(1, "North"),
        gb.usage_point(2, "South"),
        gb.meter_reading(1, "01", "1"),
        gb.meter_reading(2, "01", "1"),
        gb.reading_type("1"),
        gb.interval_block(1, "01", gb.hourly(2)),
        gb.interval_block(2, "01", gb.hourly(3)),
    )
    with pytest.raises(MeterFileError) as refused:
        _import(account, document, "two.xml")
    assert [point.title for point in refused.value.usage_points] == ["North", "South"]

    result = _import(account, document, "two.xml", usage_point="South")

    assert result.readings_imported == 3
    assert result.usage_point.startswith("South")


def test_the_account_number_of_another_utility_is_not_found(utility_a, utility_b):
    ServiceAccountFactory(utility=utility_b, account_number="7777")

    with scope(utility=utility_a.pk), pytest.raises(AccountNotFound, match="No service account"):
        account_by_number("7777")


@pytest.mark.parametrize(
    ("name", "readings"),
    [
        ("Coastal_Multi_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_5.xml", 8760),
        ("TestGBDataHourlyNineDaysBinnedDaily.xml", 216),
        ("Usage-Subscription-Feed-Anonymized.xml", 0),
    ],
)
def test_all_three_real_green_button_files_import(utility_a, name, readings):
    account = ServiceAccountFactory(utility=utility_a)
    data = shared_data("greenbutton", name).read_bytes()

    started = time.perf_counter()
    result = _import(account, data, name)
    elapsed = time.perf_counter() - started

    assert result.kind == MeterImport.Kind.GREEN_BUTTON
    assert (result.readings_imported, result.duplicates_skipped) == (readings, 0)
    assert len(_stored(account)) == readings
    assert elapsed < 10, f"{name} took {elapsed:.1f} s"
    again = _import(account, data, name)
    assert (again.readings_imported, again.duplicates_skipped) == (0, readings)


def test_the_factory_import_helper_runs_the_real_service(utility_a):
    assert meter_import(utility=utility_a).readings_imported == 24
