"""URLs under /o/: only what OAuth2 client credentials need. No authorization or consent
pages, no application management: partner clients are created by an operator
(``manage.py create_partner_client``)."""

from __future__ import annotations

from django.urls import path
from oauth2_provider import views

app_name = "oauth2_provider"

urlpatterns = [
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
]
