"""Eligibility follows its inputs: when something it reads changes outside enrollment (an
account's data from an import, a vehicle's registration, the approved equipment list), the
open enrollments it concerns are re-evaluated, without anyone touching the program."""

from __future__ import annotations

import pytest
from django_scopes import scope, scopes_disabled

from devices.models import ApprovedEquipment
from devices.services.vehicles import update_vehicle
from enrollment.eligibility import Rule
from enrollment.models import Enrollment
from portal.customers.services import import_customers
from tests.enrollment.factories import ProgramFactory
from tests.enrollment.programs_support import eligible_vehicle, submit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

Status = Enrollment.Status


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the change schedules on commit (the re-evaluation tasks, eagerly)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def active_enrollment(utility, **program_fields) -> Enrollment:
    program = ProgramFactory(
        utility=utility, kind="v1g", require_permission_to_operate=False, **program_fields
    )
    enrollment = submit(program, eligible_vehicle(utility))
    assert enrollment.status == Status.ACTIVE, enrollment.failed_rules
    return enrollment


def reloaded(enrollment: Enrollment) -> Enrollment:
    with scopes_disabled():
        return Enrollment.objects.get(pk=enrollment.pk)


def test_it_reevaluates_when_an_import_changes_an_accounts_data(utility_a, committed):
    enrollment = active_enrollment(utility_a, require_smart_meter=True)
    account = enrollment.service_account
    csv = f"account_number,smart_meter\n{account.account_number},no\n".encode()
    with scope(utility=utility_a.pk), committed():
        import_customers(utility=utility_a, raw=csv, filename="meters.csv")
    after = reloaded(enrollment)
    assert Rule.SMART_METER in after.failed_rules
    assert after.status != Status.ACTIVE
    assert after.evaluated_at > enrollment.evaluated_at


def test_it_leaves_enrollments_of_unchanged_accounts_alone(utility_a, committed):
    enrollment = active_enrollment(utility_a, require_smart_meter=True)
    account = enrollment.service_account
    csv = f"account_number,smart_meter\n{account.account_number},yes\n".encode()
    with scope(utility=utility_a.pk), committed():
        import_customers(utility=utility_a, raw=csv, filename="same.csv")
    assert reloaded(enrollment).evaluated_at == enrollment.evaluated_at


def test_it_reevaluates_when_a_vehicles_registration_changes(utility_a, committed):
    enrollment = active_enrollment(utility_a)
    with scope(utility=utility_a.pk), committed():
        update_vehicle(vehicle=enrollment.vehicle, changes={"modes": ["v2h"]})
    after = reloaded(enrollment)
    assert Rule.VEHICLE_CAPABILITY in after.failed_rules
    assert after.status != Status.ACTIVE


def test_it_reevaluates_the_utility_when_its_approved_equipment_list_changes(utility_a, committed):
    enrollment = active_enrollment(utility_a)
    with scopes_disabled(), committed():
        ApprovedEquipment.objects.filter(utility=utility_a).delete()
    after = reloaded(enrollment)
    assert Rule.APPROVED_EQUIPMENT in after.failed_rules
    assert after.status != Status.ACTIVE
    assert after.eligibility_rules_version == after.program.rules_version


def test_another_utilitys_list_change_does_not_touch_this_one(utility_a, utility_b, committed):
    enrollment = active_enrollment(utility_a)
    other = active_enrollment(utility_b)
    with scopes_disabled(), committed():
        ApprovedEquipment.objects.filter(utility=utility_b).delete()
    assert reloaded(enrollment).evaluated_at == enrollment.evaluated_at
    assert Rule.APPROVED_EQUIPMENT in reloaded(other).failed_rules
