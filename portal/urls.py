from django.contrib import admin
from django.urls import include, path

from enrollment.interconnection import urls as interconnection_urls
from portal import views

utility_patterns = [
    path("", views.UtilityDashboardView.as_view(), name="dashboard"),
    path("audit/", views.AuditListView.as_view(), name="audit_list"),
    path("audit/export.csv", views.AuditExportView.as_view(), name="audit_export"),
    path("audit/<int:pk>/", views.AuditDetailView.as_view(), name="audit_detail"),
    path("partners/", views.PartnerAgreementListView.as_view(), name="partner_list"),
    path("installers/", views.InstallerApprovalListView.as_view(), name="installer_list"),
    path("", include("portal.identity.utility_urls")),
    path("", include("portal.customers.urls")),
    path("", include("devices.urls")),
    path("", include("enrollment.urls")),
    path("", include("enrollment.incentives.urls")),
    path("", include(interconnection_urls.utility_urlpatterns)),
    path("", include("dispatch.urls")),
    path("", include("billing.urls")),
]

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("switch/", views.SwitchWorkspaceView.as_view(), name="switch_workspace"),
    path("healthz", views.HealthView.as_view(), name="healthz"),
    path("u/<slug:utility_slug>/", include((utility_patterns, "utility"))),
    path(
        "installer/<slug:org_slug>/",
        views.InstallerWorkspaceView.as_view(),
        name="installer_workspace",
    ),
    path("installer/<slug:org_slug>/", include(interconnection_urls.installer_urlpatterns)),
    path("ahj/<slug:org_slug>/", views.AHJWorkspaceView.as_view(), name="ahj_workspace"),
    path("ahj/<slug:org_slug>/", include(interconnection_urls.ahj_urlpatterns)),
    path("", include("portal.identity.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/", include("portal.api.urls")),
    path("o/", include("portal.api.oauth_urls")),
    path("admin/", admin.site.urls),
]
