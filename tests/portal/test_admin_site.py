"""Every model page of the platform operators' admin opens, across utilities."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "model_admin",
    sorted(admin.site._registry.values(), key=lambda m: m.model._meta.label),
    ids=lambda m: m.model._meta.label,
)
def test_it_opens_every_changelist(admin_client, model_admin, utility_a, utility_b):
    ServiceAccountFactory(utility=utility_a)
    VehicleFactory(utility=utility_b)
    meta = model_admin.model._meta
    response = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert response.status_code == 200
