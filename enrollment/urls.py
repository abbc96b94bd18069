"""Enrollment pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import include, path

urlpatterns = [
    path("", include("enrollment.programs_urls")),
]
