"""Enrollment and interconnection pages under /u/<utility_slug>/ (namespace "utility")."""

from django.urls import include, path

from enrollment.interconnection import urls as interconnection_urls

urlpatterns = [
    path("", include("enrollment.programs_urls")),
    path("", include(interconnection_urls.utility_urlpatterns)),
]
