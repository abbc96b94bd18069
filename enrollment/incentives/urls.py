"""Incentive pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from enrollment.incentives.views import budget, disputes, incentives, ledger, offers, payouts

urlpatterns = [
    path("incentives/", incentives.IncentiveListView.as_view(), name="incentive_list"),
    path("incentives/new/", incentives.IncentiveCreateView.as_view(), name="incentive_create"),
    path("incentives/<int:pk>/", incentives.IncentiveDetailView.as_view(), name="incentive_detail"),
    path(
        "incentives/<int:pk>/approve/",
        incentives.IncentiveApproveView.as_view(),
        name="incentive_approve",
    ),
    path(
        "incentives/<int:pk>/reject/",
        incentives.IncentiveRejectView.as_view(),
        name="incentive_reject",
    ),
    path(
        "incentives/<int:pk>/dispute/", disputes.DisputeCreateView.as_view(), name="dispute_create"
    ),
    path(
        "incentives/documents/<int:pk>/",
        incentives.IncentiveDocumentView.as_view(),
        name="incentive_document",
    ),
    path("incentives/budget/", budget.BudgetDashboardView.as_view(), name="budget_dashboard"),
    path("incentives/ledger/", ledger.LedgerView.as_view(), name="ledger"),
    path("incentives/ledger/export.csv", ledger.LedgerExportView.as_view(), name="ledger_export"),
    path("incentives/payouts/", payouts.PayoutBatchListView.as_view(), name="payout_batch_list"),
    path(
        "incentives/payouts/new/",
        payouts.PayoutBatchCreateView.as_view(),
        name="payout_batch_create",
    ),
    path(
        "incentives/payouts/<int:pk>/",
        payouts.PayoutBatchDetailView.as_view(),
        name="payout_batch_detail",
    ),
    path(
        "incentives/payouts/<int:pk>/<slug:method>.csv",
        payouts.PayoutBatchExportView.as_view(),
        name="payout_batch_export",
    ),
    path(
        "incentives/payouts/<int:pk>/paid/",
        payouts.PayoutBatchMarkPaidView.as_view(),
        name="payout_batch_mark_paid",
    ),
    path("incentives/disputes/", disputes.DisputeListView.as_view(), name="dispute_list"),
    path(
        "incentives/disputes/<int:pk>/", disputes.DisputeDetailView.as_view(), name="dispute_detail"
    ),
    path(
        "incentives/disputes/<int:pk>/resolve/",
        disputes.DisputeResolveView.as_view(),
        name="dispute_resolve",
    ),
    path("incentives/offers/", offers.OfferListView.as_view(), name="incentive_offer_list"),
    path("incentives/offers/new/", offers.OfferCreateView.as_view(), name="incentive_offer_create"),
    path(
        "incentives/offers/<int:pk>/edit/",
        offers.OfferEditView.as_view(),
        name="incentive_offer_edit",
    ),
]
