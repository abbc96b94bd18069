"""Identity pages outside any utility: accepting invitations, requesting access, an installer
company's team."""

from django.urls import path
from django.views.generic import TemplateView

from portal.identity.views import access_requests, invitations, teams

urlpatterns = [
    path("request-access/", access_requests.RequestAccessView.as_view(), name="request_access"),
    path(
        "request-access/sent/",
        TemplateView.as_view(template_name="identity/request_access_sent.html"),
        name="request_access_sent",
    ),
    path(
        "installer/<slug:org_slug>/request-access/",
        access_requests.InstallerRequestAccessView.as_view(),
        name="installer_request_access",
    ),
    path(
        "installer/<slug:org_slug>/team/", teams.InstallerTeamView.as_view(), name="installer_team"
    ),
    path(
        "installer/<slug:org_slug>/team/members/<int:pk>/revoke/",
        teams.InstallerRevokeMembershipView.as_view(),
        name="installer_membership_revoke",
    ),
    path(
        "installer/<slug:org_slug>/team/invitations/<int:pk>/revoke/",
        teams.InstallerRevokeInvitationView.as_view(),
        name="installer_invitation_revoke",
    ),
    path(
        "installer/<slug:org_slug>/team/invitations/<int:pk>/resend/",
        teams.InstallerResendInvitationView.as_view(),
        name="installer_invitation_resend",
    ),
    path(
        "invite/<str:token>/", invitations.AcceptInvitationView.as_view(), name="accept_invitation"
    ),
]
