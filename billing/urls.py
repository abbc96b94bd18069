"""Billing pages under /u/<utility_slug>/ (namespace "utility"); each billing area keeps its
own block of routes."""

from django.urls import path

from billing.views import meter, tariffs

urlpatterns = [
    # --- rates: tariffs and their assignments -------------------------------------------------
    path("billing/tariffs/", tariffs.TariffListView.as_view(), name="tariff_list"),
    path("billing/tariffs/import/", tariffs.TariffImportView.as_view(), name="tariff_import"),
    path("billing/tariffs/<int:pk>/", tariffs.TariffDetailView.as_view(), name="tariff_detail"),
    path(
        "billing/tariffs/<int:pk>/assign/", tariffs.TariffAssignView.as_view(), name="tariff_assign"
    ),
    path(
        "billing/tariffs/assignments/",
        tariffs.TariffAssignmentListView.as_view(),
        name="tariff_assignment_list",
    ),
    path(
        "billing/tariffs/assignments/<int:pk>/end/",
        tariffs.TariffAssignmentEndView.as_view(),
        name="tariff_assignment_end",
    ),
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
