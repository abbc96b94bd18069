"""Eligibility rules: each evaluator on plain objects, and the batch loader's query count."""

from __future__ import annotations

import pytest
from django_scopes import scope

from devices.models import Charger, Vehicle
from enrollment import eligibility
from enrollment.eligibility import Candidate, OpenEnrollment, Rule
from enrollment.models import Enrollment, Program
from portal.customers.models import ServiceAccount
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory
from tests.enrollment.factories import EnrollmentFactory, ProgramFactory
from tests.enrollment.programs_support import eligible_vehicle

# --- Pure evaluators, no database ---------------------------------------------------------------


def program(**fields) -> Program:
    defaults = {"pk": 1, "utility_id": 1, "name": "Summer V2H", "kind": Program.Kind.V2H}
    return Program(**{**defaults, **fields})


def account(**fields) -> ServiceAccount:
    defaults = {
        "pk": 10,
        "account_number": "4400012345",
        "zip_code": "94110",
        "rate_class": ServiceAccount.RateClass.RESIDENTIAL_EV,
        "smart_meter": True,
    }
    return ServiceAccount(**{**defaults, **fields})


def vehicle(**fields) -> Vehicle:
    defaults = {
        "pk": 20,
        "partner_id": 5,
        "model": "F-150 Lightning",
        "supports_v1g": True,
        "supports_v2h": True,
        "supports_v2g": False,
    }
    return Vehicle(**{**defaults, **fields})


def charger(**fields) -> Charger:
    defaults = {"pk": 30, "maker": "Ford", "model": "Charge Station Pro", "approved_export_kw": 9.6}
    return Charger(**{**defaults, **fields})


TERRITORY = frozenset({"94110", "94111"})


@pytest.mark.parametrize(
    ("program_fields", "account_fields", "passed", "why"),
    [
        ({}, {"zip_code": "94110"}, True, "in the service territory"),
        ({}, {"zip_code": "80202"}, False, "outside the service territory"),
        ({"eligible_zip_codes": ["80202"]}, {"zip_code": "80202"}, True, "in the program area"),
        ({"eligible_zip_codes": ["80202"]}, {"zip_code": "94110"}, False, "outside the program"),
        ({"eligible_account_numbers": ["4400012345"]}, {"zip_code": "10001"}, True, "premise list"),
        ({"eligible_account_numbers": ["99"]}, {"zip_code": "94110"}, False, "not on the program"),
    ],
)
def test_it_checks_the_territory(program_fields, account_fields, passed, why):
    result = eligibility.check_territory(
        program=program(**program_fields),
        account=account(**account_fields),
        territory_zip_codes=TERRITORY,
    )
    assert (result.rule, result.passed) == (Rule.TERRITORY, passed)
    assert why in result.detail


def test_it_passes_the_territory_when_the_utility_lists_no_zip_codes():
    result = eligibility.check_territory(
        program=program(), account=account(zip_code="10001"), territory_zip_codes=frozenset()
    )
    assert result.passed


def test_it_checks_the_rate_class():
    ev_only = program(eligible_rate_classes=[ServiceAccount.RateClass.RESIDENTIAL_EV])
    assert eligibility.check_rate_class(program=ev_only, account=account()).passed
    result = eligibility.check_rate_class(
        program=ev_only, account=account(rate_class=ServiceAccount.RateClass.SMALL_COMMERCIAL)
    )
    assert not result.passed and "Small commercial" in result.detail
    assert eligibility.check_rate_class(program=program(), account=account()).passed


def test_it_checks_the_smart_meter_only_when_required():
    no_meter = account(smart_meter=False)
    assert not eligibility.check_smart_meter(program=program(), account=no_meter).passed
    relaxed = program(require_smart_meter=False)
    assert eligibility.check_smart_meter(program=relaxed, account=no_meter).passed


def test_it_checks_the_vehicle_can_run_the_programs_mode():
    assert eligibility.check_vehicle_capability(program=program(), vehicle=vehicle()).passed
    result = eligibility.check_vehicle_capability(
        program=program(kind=Program.Kind.V2G), vehicle=vehicle()
    )
    assert not result.passed and "does not support V2G" in result.detail


