"""Tariff versions, assignments and the tariff in force for an account."""

from __future__ import annotations

from datetime import date

import pytest
from django_scopes import scope

from billing.models import Tariff, TariffAssignment
from billing.selectors.tariffs import tariff_for
from billing.services.tariffs import (
    TariffRefused,
    assign_tariff,
    end_assignment,
    import_tariff,
)
from portal.models import AuditEvent
from tests.billing.factories import make_tariff, tariff_document
from tests.billing.rates_support import urdb_document
from tests.customers.factories import ServiceAccountFactory

pytestmark = pytest.mark.django_db


def test_it_stores_a_real_tariff_with_its_report_and_an_audit_row(utility_a):
    with scope(utility=utility_a.pk):
        report = import_tariff(utility=utility_a, document=urdb_document("sce"))
        tariff = Tariff.objects.get()
        assert tariff == report.tariff
        assert tariff.effective_from == date(2015, 6, 1)  # the document's startdate
        assert not tariff.supported and tariff.unsupported == list(report.unsupported)
        assert tariff.schedule_obj.name == tariff.name
        assert tariff.document["label"] == "55fc81d7682bea28da64f9ae"
        event = AuditEvent.objects.get(action="billing.tariff_imported")
        assert event.object_id == str(tariff.pk) and event.to_state == "unsupported"


def test_a_new_version_closes_the_previous_one_the_day_before(utility_a):
    first = make_tariff(utility_a, name="Res TOU", start=date(2024, 1, 1))
    second = make_tariff(utility_a, name="Res TOU", start=date(2024, 6, 1))
    first.refresh_from_db()
    assert first.effective_to == date(2024, 5, 31)
    assert (second.version, second.effective_to) == (2, None)
    with scope(utility=utility_a.pk):
        assert AuditEvent.objects.filter(action="billing.tariff_version_closed").count() == 1


@pytest.mark.parametrize("start", [date(2024, 1, 1), date(2023, 6, 1)])
def test_an_overlapping_version_is_refused_and_nothing_changes(utility_a, start):
    make_tariff(utility_a, name="Res TOU", start=date(2024, 1, 1))
    with scope(utility=utility_a.pk), pytest.raises(TariffRefused, match="may not overlap"):
        import_tariff(utility=utility_a, document=tariff_document("Res TOU"), effective_from=start)
    with scope(utility=utility_a.pk):
        assert Tariff.objects.count() == 1
        assert Tariff.objects.get().effective_to is None


def test_a_document_without_a_startdate_needs_a_date(utility_a):
    with scope(utility=utility_a.pk), pytest.raises(TariffRefused, match="startdate"):
        import_tariff(utility=utility_a, document=tariff_document())


def test_the_same_tariff_name_in_two_utilities_is_two_tariffs(utility_a, utility_b):
    make_tariff(utility_a, name="Shared name", start=date(2024, 1, 1))
    other = make_tariff(utility_b, name="Shared name", start=date(2024, 3, 1))
    assert other.version == 1 and other.utility == utility_b


def test_an_accounts_own_assignment_wins_over_its_rate_class(utility_a):
    class_tariff = make_tariff(utility_a, name="Residential")
    own_tariff = make_tariff(utility_a, name="EV rate")
    account = ServiceAccountFactory(utility=utility_a, rate_class="residential")
    with scope(utility=utility_a.pk):
        assign_tariff(
            utility=utility_a,
            tariff=class_tariff,
            rate_class="residential",
            effective_from=date(2024, 1, 1),
        )
        assign_tariff(
            utility=utility_a,
            tariff=own_tariff,
            service_account=account,
            effective_from=date(2024, 4, 1),
            effective_to=date(2024, 8, 31),
        )
        assert tariff_for(account, date(2024, 3, 31)) == class_tariff
        assert tariff_for(account, date(2024, 4, 1)) == own_tariff
        assert tariff_for(account, date(2024, 9, 1)) == class_tariff
        assert tariff_for(account, date(2023, 12, 31)) is None


def test_tariff_for_follows_the_assigned_tariff_to_its_version_in_force(utility_a):
    v1 = make_tariff(utility_a, name="Residential", start=date(2024, 1, 1))
    v2 = make_tariff(utility_a, name="Residential", start=date(2024, 7, 1))
    account = ServiceAccountFactory(utility=utility_a, rate_class="residential")
    with scope(utility=utility_a.pk):
        assign_tariff(
            utility=utility_a, tariff=v1, rate_class="residential", effective_from=date(2024, 1, 1)
        )
        assert tariff_for(account, date(2024, 6, 30)) == v1
        assert tariff_for(account, date(2024, 7, 1)) == v2


def test_an_overlapping_assignment_is_refused_until_the_first_ends(utility_a):
    tariff = make_tariff(utility_a)
    with scope(utility=utility_a.pk):
        first = assign_tariff(
            utility=utility_a,
            tariff=tariff,
            rate_class="residential",
            effective_from=date(2024, 1, 1),
        )
        with pytest.raises(TariffRefused, match="end that assignment first"):
            assign_tariff(
                utility=utility_a,
                tariff=tariff,
                rate_class="residential",
                effective_from=date(2024, 6, 1),
            )
        end_assignment(assignment=first, last_day=date(2024, 5, 31))
        assign_tariff(
            utility=utility_a,
            tariff=tariff,
            rate_class="residential",
            effective_from=date(2024, 6, 1),
        )
        assert TariffAssignment.objects.count() == 2
        actions = set(AuditEvent.objects.values_list("action", flat=True))
        assert {"billing.tariff_assigned", "billing.tariff_assignment_ended"} <= actions


def test_ending_an_assignment_checks_its_dates_and_the_current_end(utility_a):
    tariff = make_tariff(utility_a)
    with scope(utility=utility_a.pk):
        assignment = assign_tariff(
            utility=utility_a,
            tariff=tariff,
            rate_class="residential",
            effective_from=date(2024, 1, 1),
        )
        with pytest.raises(TariffRefused, match="cannot end before"):
            end_assignment(assignment=assignment, last_day=date(2023, 12, 31))
        stale = TariffAssignment.objects.get(pk=assignment.pk)
        end_assignment(assignment=assignment, last_day=date(2024, 5, 31))
        # A second person working from the page they loaded before the first ended it.
        with pytest.raises(TariffRefused, match="changed by someone else"):
            end_assignment(assignment=stale, last_day=date(2024, 4, 30))
        assert TariffAssignment.objects.get().effective_to == date(2024, 5, 31)


def test_an_assignment_needs_exactly_one_target(utility_a):
    tariff = make_tariff(utility_a)
    account = ServiceAccountFactory(utility=utility_a)
    with scope(utility=utility_a.pk):
        for target in ({}, {"rate_class": "residential", "service_account": account}):
            with pytest.raises(TariffRefused, match="rate class or to one service account"):
                assign_tariff(
                    utility=utility_a, tariff=tariff, effective_from=date(2024, 1, 1), **target
                )
