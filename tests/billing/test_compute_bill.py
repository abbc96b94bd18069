"""The what-if calculator: ``compute_bill`` on interval files and URDB files, no database."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.billing.rates_support import URDB_FILES
from tests.shared_data import shared_data


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("compute_bill", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def fpl_tariff():
    return str(shared_data("urdb", URDB_FILES["fpl"]))


@pytest.fixture
def csv_file(tmp_path):
    # 31 January 2024 23:00 New York is 1 February 04:00Z: a month boundary in local time.
    path = tmp_path / "usage.csv"
    path.write_text(
        "start,kwh\n"
        "2024-01-31T04:00:00Z,600\n"  # 30 January 23:00 local
        "2024-02-01T04:00:00Z,700\n"  # 31 January 23:00 local
        "2024-02-01T05:00:00Z,50\n"  # 1 February 00:00 local
    )
    return str(path)


def test_it_prints_json_bills_with_lines_and_annual_totals(fpl_tariff, csv_file):
    out, _ = run(
        "--tariff",
        fpl_tariff,
        "--intervals",
        csv_file,
        "--tz",
        "America/New_York",
        "--format",
        "json",
    )
    result = json.loads(out)
    january, february = result["months"]
    # January 1300 kWh: 1000 × 0.08721 = 87.21; 300 × 0.10803 = 32.409 -> 32.41; + 7.57 = 127.19
    assert (january["month"], january["total"]) == (1, "127.19")
    assert [line["amount"] for line in january["lines"]] == ["87.21", "32.41", "7.57"]
    assert january["partial"] and january["days"] == 2
    # February 50 kWh × 0.08721 = 4.3605 -> 4.36; + 7.57 = 11.93
    assert february["total"] == "11.93"
    assert Decimal(result["annual"]["total"]) == Decimal("139.12")
    assert Decimal(result["annual"]["import_kwh"]) == 1350


def test_it_prints_a_readable_table_per_month(fpl_tariff, csv_file):
    out, _ = run("--tariff", fpl_tariff, "--intervals", csv_file, "--tz", "America/New_York")
    assert "January 2024 (partial: 2 of 31 days)" in out
    assert "Energy, Period 1, tier 2 (over 1000 kWh)" in out
    assert "Total over 2 month(s): 139.12" in out


def test_it_refuses_a_tariff_with_unsupported_constructs(csv_file):
    sce = str(shared_data("urdb", URDB_FILES["sce"]))
    with pytest.raises(CommandError, match="energyattrs"):
        run("--tariff", sce, "--intervals", csv_file, "--tz", "America/Los_Angeles")


def test_it_bills_the_rest_with_a_warning_when_allowed(csv_file):
    sce = str(shared_data("urdb", URDB_FILES["sce"]))
    out, err = run(
        "--tariff",
        sce,
        "--intervals",
        csv_file,
        "--tz",
        "America/Los_Angeles",
        "--allow-unsupported",
        "--format",
        "json",
    )
    assert "Warning" in err and "energyattrs" in err
    assert len(json.loads(out)["months"]) == 1  # all three hours are in January in Los Angeles


def test_it_bills_a_real_green_button_file():
    tariff = str(shared_data("urdb", URDB_FILES["psco"]))
    feed = str(shared_data("greenbutton", "TestGBDataHourlyNineDaysBinnedDaily.xml"))
    out, _ = run(
        "--tariff", tariff, "--intervals", feed, "--tz", "America/Denver", "--format", "json"
    )
    months = json.loads(out)["months"]
    assert months and all(Decimal(m["total"]) > Decimal("15.91") for m in months)
    for month in months:
        assert Decimal(month["total"]) == sum(Decimal(line["amount"]) for line in month["lines"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tz", "Mars/Olympus"], "Unknown time zone"),
        (["--tariff", "/nonexistent.json"], "Cannot read"),
        (["--intervals", "/nonexistent.csv"], "Cannot read"),
    ],
)
def test_it_refuses_bad_arguments_clearly(fpl_tariff, csv_file, options, message):
    args = {"--tariff": fpl_tariff, "--intervals": csv_file, "--tz": "America/New_York"}
    args.update(dict(zip(options[::2], options[1::2], strict=True)))
    with pytest.raises(CommandError, match=message):
        run(*[part for pair in args.items() for part in pair])


def test_it_refuses_an_invalid_tariff_or_interval_file(tmp_path, fpl_tariff, csv_file):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"items": [{"name": "x"}]}')
    with pytest.raises(CommandError, match="no energy, demand or fixed charges"):
        run("--tariff", str(bad_json), "--intervals", csv_file, "--tz", "UTC")
    hostile = tmp_path / "hostile.xml"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><feed>&a;</feed>')
    with pytest.raises(CommandError, match="hostile.xml"):
        run("--tariff", fpl_tariff, "--intervals", str(hostile), "--tz", "UTC")
