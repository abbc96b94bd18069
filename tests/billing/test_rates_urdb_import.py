"""Reading URDB documents: the four real tariffs' import reports, and invalid documents."""

from __future__ import annotations

import copy
import json

import pytest

from billing.rates.urdb import TariffError, decode_document, parse_urdb
from tests.billing.rates_support import flat_grid, synthetic, urdb_document


def test_it_reads_fpl_rs1_as_fully_supported_with_tiers():
    schedule = parse_urdb(urdb_document("fpl"))
    assert schedule.supported and schedule.unsupported == ()
    assert schedule.name == "RS-1 Residential Service"
    assert "monthly energy tiers (max kWh per month)" in schedule.supported_constructs
    assert [t.max_kwh for t in schedule.energy_periods[0].tiers] == [1000, None]


def test_it_reads_psco_rd_with_seasonal_flat_demand():
    schedule = parse_urdb(urdb_document("psco"))
    assert schedule.supported
    assert schedule.flat_demand_months == (0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0)
    assert str(schedule.start_date) == "2018-01-01"


def test_it_lists_pge_bev2s_reactive_power_charge_as_unsupported():
    schedule = parse_urdb(urdb_document("pge"))
    assert not schedule.supported
    assert schedule.unsupported == ("reactive power charge $/kVAR (demandreactivepowercharge)",)
    assert [p.label for p in schedule.energy_periods] == ["Off-Peak", "Super Off-Peak", "Peak"]


def test_it_lists_sce_gs2_free_text_adjustments_as_unsupported():
    schedule = parse_urdb(urdb_document("sce"))
    assert not schedule.supported
    assert any("energyattrs" in item for item in schedule.unsupported)
    assert any("demandattrs" in item for item in schedule.unsupported)
    assert "time-of-use demand charges: 3 period(s)" in schedule.supported_constructs


def test_it_accepts_a_bare_tariff_object():
    bare = urdb_document("fpl")["items"][0]
    assert parse_urdb(bare) == parse_urdb(urdb_document("fpl"))


@pytest.mark.parametrize(
    ("fields", "listed"),
    [
        (
            {
                "energyratestructure": [
                    [{"rate": 0.1, "max": 20, "unit": "kWh daily"}, {"rate": 0.2}]
                ]
            },
            "kWh daily",
        ),
        (
            {"energyratestructure": [[{"rate": 0.1, "max": 200, "unit": "kWh/kW"}, {"rate": 0.2}]]},
            "kWh/kW",
        ),
        (
            {"coincidentratestructure": [[{"rate": 5}]], "coincidentrateschedule": flat_grid()},
            "coincident demand",
        ),
        ({"lookbackpercent": 0.8, "lookbackmonths": [1] * 12}, "demand ratchet"),
        ({"fixedchargefirstmeter": 100, "fixedchargeunits": "$/year"}, "$/year"),
        ({"mincharge": 100, "minchargeunits": "$/year"}, "minimum charge unit"),
        ({"flatdemandstructure": [[{"rate": 3}]], "flatdemandunit": "kVA"}, "kVA"),
    ],
)
def test_it_lists_each_unsupported_construct(fields, listed):
    schedule = parse_urdb(synthetic(**fields))
    assert not schedule.supported
    assert any(listed in item for item in schedule.unsupported), schedule.unsupported


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2, 3], "expected a JSON object"),
        ({"items": []}, "holds no tariff"),
        ({"items": [synthetic(), synthetic()]}, "import them one at a time"),
        ({"hello": "world"}, "no name"),
        ({"name": "Only a name"}, "no energy, demand or fixed charges"),
        (synthetic(energyweekdayschedule=[[0] * 24] * 11), "must have 12 rows"),
        (synthetic(energyweekdayschedule=[[0] * 23] * 12), "must have 24 hours"),
        (synthetic(energyweekendschedule=[[0] * 23 + [1]] * 12), "is not a period"),
        (synthetic(energyweekdayschedule=[[0] * 23 + ["0"]] * 12), "is not a period"),
        (synthetic(energyweekendschedule=None), "is missing"),
        (synthetic(energyratestructure=[]), "non-empty list of periods"),
        (synthetic(energyratestructure=[[{"rate": "cheap"}]]), "must be a number"),
        (synthetic(energyratestructure=[[{"rate": True}]]), "must be a number"),
        (synthetic(energyratestructure=[[{"rate": 0.1}, {"rate": 0.2}]]), "no 'max'"),
        (
            synthetic(
                energyratestructure=[
                    [{"rate": 0.1, "max": 50}, {"rate": 0.2, "max": 40}, {"rate": 0.3}]
                ]
            ),
            "does not increase",
        ),
        (synthetic(flatdemandstructure=[[{"rate": 1}]], flatdemandmonths=[0] * 11), "12 period"),
        (
            synthetic(flatdemandstructure=[[{"rate": 1}]], flatdemandmonths=[1] * 12),
            "is not a period",
        ),
        (synthetic(demandratestructure=[[{"rate": 1}]]), "demandweekdayschedule is missing"),
        (synthetic(startdate="yesterday"), "Unix timestamp"),
    ],
)
def test_it_refuses_a_document_that_is_not_a_consistent_tariff(document, message):
    with pytest.raises(TariffError, match=message):
        parse_urdb(copy.deepcopy(document))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"{not json", "Invalid JSON"),
        (b'{"name": NaN}', "NaN is not a number"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "Invalid JSON"),
        (b" " * (3 * 1024 * 1024), "at most"),
    ],
)
def test_it_refuses_hostile_or_invalid_json(data, message):
    with pytest.raises(TariffError, match=message):
        decode_document(data)


def test_it_decodes_a_real_file_with_a_byte_order_mark():
    raw = json.dumps(urdb_document("fpl")).encode("utf-8-sig")
    assert parse_urdb(decode_document(raw)).name == "RS-1 Residential Service"
