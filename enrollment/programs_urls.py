"""Program and enrollment pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import path

from enrollment import views

urlpatterns = [
    path("programs/", views.ProgramListView.as_view(), name="program_list"),
    path("programs/new/", views.ProgramCreateView.as_view(), name="program_create"),
    path("programs/<int:pk>/", views.ProgramDetailView.as_view(), name="program_detail"),
    path("programs/<int:pk>/edit/", views.ProgramEditView.as_view(), name="program_edit"),
    path(
        "programs/<int:pk>/terms/new/",
        views.TermsVersionCreateView.as_view(),
        name="terms_version_create",
    ),
    path("enrollments/", views.EnrollmentListView.as_view(), name="enrollment_list"),
    path("enrollments/new/", views.EnrollmentCreateView.as_view(), name="enrollment_create"),
    path("enrollments/bulk/", views.EnrollmentBulkActionView.as_view(), name="enrollment_bulk"),
    path(
        "enrollments/offboarding/",
        views.OffboardingView.as_view(),
        name="enrollment_offboarding",
    ),
    path("enrollments/<int:pk>/", views.EnrollmentDetailView.as_view(), name="enrollment_detail"),
    path(
        "enrollments/<int:pk>/action/",
        views.EnrollmentActionView.as_view(),
        name="enrollment_action",
    ),
]
