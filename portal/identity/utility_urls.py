"""Identity pages inside a utility (under /u/<utility_slug>/): members, invitations, access
requests."""

from django.urls import path

from portal.identity.views import access_requests, teams

urlpatterns = [
    path("team/", teams.UtilityTeamView.as_view(), name="member_list"),
    path(
        "team/members/<int:pk>/revoke/",
        teams.UtilityRevokeMembershipView.as_view(),
        name="membership_revoke",
    ),
    path(
        "team/invitations/<int:pk>/revoke/",
        teams.UtilityRevokeInvitationView.as_view(),
        name="invitation_revoke",
    ),
    path(
        "team/invitations/<int:pk>/resend/",
        teams.UtilityResendInvitationView.as_view(),
        name="invitation_resend",
    ),
    path(
        "access-requests/",
        access_requests.AccessRequestListView.as_view(),
        name="access_request_list",
    ),
    path(
        "access-requests/<int:pk>/",
        access_requests.AccessRequestDetailView.as_view(),
        name="access_request_detail",
    ),
]
