"""Billing pages under /u/<utility_slug>/ (namespace "utility"); each billing area keeps its
own block of routes."""

from django.urls import path

from billing.views import meter

urlpatterns = [
    # --- meter data ---------------------------------------------------------------------------
    path("billing/meter/", meter.MeterImportListView.as_view(), name="meter_import_list"),
    path("billing/meter/import/", meter.MeterImportView.as_view(), name="meter_import"),
    path(
        "billing/meter/imports/<int:pk>/",
        meter.MeterImportDetailView.as_view(),
        name="meter_import_detail",
    ),
    path(
        "billing/meter/accounts/<int:pk>/",
        meter.MeterAccountView.as_view(),
        name="meter_account",
    ),
]
