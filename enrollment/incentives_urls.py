"""Incentive pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from enrollment import incentives_views as views

urlpatterns = [
    path("incentives/", views.IncentiveListView.as_view(), name="incentive_list"),
    path("incentives/new/", views.IncentiveCreateView.as_view(), name="incentive_create"),
    path("incentives/<int:pk>/", views.IncentiveDetailView.as_view(), name="incentive_detail"),
    path(
        "incentives/<int:pk>/approve/",
        views.IncentiveApproveView.as_view(),
        name="incentive_approve",
    ),
    path(
        "incentives/<int:pk>/reject/", views.IncentiveRejectView.as_view(), name="incentive_reject"
    ),
    path("incentives/<int:pk>/dispute/", views.DisputeCreateView.as_view(), name="dispute_create"),
    path(
        "incentives/documents/<int:pk>/",
        views.IncentiveDocumentView.as_view(),
        name="incentive_document",
    ),
    path("incentives/budget/", views.BudgetDashboardView.as_view(), name="budget_dashboard"),
    path("incentives/ledger/", views.LedgerView.as_view(), name="ledger"),
    path("incentives/ledger/export.csv", views.LedgerExportView.as_view(), name="ledger_export"),
    path("incentives/payouts/", views.PayoutBatchListView.as_view(), name="payout_batch_list"),
    path(
        "incentives/payouts/new/",
        views.PayoutBatchCreateView.as_view(),
        name="payout_batch_create",
    ),
    path(
        "incentives/payouts/<int:pk>/",
        views.PayoutBatchDetailView.as_view(),
        name="payout_batch_detail",
    ),
    path(
        "incentives/payouts/<int:pk>/<slug:method>.csv",
        views.PayoutBatchExportView.as_view(),
        name="payout_batch_export",
    ),
    path(
        "incentives/payouts/<int:pk>/paid/",
        views.PayoutBatchMarkPaidView.as_view(),
        name="payout_batch_mark_paid",
    ),
    path("incentives/disputes/", views.DisputeListView.as_view(), name="dispute_list"),
    path("incentives/disputes/<int:pk>/", views.DisputeDetailView.as_view(), name="dispute_detail"),
    path(
        "incentives/disputes/<int:pk>/resolve/",
        views.DisputeResolveView.as_view(),
        name="dispute_resolve",
    ),
    path("incentives/offers/", views.OfferListView.as_view(), name="incentive_offer_list"),
    path("incentives/offers/new/", views.OfferCreateView.as_view(), name="incentive_offer_create"),
    path(
        "incentives/offers/<int:pk>/edit/",
        views.OfferEditView.as_view(),
        name="incentive_offer_edit",
    ),
]