def test_it_checks_the_vehicle_and_charger_pair_for_the_mode():
    pairs = {(5, "F-150 Lightning", "Ford", "Charge Station Pro"): frozenset({"v1g", "v2h"})}

    def check(**kwargs):
        return eligibility.check_approved_equipment(approved_pairs=pairs, **kwargs)

    assert check(program=program(), vehicle=vehicle(), charger=charger()).passed
    v2g = check(program=program(kind="v2g"), vehicle=vehicle(), charger=charger())
    assert not v2g.passed and "approved, but not for V2G" in v2g.detail
    other = check(program=program(), vehicle=vehicle(), charger=charger(model="Other"))
    assert not other.passed and "not on the approved equipment list" in other.detail
    another_partner = check(program=program(), vehicle=vehicle(partner_id=6), charger=charger())
    assert not another_partner.passed
    none = check(program=program(), vehicle=vehicle(), charger=None)
    assert not none.passed and "No charger on record" in none.detail
    relaxed = program(require_approved_equipment=False)
    assert check(program=relaxed, vehicle=vehicle(), charger=None).passed


def test_it_takes_permission_to_operate_from_the_interconnection_application():
    required = program(require_permission_to_operate=True)
    granted_pairs = {(10, 30): 9.6}

    def check(**fields):
        return eligibility.check_permission_to_operate(
            **{
                "program": required,
                "account": account(),
                "charger": charger(),
                "permissions_to_operate": granted_pairs,
                **fields,
            }
        )

    granted = check()
    assert granted.passed and "9.6 kW" in granted.detail
    # The charger's export field (imports can set it) is not PTO: no application, no PTO.
    assert not check(permissions_to_operate={}).passed
    # PTO is for that premise and that charger.
    assert not check(charger=charger(pk=31)).passed
    assert not check(account=account(pk=11)).passed
    no_charger = check(charger=None)
    assert not no_charger.passed and "No charger" in no_charger.detail
    assert check(program=program(), charger=None, permissions_to_operate={}).passed


def test_it_finds_conflicts_by_vehicle_and_by_premise_where_one_per_premise():
    other = OpenEnrollment(id=99, program_id=2, vehicle_id=20, service_account_id=10)
    names = {2: "Winter V1G"}

    def check(prog, *, conflict_set, by_vehicle=(), by_account=(), enrollment_id=None):
        return eligibility.check_conflicts(
            program=prog,
            candidate_enrollment_id=enrollment_id,
            vehicle_id=20,
            account_id=10,
            conflict_set=frozenset(conflict_set),
            open_by_vehicle={20: list(by_vehicle)},
            open_by_account={10: list(by_account)},
            program_names=names,
        )

    clash = check(program(), conflict_set={1, 2}, by_vehicle=[other])
    assert (
        not clash.passed and "vehicle already has an open enrollment in Winter V1G" in clash.detail
    )
    assert check(program(), conflict_set={1}, by_vehicle=[other]).passed  # not conflicting
    assert check(program(), conflict_set={1, 2}, by_vehicle=[other], enrollment_id=99).passed
    neighbour = other._replace(vehicle_id=21)
    assert check(program(), conflict_set={1, 2}, by_account=[neighbour]).passed
    per_premise = program(one_enrollment_per_premise=True)
    premise = check(per_premise, conflict_set={1, 2}, by_account=[neighbour])
    assert not premise.passed and "premise already has" in premise.detail


def test_it_applies_the_medical_need_policy():
    medical = account(medical_need=True)
    result, excluded = eligibility.check_medical_need(program=program(), account=medical)
    assert result.passed and excluded
    strict = program(medical_need_policy=Program.MedicalNeedPolicy.EXCLUDE_FROM_PROGRAM)
    result, excluded = eligibility.check_medical_need(program=strict, account=medical)
    assert not result.passed and not excluded
    result, excluded = eligibility.check_medical_need(program=strict, account=account())
    assert result.passed and not excluded


def test_it_flags_the_income_tier_without_failing():
    tiered = program(income_qualified_tier=True)
    result, flagged = eligibility.check_income_tier(
        program=tiered, account=account(income_qualified=True)
    )
    assert result.passed and flagged
    result, flagged = eligibility.check_income_tier(program=tiered, account=account())
    assert result.passed and not flagged
    result, flagged = eligibility.check_income_tier(
        program=program(), account=account(income_qualified=True)
    )
    assert result.passed and not flagged


