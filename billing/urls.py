"""Billing pages under /u/<utility_slug>/ (namespace "utility"), one block per area."""

from django.urls import path

from billing.views import tariffs

urlpatterns = [
    # --- rates: tariffs and their assignments
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
]
