"""Enrollment endpoints of the partner API, included under /api/v1/ (namespace "api:v1")."""

from django.urls import path

from enrollment.api import views

enrollment_list = views.EnrollmentViewSet.as_view({"get": "list", "post": "create"})
enrollment_detail = views.EnrollmentViewSet.as_view({"get": "retrieve"})
enrollment_withdraw = views.EnrollmentViewSet.as_view({"post": "withdraw"})
enrollment_consent = views.EnrollmentViewSet.as_view({"post": "consent"})

urlpatterns = [
    path("enrollments", enrollment_list, name="enrollment-list"),
    path("enrollments/<int:pk>", enrollment_detail, name="enrollment-detail"),
    path("enrollments/<int:pk>/withdraw", enrollment_withdraw, name="enrollment-withdraw"),
    path("enrollments/<int:pk>/consent", enrollment_consent, name="enrollment-consent"),
]
