import pytest
from django.core.management import CommandError, call_command
from django_scopes import scope

from billing.models import MeterInterval
from tests.billing import gb_samples as gb
from tests.customers.factories import ServiceAccountFactory
from tests.shared_data import shared_data

pytestmark = pytest.mark.django_db
NINE_DAYS = "TestGBDataHourlyNineDaysBinnedDaily.xml"


def _run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_green_button", *args, stdout=out)
    return out.getvalue()


def test_it_imports_a_real_file_and_reports_a_re_import(utility_a):
    account = ServiceAccountFactory(utility=utility_a, account_number="555001")
    path = str(shared_data("greenbutton", NINE_DAYS))

    first = _run(path, "--utility", "alpha", "--account", "555001")
    again = _run(path, "--utility", "alpha", "--account", "555001")

    assert "216 readings imported, 0 duplicates skipped, 0 rejected" in first
    assert "already imported on" in again
    assert "0 readings imported, 216 duplicates skipped" in again
    with scope(utility=utility_a.pk):
        assert MeterInterval.objects.filter(service_account=account).count() == 216


def test_an_account_of_another_utility_is_not_found(utility_a, utility_b):
    ServiceAccountFactory(utility=utility_b, account_number="555002")
    path = str(shared_data("greenbutton", NINE_DAYS))

    with pytest.raises(CommandError, match="No service account '555002' found"):
        _run(path, "--utility", "alpha", "--account", "555002")


def test_several_usage_points_need_a_choice(utility_a, tmp_path):
    ServiceAccountFactory(utility=utility_a, account_number="555003")
    path = tmp_path / "two.xml"
    path.write_bytes(
        gb.feed(
            gb.usage_point(1, "North"),
            gb.usage_point(2, "South"),
            gb.meter_reading(1, "01", "1"),
            gb.meter_reading(2, "01", "1"),
            gb.reading_type("1"),
            gb.interval_block(1, "01", gb.hourly(2)),
            gb.interval_block(2, "01", gb.hourly(3)),
        )
    )

    with pytest.raises(CommandError, match="(?s)2 UsagePoints.*North.*South.*--usage-point"):
        _run(str(path), "--utility", "alpha", "--account", "555003")
    output = _run(
        str(path), "--utility", "alpha", "--account", "555003", "--usage-point", "UsagePoint/1"
    )

    assert "2 readings imported" in output


def test_a_file_over_the_limit_is_refused_by_its_size(utility_a, settings, tmp_path):
    settings.BILLING_MAX_UPLOAD_BYTES = 2048
    ServiceAccountFactory(utility=utility_a, account_number="555004")
    path = tmp_path / "big.csv"
    path.write_bytes(b"start,kwh\n" + b"2026-01-01T00:00Z,1\n" * 200)

    with pytest.raises(CommandError, match="the limit is 2,048 bytes"):
        _run(str(path), "--utility", "alpha", "--account", "555004")
