"""Partner API v1: its root, the calling client, and the utilities it may act in."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.base import PartnerAPIView, PartnerViewSet
from portal.api.errors import ErrorCode, error_payload
from portal.api.serializers import MeSerializer, UtilitySerializer
from portal.api.throttling import PartnerClientThrottle
from portal.models import PartnerAgreement


def docs_view(view):
    """The schema or documentation page: public when ``API_DOCS_PUBLIC`` (a developer's
    machine, or an operator who publishes them), otherwise for signed-in portal users."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return guarded


@extend_schema(exclude=True)
class APIRootView(APIView):
    """Where to start: the endpoints, the token URL and the documentation. Public."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PartnerClientThrottle]
    renderer_classes = [JSONRenderer]

    def get(self, request):
        links = {
            "me": "api:v1:me",
            "utilities": "api:v1:utility-list",
            "token": "oauth2_provider:token",
            "schema": "api:schema",
            "docs": "api:docs",
        }
        return Response(
            {name: request.build_absolute_uri(reverse(url)) for name, url in links.items()}
        )


class MeView(PartnerAPIView):
    """The calling client: its partner, client id, granted scopes and reachable utilities."""

    required_scopes = ()  # any partner client may ask who it is

    @extend_schema(responses=MeSerializer, operation_id="me", summary="The calling client")
    def get(self, request):
        return Response(MeSerializer(request.partner_access).data)


@extend_schema_view(
    list=extend_schema(summary="List the utilities this client may act in"),
    retrieve=extend_schema(summary="One utility this client may act in"),
)
class UtilityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerViewSet):
    """Utilities this client may act in now: its own, where the partner's agreement is active."""

    required_scopes = ["utilities:read"]
    serializer_class = UtilitySerializer
    lookup_field = "utility__slug"
    lookup_url_kwarg = "slug"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no client, no scope
            return PartnerAgreement.objects.none()
        # The tenant scope limits the rows to utilities with an active agreement.
        return (
            PartnerAgreement.objects.filter(partner=self.request.partner)
            .select_related("utility")
            .order_by("utility__name")
        )

    def get_object(self):
        utility = self.get_utility(self.kwargs[self.lookup_url_kwarg])
        return get_object_or_404(self.get_queryset(), utility=utility)


@csrf_exempt
def not_found(request, *args, **kwargs):
    """Any path under /api/ that no endpoint claims, whatever the method."""
    return JsonResponse(
        error_payload(ErrorCode.NOT_FOUND, "No API endpoint at this address."), status=404
    )