# --- Batches from the database ----------------------------------------------------------------


@pytest.mark.django_db
def test_it_evaluates_a_whole_candidate_from_the_database(utility_a):
    prog = ProgramFactory(utility=utility_a, require_permission_to_operate=True)
    good = eligible_vehicle(utility_a)
    no_pto = eligible_vehicle(utility_a, pto=False)
    bare = VehicleFactory(
        utility=utility_a,
        service_account=ServiceAccountFactory(utility=utility_a, zip_code="80202"),
    )
    with scope(utility=utility_a.pk):
        results = eligibility.evaluate_many(
            [
                Candidate(program=prog, account=v.service_account, vehicle=v)
                for v in (good, no_pto, bare)
            ]
        )
    assert results[0].failed_rules == []
    assert results[1].failed_rules == [Rule.PERMISSION_TO_OPERATE]
    assert set(results[2].failed_rules) == {
        Rule.TERRITORY,
        Rule.APPROVED_EQUIPMENT,
        Rule.PERMISSION_TO_OPERATE,
    }
    assert [r["rule"] for r in results[0].as_list()] == [
        Rule.TERRITORY,
        Rule.RATE_CLASS,
        Rule.SMART_METER,
        Rule.VEHICLE_CAPABILITY,
        Rule.APPROVED_EQUIPMENT,
        Rule.PERMISSION_TO_OPERATE,
        Rule.CONFLICTING_PROGRAMS,
        Rule.MEDICAL_NEED,
        Rule.INCOME_QUALIFIED,
    ]


@pytest.mark.django_db
def test_it_sees_open_enrollments_in_conflicting_programs_only(utility_a):
    summer, winter, unrelated = (ProgramFactory(utility=utility_a) for _ in range(3))
    summer.conflicting_programs.add(winter)
    vehicle_ = eligible_vehicle(utility_a)
    EnrollmentFactory(program=winter, vehicle=vehicle_, service_account=vehicle_.service_account)
    with scope(utility=utility_a.pk):
        in_summer, in_unrelated = eligibility.evaluate_many(
            [
                Candidate(program=p, account=vehicle_.service_account, vehicle=vehicle_)
                for p in (summer, unrelated)
            ]
        )
    assert in_summer.failed_rules == [Rule.CONFLICTING_PROGRAMS]
    assert winter.name in in_summer.failure(Rule.CONFLICTING_PROGRAMS).detail
    assert in_unrelated.failed_rules == []


@pytest.mark.django_db
def test_it_ignores_closed_enrollments_as_conflicts(utility_a):
    prog = ProgramFactory(utility=utility_a)
    vehicle_ = eligible_vehicle(utility_a)
    EnrollmentFactory(
        program=prog,
        vehicle=vehicle_,
        service_account=vehicle_.service_account,
        status=Enrollment.Status.WITHDRAWN,
    )
    with scope(utility=utility_a.pk):
        [result] = eligibility.evaluate_many(
            [Candidate(program=prog, account=vehicle_.service_account, vehicle=vehicle_)]
        )
    assert result.failed_rules == []


@pytest.mark.django_db
def test_it_loads_a_batch_in_a_constant_number_of_queries(utility_a, django_assert_max_num_queries):
    prog = ProgramFactory(utility=utility_a, one_enrollment_per_premise=True)
    prog.conflicting_programs.add(ProgramFactory(utility=utility_a))

    def candidates(count: int) -> list[Candidate]:
        vehicles = [eligible_vehicle(utility_a) for _ in range(count)]
        return [Candidate(program=prog, account=v.service_account, vehicle=v) for v in vehicles]

    small, large = candidates(2), candidates(25)
    with scope(utility=utility_a.pk):
        with django_assert_max_num_queries(5) as few:
            eligibility.evaluate_many(small)
        with django_assert_max_num_queries(5) as many:
            eligibility.evaluate_many(large)
    assert len(few.captured_queries) == len(many.captured_queries)


def test_it_needs_no_database_for_an_empty_batch():
    assert eligibility.evaluate_many([]) == []
