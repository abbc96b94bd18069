"""URLs under /api/: version 1 of the partner API, its OpenAPI schema and documentation, and a
JSON 404 for every other path (the site-wide 404 page is HTML)."""

from __future__ import annotations

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from portal.api import views

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("utilities", views.UtilityViewSet, basename="utility")

v1_patterns = [
    path("", views.APIRootView.as_view(), name="root"),
    path("me", views.MeView.as_view(), name="me"),
    *router.urls,
    path("", include("devices.api.urls")),
    path("", include("enrollment.api.urls")),
]

urlpatterns = [
    path("v1/", include((v1_patterns, "v1"))),
    path("schema/", views.docs_view(SpectacularAPIView.as_view()), name="schema"),
    # The split view serves its start-up script as a file (?script), so the page needs no
    # inline script under the Content-Security-Policy; Swagger UI adds <style> elements at
    # run time, which this page alone allows.
    path(
        "docs/",
        views.docs_view(
            csp_update({"style-src-elem": ["'unsafe-inline'"]})(
                SpectacularSwaggerSplitView.as_view(url_name="api:schema")
            )
        ),
        name="docs",
    ),
    re_path(r"", views.not_found, name="not_found"),  # keep last
]
