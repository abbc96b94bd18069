"""Identity pages inside a utility (under /u/<utility_slug>/): members, invitations, access
requests."""

urlpatterns: list = []
