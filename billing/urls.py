"""Billing pages under /u/<utility_slug>/ (namespace "utility"); each billing area keeps its
own block of routes."""

from django.urls import path

from billing.views import impact, meter, settlement, tariffs

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
    # --- settle: program impact and settlement runs --------------------------------------------
    path("billing/", impact.BillingDashboardView.as_view(), name="billing_dashboard"),
    path("billing/statements/<int:pk>/", impact.StatementView.as_view(), name="billing_statement"),
    path("billing/settlements/", settlement.SettlementListView.as_view(), name="settlement_list"),
    path(
        "billing/settlements/new/",
        settlement.SettlementStartView.as_view(),
        name="settlement_start",
    ),
    path(
        "billing/settlements/<int:pk>/",
        settlement.SettlementDetailView.as_view(),
        name="settlement_detail",
    ),
    path(
        "billing/settlements/<int:pk>/review/",
        settlement.SettlementReviewView.as_view(),
        name="settlement_review",
    ),
    path(
        "billing/settlements/<int:pk>/approve/",
        settlement.SettlementApproveView.as_view(),
        name="settlement_approve",
    ),
    path(
        "billing/settlements/<int:pk>/export/",
        settlement.SettlementExportView.as_view(),
        name="settlement_export",
    ),
    path(
        "billing/settlements/<int:pk>/rerun/",
        settlement.SettlementRerunView.as_view(),
        name="settlement_rerun",
    ),
    path(
        "billing/settlements/<int:pk>/resume/",
        settlement.SettlementResumeView.as_view(),
        name="settlement_resume",
    ),
    path(
        "billing/settlements/<int:pk>/<slug:kind>.csv",
        settlement.SettlementDownloadView.as_view(),
        name="settlement_download",
    ),
    path(
        "billing/settlements/lines/<int:pk>/dispute/",
        settlement.DisputeOpenView.as_view(),
        name="settlement_dispute_open",
    ),
    path(
        "billing/settlements/disputes/<int:pk>/resolve/",
        settlement.DisputeResolveView.as_view(),
        name="settlement_dispute_resolve",
    ),
]
