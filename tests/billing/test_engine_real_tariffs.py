"""Bills under the four real URDB tariffs, each computed by hand in the comments."""

from __future__ import annotations

from decimal import Decimal

from billing.rates.engine import compute_bills
from tests.billing.rates_support import DENVER, LA, NEW_YORK, at, lines_by_label, real_schedule


def test_it_bills_fpl_rs1_tiers_across_1000_kwh():
    schedule = real_schedule("fpl")
    # Ten hours of 120 kWh on 3 June 2024 (New York time): 1200 kWh in June.
    intervals = [at(NEW_YORK, 2024, 6, 3, hour, kwh=120) for hour in range(10)]
    (bill,) = compute_bills(schedule, intervals, NEW_YORK)
    # tier 1: 1000 kWh × (0.07531 + 0.0119 = 0.08721) = 87.21
    # tier 2:  200 kWh × (0.09613 + 0.0119 = 0.10803) = 21.606 -> 21.61
    # fixedmonthlycharge 7.57
    # total 87.21 + 21.61 + 7.57 = 116.39
    amounts = [line.amount for line in bill.lines]
    assert amounts == [Decimal("87.21"), Decimal("21.61"), Decimal("7.57")]
    assert [line.quantity for line in bill.lines[:2]] == [Decimal(1000), Decimal(200)]
    assert bill.lines[0].rate == Decimal("0.08721")
    assert bill.total == Decimal("116.39")
    assert bill.partial and bill.days == 1


def test_it_bills_pge_bev2s_tou_energy_and_flat_demand():
    schedule = real_schedule("pge")
    intervals = [
        at(LA, 2024, 7, 10, 10, kwh=10),  # Wednesday 10:00: super off-peak, 10 kW
        at(LA, 2024, 7, 10, 17, 0, kwh=5, seconds=900),  # 17:00 peak, 5 kWh in 15 min = 20 kW
        at(LA, 2024, 7, 10, 22, kwh=8),  # 22:00 off-peak, 8 kW
    ]
    (bill,) = compute_bills(schedule, intervals, LA)
    # off-peak        8 kWh × 0.18081 = 1.44648 -> 1.45
    # super off-peak 10 kWh × 0.15754 = 1.5754  -> 1.58
    # peak            5 kWh × 0.39404 = 1.9702  -> 1.97
    # customer charge 447.44 ($/month)
    # demand: monthly max 20 kW × 1.91 = 38.20
    # total 1.45 + 1.58 + 1.97 + 447.44 + 38.20 = 490.64
    assert lines_by_label(bill) == {
        "Energy, Off-Peak": Decimal("1.45"),
        "Energy, Super Off-Peak": Decimal("1.58"),
        "Energy, Peak": Decimal("1.97"),
        "Customer charge": Decimal("447.44"),
        "Demand": Decimal("38.20"),
    }
    assert bill.total == Decimal("490.64")


def test_it_bills_psco_rd_with_summer_and_winter_demand_rates():
    schedule = real_schedule("psco")

    def month(month_no):
        return [
            at(DENVER, 2024, month_no, 15, 17, kwh=6),  # 6 kW
            at(DENVER, 2024, month_no, 15, 18, kwh=6),  # 6 kW
            at(DENVER, 2024, month_no, 15, 19, 0, kwh="2.5", seconds=900),  # 10 kW
        ]

    july, january = (compute_bills(schedule, month(m), DENVER)[0] for m in (7, 1))
    # energy 14.5 kWh × (0.01974 + 0.0283685 = 0.0481085) = 0.69757325 -> 0.70
    # July (flatdemandmonths -> period 2): 10 kW × (10.08 + 1.43 = 11.51) = 115.10
    # customer charge 15.91; total 0.70 + 115.10 + 15.91 = 131.71
    assert lines_by_label(july)["Demand"] == Decimal("115.10")
    assert july.total == Decimal("131.71")
    # January (period 1): 10 kW × (7.76 + 1.38 = 9.14) = 91.40; total 0.70 + 91.40 + 15.91 = 108.01
    assert lines_by_label(january)["Demand"] == Decimal("91.40")
    assert january.total == Decimal("108.01")


def test_it_bills_sce_gs2_tou_energy_with_flat_and_tou_demand():
    schedule = real_schedule("sce")
    intervals = [
        at(LA, 2024, 7, 10, 9, kwh=30),  # Wednesday 09:00 summer: energy period 4, demand period 2
        at(LA, 2024, 7, 10, 14, kwh=40),  # 14:00: energy period 5 (on-peak), demand period 3
        at(LA, 2024, 7, 13, 14, kwh=50),  # Saturday 14:00: weekend energy period 3, demand 1
    ]
    (bill,) = compute_bills(schedule, intervals, LA)
    # energy: period 3 (weekend)  50 kWh × 0.066   = 3.30
    #         period 4 (mid-peak) 30 kWh × 0.08888 = 2.6664 -> 2.67
    #         period 5 (on-peak)  40 kWh × 0.1355  = 5.42
    # monthly charge 259.20
    # flat demand: monthly max 50 kW × 13.2 = 660.00
    # TOU demand: period 2 max 30 kW × 5.30 = 159.00; period 3 max 40 kW × 18.11 = 724.40;
    #             period 1 (rate 0) prints no line
    # total 3.30 + 2.67 + 5.42 + 259.20 + 660.00 + 159.00 + 724.40 = 1813.99
    assert lines_by_label(bill) == {
        "Energy, Period 3": Decimal("3.30"),
        "Energy, Period 4": Decimal("2.67"),
        "Energy, Period 5": Decimal("5.42"),
        "Monthly charge": Decimal("259.20"),
        "Demand": Decimal("660.00"),
        "Demand, Period 2": Decimal("159.00"),
        "Demand, Period 3": Decimal("724.40"),
    }
    assert bill.total == Decimal("1813.99")
