"""Interconnection pages. ``utility_urlpatterns`` are included under /u/<utility_slug>/
(namespace "utility"); ``installer_urlpatterns`` under /installer/<org_slug>/ and
``ahj_urlpatterns`` under /ahj/<org_slug>/ (no namespace)."""

from django.urls import path

from enrollment.interconnection import views

utility_urlpatterns = [
    path("interconnection/", views.QueueView.as_view(), name="interconnection_queue"),
    path("interconnection/report/", views.ReportView.as_view(), name="interconnection_report"),
    path(
        "interconnection/report.csv",
        views.ReportCsvView.as_view(),
        name="interconnection_report_csv",
    ),
    path(
        "interconnection/<int:pk>/",
        views.UtilityDetailView.as_view(),
        name="interconnection_detail",
    ),
    path(
        "interconnection/<int:pk>/act/", views.UtilityActView.as_view(), name="interconnection_act"
    ),
    path(
        "interconnection/<int:pk>/messages/",
        views.UtilityMessageView.as_view(),
        name="interconnection_message",
    ),
    path(
        "interconnection/<int:pk>/pto-letter/",
        views.PtoLetterView.as_view(),
        name="interconnection_pto_letter",
    ),
    path(
        "interconnection/<int:pk>/documents/<int:doc_pk>/",
        views.UtilityDocumentView.as_view(),
        name="interconnection_document",
    ),
]

installer_urlpatterns = [
    path(
        "interconnection/",
        views.InstallerListView.as_view(),
        name="installer_interconnection_list",
    ),
    path(
        "interconnection/new/",
        views.InstallerNewView.as_view(),
        name="installer_interconnection_new",
    ),
    path(
        "interconnection/<int:pk>/",
        views.InstallerDetailView.as_view(),
        name="installer_interconnection_detail",
    ),
    path(
        "interconnection/<int:pk>/documents/",
        views.InstallerDocumentsView.as_view(),
        name="installer_interconnection_documents",
    ),
    path(
        "interconnection/<int:pk>/answer/",
        views.InstallerAnswerView.as_view(),
        name="installer_interconnection_answer",
    ),
    path(
        "interconnection/<int:pk>/act/",
        views.InstallerActView.as_view(),
        name="installer_interconnection_act",
    ),
    path(
        "interconnection/<int:pk>/messages/",
        views.InstallerMessageView.as_view(),
        name="installer_interconnection_message",
    ),
    path(
        "interconnection/<int:pk>/documents/<int:doc_pk>/",
        views.InstallerApplicationDocumentView.as_view(),
        name="installer_interconnection_document",
    ),
]

ahj_urlpatterns = [
    path("interconnection/", views.AHJQueueView.as_view(), name="ahj_interconnection_list"),
    path(
        "interconnection/<int:pk>/",
        views.AHJDetailView.as_view(),
        name="ahj_interconnection_detail",
    ),
    path(
        "interconnection/<int:pk>/act/",
        views.AHJActView.as_view(),
        name="ahj_interconnection_act",
    ),
    path(
        "interconnection/<int:pk>/messages/",
        views.AHJMessageView.as_view(),
        name="ahj_interconnection_message",
    ),
    path(
        "interconnection/<int:pk>/documents/<int:doc_pk>/",
        views.AHJApplicationDocumentView.as_view(),
        name="ahj_interconnection_document",
    ),
]
