"""The tenancy core, one module per seam: ``tenancy`` (utilities, the tenants, and
``TenantOwned``), ``users``, ``organizations`` (installer companies, AHJs, automaker partners
with their agreements and API clients), ``identity`` (memberships, invitations, access
requests) and ``audit`` (the append-only audit trail).

Django and the rest of the code import the models from ``portal.models``; migration 0001
also names ``validate_time_zone`` and ``UserManager`` here.
"""

from portal.models.audit import AuditEvent
from portal.models.identity import AccessRequest, Invitation, Membership
from portal.models.organizations import (
    AHJ,
    AHJTerritory,
    AutomakerPartner,
    InstallerApproval,
    InstallerCompany,
    PartnerAgreement,
    PartnerClient,
)
from portal.models.tenancy import TenantOwned, Utility, validate_time_zone
from portal.models.users import User, UserManager

__all__ = [
    "AHJ",
    "AHJTerritory",
    "AccessRequest",
    "AuditEvent",
    "AutomakerPartner",
    "InstallerApproval",
    "InstallerCompany",
    "Invitation",
    "Membership",
    "PartnerAgreement",
    "PartnerClient",
    "TenantOwned",
    "User",
    "UserManager",
    "Utility",
    "validate_time_zone",
]
