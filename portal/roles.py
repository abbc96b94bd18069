"""Roles and the capability map that decides every action.

Views declare the capability they need (``required_capability``); the API does the same with
scopes. Nothing else grants access, so this file is the one place to read who may do what.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    PROGRAM_ADMIN = "program_admin", "Utility program admin"
    PROGRAM_ANALYST = "program_analyst", "Program analyst"
    INTERCONNECTION_ENGINEER = "interconnection_engineer", "Interconnection engineer"
    DR_OPERATOR = "dr_operator", "DR operator"
    SETTLEMENT_ANALYST = "settlement_analyst", "Settlement analyst"
    CUSTOMER_SERVICE = "customer_service", "Customer-service rep"
    AUDITOR = "auditor", "Auditor (read-only)"
    INSTALLER_ADMIN = "installer_admin", "Installer admin"
    INSTALLER_USER = "installer_user", "Installer user"
    AHJ_REVIEWER = "ahj_reviewer", "AHJ reviewer"


class OrgKind(models.TextChoices):
    UTILITY = "utility", "Utility"
    INSTALLER = "installer", "Installer company"
    AHJ = "ahj", "Authority having jurisdiction"


ROLE_ORG_KIND: dict[str, str] = {
    Role.PROGRAM_ADMIN: OrgKind.UTILITY,
    Role.PROGRAM_ANALYST: OrgKind.UTILITY,
    Role.INTERCONNECTION_ENGINEER: OrgKind.UTILITY,
    Role.DR_OPERATOR: OrgKind.UTILITY,
    Role.SETTLEMENT_ANALYST: OrgKind.UTILITY,
    Role.CUSTOMER_SERVICE: OrgKind.UTILITY,
    Role.AUDITOR: OrgKind.UTILITY,
    Role.INSTALLER_ADMIN: OrgKind.INSTALLER,
    Role.INSTALLER_USER: OrgKind.INSTALLER,
    Role.AHJ_REVIEWER: OrgKind.AHJ,
}

UTILITY_ROLES = [r for r, kind in ROLE_ORG_KIND.items() if kind == OrgKind.UTILITY]
INSTALLER_ROLES = [r for r, kind in ROLE_ORG_KIND.items() if kind == OrgKind.INSTALLER]
AHJ_ROLES = [r for r, kind in ROLE_ORG_KIND.items() if kind == OrgKind.AHJ]

# Roles whose holders must use a second factor (TOTP) before they see anything.
MFA_REQUIRED_ROLES = frozenset({Role.PROGRAM_ADMIN})


class Cap:
    """Capability names. Strings so templates and tests can name them too."""

    VIEW_DASHBOARD = "dashboard.view"
    VIEW_MEMBERS = "members.view"
    MANAGE_MEMBERS = "members.manage"
    VIEW_AUDIT = "audit.view"
    VIEW_CUSTOMERS = "customers.view"
    MANAGE_CUSTOMERS = "customers.manage"
    VIEW_PARTNERS = "partners.view"
    MANAGE_PARTNERS = "partners.manage"
    VIEW_INSTALLERS = "installers.view"
    DECIDE_ACCESS_REQUESTS = "access_requests.decide"
    VIEW_DEVICES = "devices.view"
    MANAGE_EQUIPMENT = "devices.manage_equipment"  # approved equipment list, battery policies
    VIEW_PROGRAMS = "programs.view"
    MANAGE_PROGRAMS = "programs.manage"
    REVIEW_ENROLLMENTS = "enrollments.review"
    VIEW_INTERCONNECTION = "interconnection.view"
    REVIEW_INTERCONNECTION = "interconnection.review"
    VIEW_EVENTS = "events.view"
    DISPATCH_EVENTS = "events.dispatch"
    VIEW_INCENTIVES = "incentives.view"
    APPROVE_INCENTIVES = "incentives.approve"  # rebate/bonus approvals, disputes
    IMPORT_CUSTOMERS = "customers.import"
    VIEW_BILLING = "billing.view"
    MANAGE_SETTLEMENT = "settlement.manage"
    # Approving a reviewed settlement run; the services also refuse the person who reviewed it.
    APPROVE_SETTLEMENT = "settlement.approve"
    # Installer / AHJ workspace capabilities.
    INSTALLER_WORKSPACE = "installer.workspace"
    MANAGE_INSTALLER_COMPANY = "installer.manage_company"
    REQUEST_UTILITY_ACCESS = "installer.request_access"
    AHJ_WORKSPACE = "ahj.workspace"
    DECIDE_PERMITS = "ahj.decide_permits"


_READ_ALL_UTILITY = {
    Cap.VIEW_DASHBOARD,
    Cap.VIEW_DEVICES,
    Cap.VIEW_MEMBERS,
    Cap.VIEW_AUDIT,
    Cap.VIEW_CUSTOMERS,
    Cap.VIEW_PARTNERS,
    Cap.VIEW_INSTALLERS,
    Cap.VIEW_PROGRAMS,
    Cap.VIEW_INTERCONNECTION,
    Cap.VIEW_EVENTS,
    Cap.VIEW_BILLING,
    Cap.VIEW_INCENTIVES,
}

CAPABILITIES: dict[str, frozenset[str]] = {
    Role.PROGRAM_ADMIN: frozenset(
        _READ_ALL_UTILITY
        | {
            Cap.MANAGE_MEMBERS,
            Cap.MANAGE_CUSTOMERS,
            Cap.MANAGE_PARTNERS,
            Cap.MANAGE_EQUIPMENT,
            Cap.APPROVE_INCENTIVES,
            Cap.IMPORT_CUSTOMERS,
            Cap.DECIDE_ACCESS_REQUESTS,
            Cap.MANAGE_PROGRAMS,
            Cap.REVIEW_ENROLLMENTS,
            Cap.APPROVE_SETTLEMENT,
        }
    ),
    Role.PROGRAM_ANALYST: frozenset(
        {
            Cap.VIEW_DASHBOARD,
            Cap.VIEW_CUSTOMERS,
            Cap.VIEW_DEVICES,
            Cap.VIEW_PARTNERS,
            Cap.VIEW_INSTALLERS,
            Cap.VIEW_PROGRAMS,
            Cap.MANAGE_PROGRAMS,
            Cap.REVIEW_ENROLLMENTS,
            Cap.VIEW_EVENTS,
            Cap.VIEW_BILLING,
            Cap.VIEW_INCENTIVES,
        }
    ),
    Role.INTERCONNECTION_ENGINEER: frozenset(
        {
            Cap.VIEW_DASHBOARD,
            Cap.VIEW_CUSTOMERS,
            Cap.VIEW_DEVICES,
            Cap.VIEW_INSTALLERS,
            Cap.VIEW_INTERCONNECTION,
            Cap.REVIEW_INTERCONNECTION,
        }
    ),
    Role.DR_OPERATOR: frozenset(
        {
            Cap.VIEW_DASHBOARD,
            Cap.VIEW_DEVICES,
            Cap.VIEW_PARTNERS,
            Cap.VIEW_PROGRAMS,
            Cap.VIEW_EVENTS,
            Cap.DISPATCH_EVENTS,
        }
    ),
    Role.SETTLEMENT_ANALYST: frozenset(
        {
            Cap.VIEW_DASHBOARD,
            Cap.VIEW_CUSTOMERS,
            Cap.VIEW_PROGRAMS,
            Cap.VIEW_EVENTS,
            Cap.VIEW_BILLING,
            Cap.VIEW_INCENTIVES,
            Cap.APPROVE_INCENTIVES,
            Cap.MANAGE_SETTLEMENT,
        }
    ),
    Role.CUSTOMER_SERVICE: frozenset(
        {
            Cap.VIEW_DASHBOARD,
            Cap.VIEW_CUSTOMERS,
            Cap.MANAGE_CUSTOMERS,
            Cap.IMPORT_CUSTOMERS,
            Cap.VIEW_DEVICES,
            Cap.VIEW_PROGRAMS,
            Cap.VIEW_INCENTIVES,
        }
    ),
    # Auditors read everything in their utility and change nothing.
    Role.AUDITOR: frozenset(_READ_ALL_UTILITY),
    Role.INSTALLER_ADMIN: frozenset(
        {Cap.INSTALLER_WORKSPACE, Cap.MANAGE_INSTALLER_COMPANY, Cap.REQUEST_UTILITY_ACCESS}
    ),
    Role.INSTALLER_USER: frozenset({Cap.INSTALLER_WORKSPACE}),
    Role.AHJ_REVIEWER: frozenset({Cap.AHJ_WORKSPACE, Cap.DECIDE_PERMITS}),
}


def capabilities_for(roles: set[str] | frozenset[str] | list[str]) -> frozenset[str]:
    caps: set[str] = set()
    for role in roles:
        caps |= CAPABILITIES[role]
    return frozenset(caps)


# Roles a holder of MANAGE_MEMBERS / MANAGE_INSTALLER_COMPANY may grant through invitations.
GRANTABLE_BY_UTILITY_ADMIN = UTILITY_ROLES
GRANTABLE_BY_INSTALLER_ADMIN = INSTALLER_ROLES
