"""Billing pages under /u/<utility_slug>/ (namespace "utility"); each area its own block."""

from django.urls import path

from billing.views import impact, settlement

# --- Program impact and settlement (settle) ---------------------------------------------------
urlpatterns = [
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
