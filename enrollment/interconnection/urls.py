"""Interconnection pages. ``utility_urlpatterns`` are included under /u/<utility_slug>/
(namespace "utility"); ``installer_urlpatterns`` under /installer/<org_slug>/ and
``ahj_urlpatterns`` under /ahj/<org_slug>/ (no namespace)."""

from django.urls import path

from enrollment.interconnection.views import ahj, installer, utility

utility_urlpatterns = [
    path("interconnection/", utility.QueueView.as_view(), name="interconnection_queue"),
    path("interconnection/report/", utility.ReportView.as_view(), name="interconnection_report"),
    path(
        "interconnection/report.csv",
        utility.ReportCsvView.as_view(),
        name="interconnection_report_csv",
    ),
    path(
        "interconnection/<int:pk>/",
        utility.UtilityDetailView.as_view(),
        name="interconnection_detail",
    ),
    path(
        "interconnection/<int:pk>/act/",
        utility.UtilityActView.as_view(),
        name="interconnection_act",
    ),
    path(
        "interconnection/<int:pk>/messages/",
        utility.UtilityMessageView.as_view(),
        name="interconnection_message",
    ),
    path(
        "interconnection/<int:pk>/pto-letter/",
        utility.PtoLetterView.as_view(),
        name="interconnection_pto_letter",
    ),
    path(
        "interconnection/<int:pk>/documents/<int:doc_pk>/",
        utility.UtilityDocumentView.as_view(),
        name="interconnection_document",
    ),
]

installer_urlpatterns = [
    path(
        "interconnection/",
        installer.InstallerListView.as_view(),
        name="installer_interconnection_list",
    ),
    path(
        "interconnection/new/",
        installer.InstallerNewView.as_view(),
        name="installer_interconnection_new",
    ),
    path(
        "interconnection/<int:pk>/",
        installer.InstallerDetailView.as_view(),
        name="installer_interconnection_detail",
    ),
    path(
        "interconnection/<int:pk>/documents/",
        installer.InstallerDocumentsView.as_view(),
        name="installer_interconnection_documents",
    ),
    path(
        "interconnection/<int:pk>/answer/",
        installer.InstallerAnswerView.as_view(),
        name="installer_interconnection_answer",
    ),
    path(
        "interconnection/<int:pk>/act/",
        installer.InstallerActView.as_view(),
        name="installer_interconnection_act",
    ),
    path(
        "interconnection/<int:pk>/messages/",
        installer.InstallerMessageView.as_view(),
        name="installer_interconnection_message",
    ),
    path(
        "interconnection/<int:pk>/documents/<int:doc_pk>/",
        installer.InstallerApplicationDocumentView.as_view(),
        name="installer_interconnection_document",
    ),
]

ahj_urlpatterns = [
    path("interconnection/", ahj.AHJQueueView.as_view(), name="ahj_interconnection_list"),
    path(
        "interconnection/<int:pk>/",
        ahj.AHJDetailView.as_view(),
        name="ahj_interconnection_detail",
    ),
    path(
        "interconnection/<int:pk>/act/",
        ahj.AHJActView.as_view(),
        name="ahj_interconnection_act",
    ),
    path(
        "interconnection/<int:pk>/messages/",
        ahj.AHJMessageView.as_view(),
        name="ahj_interconnection_message",
    ),
    path(
        "interconnection/<int:pk>/documents/<int:doc_pk>/",
        ahj.AHJApplicationDocumentView.as_view(),
        name="ahj_interconnection_document",
    ),
]
