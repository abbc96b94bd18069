"""The refusals of identity's writes; views show their message, the API their ``code``."""

from __future__ import annotations

from portal.errors import DomainError
from portal.models import AccessRequest, Invitation


class IdentityError(DomainError):
    """A refused identity action."""

    code = "identity_error"


class AlreadyInvited(IdentityError):
    code = "already_invited"


class AlreadyMember(IdentityError):
    code = "already_member"


class LastAdmin(IdentityError):
    code = "last_admin"


class InvitationUnavailable(IdentityError):
    """The invitation is unknown, expired, revoked or already accepted (``status``)."""

    code = "invitation_unavailable"

    def __init__(self, message: str, *, status: str, invitation: Invitation | None = None):
        super().__init__(message)
        self.status = status
        self.invitation = invitation


class WrongAccount(IdentityError):
    code = "wrong_account"


class AccessRequestAlreadyDecided(IdentityError):
    code = "already_decided"

    def __init__(self, message: str, *, access_request: AccessRequest | None = None):
        super().__init__(message)
        self.access_request = access_request


class DuplicateAccessRequest(IdentityError):
    code = "duplicate_access_request"


class AlreadyApproved(IdentityError):
    code = "already_approved"
