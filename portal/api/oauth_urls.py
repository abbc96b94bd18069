"""URLs under /o/: only what OAuth2 client credentials need. No authorization or consent
pages, no application management: partner clients are created by an operator
(``manage.py create_partner_client``). Both endpoints authenticate the client, so both
spend its failure budgets (``portal.api.token_views``)."""

from __future__ import annotations

from django.urls import path

from portal.api import token_views

app_name = "oauth2_provider"

urlpatterns = [
    path("token/", token_views.TokenView.as_view(), name="token"),
    path("revoke_token/", token_views.RevokeTokenView.as_view(), name="revoke-token"),
]
