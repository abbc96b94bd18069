"""Customer pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from portal.customers import views

urlpatterns = [
    path("customers/", views.CustomerListView.as_view(), name="customer_list"),
    path("customers/<int:pk>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path(
        "customers/<int:pk>/authorizations/",
        views.AuthorizationIssueView.as_view(),
        name="customer_authorization_issue",
    ),
    path(
        "customers/<int:pk>/authorizations/<int:authorization_pk>/revoke/",
        views.AuthorizationRevokeView.as_view(),
        name="customer_authorization_revoke",
    ),
    path(
        "customers/lookup-failures/",
        views.LookupFailureListView.as_view(),
        name="customer_lookup_failures",
    ),
    path("customers/import/", views.CustomerImportView.as_view(), name="customer_import"),
    path(
        "customers/import/<int:pk>/",
        views.CustomerImportDetailView.as_view(),
        name="customer_import_detail",
    ),
    path(
        "customers/import/<int:pk>/report.csv",
        views.CustomerImportReportView.as_view(),
        name="customer_import_report",
    ),
]
