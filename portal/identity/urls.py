"""Identity pages outside any utility: accepting invitations, requesting access."""

urlpatterns: list = []
