"""The base of every partner endpoint. Access restriction lives here, once.

A view built on ``PartnerAPIView`` or ``PartnerViewSet`` (or ``PartnerAPIMixin`` put before
any other DRF view class):

* accepts only an OAuth2 client-credentials access token of a partner's client (no token or a
  bad one: 401; a token of any other client, or a person signed in to the portal: 403);
* declares ``required_scopes``: a list for every method, or a dict keyed by HTTP method
  (HEAD and OPTIONS use GET's); a token lacking one gets 403 ``insufficient_scope``;
* finds ``request.partner_access`` (partner, client id, scopes, utilities) and
  ``request.partner`` set, and runs its handler inside ``scope(utility=[…])`` of exactly the
  utilities the client may act in now, so tenant-owned queries see nothing else and a
  utility outside the client's reach is a 404 like a nonexistent one;
* is throttled per client (and, without a valid token, per address before the 401),
  paginated by ``StandardPagination``, answers JSON only, and
  turns every exception into the one error shape (``portal.api.errors``);
* looks up a utility named in a URL or body with ``self.get_utility(slug)`` (404 outside
  reach), and audits through ``self.audit(...)``, which names the client as the actor
  (services take ``**request.partner_access.audit_actor`` for the same).

A ``get_queryset`` starts with ``if getattr(self, "swagger_fake_view", False): return
Model.objects.none()``: drf-spectacular inspects views with no client and no scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django_scopes import scope
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from portal import audit
from portal.api.errors import PartnerClientRequired, ResourceNotFound
from portal.api.pagination import StandardPagination
from portal.api.parsers import JSONBodyParser
from portal.api.permissions import HasRequiredScopes, IsPartnerClient
from portal.api.throttling import AnonymousAddressThrottle, PartnerClientThrottle
from portal.models import AuditEvent, Utility
from portal.partners import PartnerAccess, configured_scopes, partner_access_for

RequiredScopes = Sequence[str] | Mapping[str, Sequence[str]]


class PartnerAPIMixin:
    authentication_classes = [OAuth2Authentication]
    permission_classes = [IsPartnerClient, HasRequiredScopes]
    throttle_classes = [PartnerClientThrottle]
    pagination_class = StandardPagination
    parser_classes = [JSONBodyParser]
    # The browsable renderer would render forms (and query) after the tenant scope closed.
    renderer_classes = [JSONRenderer]

    required_scopes: ClassVar[RequiredScopes]

    def __init_subclass__(cls, **kwargs):
        # A misspelt scope would lock every client out; refuse it when the URLconf loads.
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("required_scopes")
        if declared is None:
            return
        groups = declared.values() if isinstance(declared, Mapping) else [declared]
        unknown = {name for group in groups for name in group} - configured_scopes()
        if unknown:
            raise ImproperlyConfigured(
                f"{cls.__name__}.required_scopes names unknown scope(s) {sorted(unknown)}; "
                'they must be in settings.OAUTH2_PROVIDER["SCOPES"].'
            )

    def dispatch(self, request, *args, **kwargs):
        # ``initial`` opens the tenant scope on this stack once the client is known; it stays
        # open through the handler and error handling, and closes however dispatch ends.
        with ExitStack() as self._request_context:
            return super().dispatch(request, *args, **kwargs)

    def perform_authentication(self, request) -> None:
        signed_in_person = getattr(request._request, "user", None)  # DRF replaces it below
        token = request.auth
        if token is None:
            self._throttle_anonymous(request)
            if signed_in_person is not None and signed_in_person.is_authenticated:
                raise PartnerClientRequired()
            return  # IsPartnerClient fails and DRF answers 401
        access = partner_access_for(token)
        if access is None:
            raise PartnerClientRequired()
        request.partner_access = access
        request.partner = access.partner

    def _throttle_anonymous(self, request) -> None:
        throttle = AnonymousAddressThrottle()
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait())

    def initial(self, request, *args, **kwargs) -> None:
        # A method the view has no handler for (TRACE, or PUT on a read-only viewset) is a 405
        # before anything else: the scope check below would otherwise find no scopes for it.
        if not hasattr(self, request.method.lower()):
            self.http_method_not_allowed(request, *args, **kwargs)
        super().initial(request, *args, **kwargs)
        self._request_context.enter_context(scope(utility=request.partner_access.utility_ids))

    def get_required_scopes(self, request) -> list[str]:
        try:
            required = self.required_scopes
        except AttributeError:
            raise ImproperlyConfigured(
                f"{type(self).__name__} must declare required_scopes (an empty list for none)."
            ) from None
        if isinstance(required, Mapping):
            method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
            try:
                return list(required[method])
            except KeyError:
                raise ImproperlyConfigured(
                    f"{type(self).__name__}.required_scopes names no scopes for {method}."
                ) from None
        return list(required)

    @property
    def partner_access(self) -> PartnerAccess:
        return self.request.partner_access

    def get_utility(self, slug: str) -> Utility:
        """One of the client's utilities by slug; any other slug is simply not found."""
        for utility in self.partner_access.utilities:
            if utility.slug == slug:
                return utility
        raise ResourceNotFound("No such utility.")

    def audit(self, *, action: str, utility: Utility | None, **fields: Any) -> AuditEvent:
        """``portal.audit.record`` with this client as the actor."""
        return audit.record(
            action=action, utility=utility, **self.partner_access.audit_actor, **fields
        )


class PartnerAPIView(PartnerAPIMixin, APIView):
    pass


class PartnerViewSet(PartnerAPIMixin, viewsets.GenericViewSet):
    """Add DRF's ``mixins`` (ListModelMixin, RetrieveModelMixin, …) for the actions."""
