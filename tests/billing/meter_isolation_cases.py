"""Tenant-isolation cases for the meter data pages (merged into the suite in
tests/portal/test_tenant_isolation.py)."""

from __future__ import annotations

from tests.billing.factories import meter_import
from tests.customers.factories import ServiceAccountFactory
from tests.isolation import Case, pk_kwargs


def _import(utility):
    account = ServiceAccountFactory(utility=utility, customer_name=f"{utility.name} Meter Marker")
    return meter_import(account, filename=f"{utility.slug}-meter-marker.csv")


def _filename(meter_import_row) -> str:
    return meter_import_row.filename


def _account_kwargs(meter_import_row) -> dict:
    return {"pk": meter_import_row.service_account_id}


def _customer_name(meter_import_row) -> str:
    return meter_import_row.service_account.customer_name


METER_CASES: dict[str, Case] = {
    "utility:meter_import_list": Case(make=_import, marker=_filename),
    "utility:meter_import": Case(make=_import, marker=_filename),
    "utility:meter_import_detail": Case(make=_import, kwargs=pk_kwargs, marker=_filename),
    "utility:meter_account": Case(make=_import, kwargs=_account_kwargs, marker=_customer_name),
}
