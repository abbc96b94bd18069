"""Identity pages inside a utility (under /u/<utility_slug>/): members, invitations, access
requests."""

from django.urls import path

from portal.identity import views

urlpatterns = [
    path("team/", views.UtilityTeamView.as_view(), name="member_list"),
    path(
        "team/members/<int:pk>/revoke/",
        views.UtilityRevokeMembershipView.as_view(),
        name="membership_revoke",
    ),
    path(
        "team/invitations/<int:pk>/revoke/",
        views.UtilityRevokeInvitationView.as_view(),
        name="invitation_revoke",
    ),
    path(
        "team/invitations/<int:pk>/resend/",
        views.UtilityResendInvitationView.as_view(),
        name="invitation_resend",
    ),
    path("access-requests/", views.AccessRequestListView.as_view(), name="access_request_list"),
    path(
        "access-requests/<int:pk>/",
        views.AccessRequestDetailView.as_view(),
        name="access_request_detail",
    ),
]
