"""The tariff pages: import by upload or paste, the heat-map page, assignments, capabilities."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scope

from billing.models import Tariff, TariffAssignment
from portal.models import AuditEvent
from portal.roles import Role
from tests.billing.factories import make_assignment, make_tariff, tariff_document
from tests.billing.rates_support import URDB_FILES, urdb_document
from tests.customers.factories import ServiceAccountFactory
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


def url(utility, name, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


@pytest.fixture
def settlement(client, utility_a):
    client.force_login(make_member(Role.SETTLEMENT_ANALYST, utility=utility_a))
    return client


def test_it_imports_an_uploaded_urdb_file_and_shows_the_report(settlement, utility_a):
    raw = json.dumps(urdb_document("pge")).encode()
    upload = SimpleUploadedFile(URDB_FILES["pge"], raw, content_type="application/json")
    response = settlement.post(url(utility_a, "tariff_import"), {"file": upload})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Import report" in body
    assert "reactive power charge $/kVAR" in body  # listed, not dropped
    assert "flat demand charge ($/kW on the monthly maximum)" in body
    with scope(utility=utility_a.pk):
        tariff = Tariff.objects.get()
        assert not tariff.supported
        assert AuditEvent.objects.filter(action="billing.tariff_imported").exists()
    assert url(utility_a, "tariff_detail", tariff.pk) in body


def test_it_imports_pasted_json_with_a_start_date(settlement, utility_a):
    pasted = json.dumps(tariff_document("Pasted TOU"))
    response = settlement.post(
        url(utility_a, "tariff_import"), {"pasted": pasted, "effective_from": "2025-01-01"}
    )
    assert response.status_code == 200 and "Supported" in response.content.decode()
    with scope(utility=utility_a.pk):
        assert Tariff.objects.get().effective_from == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("{broken", "Invalid JSON"),
        ('{"items": [{"name": "x", "energyratestructure": [[{"rate": 1}]]}]}', "is missing"),
        ("[]", "expected a JSON object"),
    ],
)
def test_it_shows_a_clear_error_and_stores_nothing_for_a_bad_document(
    settlement, utility_a, pasted, message
):
    response = settlement.post(
        url(utility_a, "tariff_import"), {"pasted": pasted, "effective_from": "2025-01-01"}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    with scope(utility=utility_a.pk):
        assert not Tariff.objects.exists()
        assert not AuditEvent.objects.filter(action__startswith="billing.").exists()


def test_it_refuses_an_overlapping_version_on_the_page(settlement, utility_a):
    make_tariff(utility_a, name="Res TOU", start=date(2024, 1, 1))
    pasted = json.dumps(tariff_document("Res TOU"))
    response = settlement.post(
        url(utility_a, "tariff_import"), {"pasted": pasted, "effective_from": "2024-01-01"}
    )
    assert "may not overlap" in response.content.decode()
    with scope(utility=utility_a.pk):
        assert Tariff.objects.count() == 1


def test_the_tariff_page_draws_weekday_and_weekend_heat_maps_with_a_legend(settlement, utility_a):
    tariff = make_tariff(utility_a, name="Heat TOU")
    body = settlement.get(url(utility_a, "tariff_detail", tariff.pk)).content.decode()
    assert "Energy, weekdays" in body and "Energy, weekends" in body
    # On-peak (period 2, the dearest) is the darkest shade; off-peak the lightest.
    assert '<td class="heat-7">2</td>' in body and '<td class="heat-0">1</td>' in body
    assert body.count('<td class="heat-7">2</td>') == 12 * 5  # weekdays 16-20, every month
    assert "$0.30/kWh" in body and "Customer charge: $12.50 $/month" in body


def test_the_tariff_page_shows_demand_charges_of_a_real_tariff(settlement, utility_a):
    with scope(utility=utility_a.pk):
        from billing.services.tariffs import import_tariff

        tariff = import_tariff(utility=utility_a, document=urdb_document("sce")).tariff
    body = settlement.get(url(utility_a, "tariff_detail", tariff.pk)).content.decode()
    assert "Time-of-use demand periods" in body and "Demand, weekdays" in body
    assert "$13.20/kW" in body
    assert "energyattrs" in body


def test_it_assigns_a_tariff_to_an_account_and_ends_it(settlement, utility_a):
    tariff = make_tariff(utility_a)
    account = ServiceAccountFactory(utility=utility_a, account_number="ACC-77")
    response = settlement.post(
        url(utility_a, "tariff_assign", tariff.pk),
        {"account_number": "ACC-77", "effective_from": "2024-02-01"},
    )
    assert response.status_code == 302
    with scope(utility=utility_a.pk):
        assignment = TariffAssignment.objects.get()
        assert assignment.service_account == account
    response = settlement.post(
        url(utility_a, "tariff_assignment_end", assignment.pk), {"last_day": "2024-03-31"}
    )
    assert response.status_code == 302
    with scope(utility=utility_a.pk):
        assert TariffAssignment.objects.get().effective_to == date(2024, 3, 31)


def test_it_does_not_find_another_utilitys_account_to_assign(settlement, utility_a, utility_b):
    tariff = make_tariff(utility_a)
    ServiceAccountFactory(utility=utility_b, account_number="THEIRS-1")
    response = settlement.post(
        url(utility_a, "tariff_assign", tariff.pk),
        {"account_number": "THEIRS-1", "effective_from": "2024-02-01"},
    )
    assert "No service account THEIRS-1 in this utility" in response.content.decode()
    with scope(utility=utility_a.pk):
        assert not TariffAssignment.objects.exists()


def test_an_analyst_may_view_tariffs_but_not_import_or_assign(client, utility_a):
    tariff = make_tariff(utility_a)
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    assert client.get(url(utility_a, "tariff_list")).status_code == 200
    assert client.get(url(utility_a, "tariff_detail", tariff.pk)).status_code == 200
    assert client.post(url(utility_a, "tariff_import"), {"pasted": "{}"}).status_code == 403
    assert client.get(url(utility_a, "tariff_assign", tariff.pk)).status_code == 403


def test_the_menu_shows_tariffs_only_to_those_who_may_view_billing(client, utility_a):
    client.force_login(make_member(Role.SETTLEMENT_ANALYST, utility=utility_a))
    assert url(utility_a, "tariff_list") in client.get(url(utility_a, "dashboard")).content.decode()
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    assert (
        url(utility_a, "tariff_list")
        not in client.get(url(utility_a, "dashboard")).content.decode()
    )


def test_the_lists_run_a_constant_number_of_queries(
    settlement, utility_a, django_assert_max_num_queries
):
    for n in range(3):
        make_assignment(utility_a, tariff=make_tariff(utility_a, name=f"Listed {n}"))
    with django_assert_max_num_queries(12):
        settlement.get(url(utility_a, "tariff_list"))
        settlement.get(url(utility_a, "tariff_assignment_list"))
    for n in range(3, 20):
        make_assignment(utility_a, tariff=make_tariff(utility_a, name=f"Listed {n}"))
    with django_assert_max_num_queries(12):
        settlement.get(url(utility_a, "tariff_list"))
        settlement.get(url(utility_a, "tariff_assignment_list"))
