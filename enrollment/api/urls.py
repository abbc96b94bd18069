"""Enrollment endpoints of the partner API, included under /api/v1/ (namespace "api:v1")."""

urlpatterns: list = []
