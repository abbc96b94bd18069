"""Navigation for the base layout: the current workspace's menu (by capability) and the
switcher between a person's utilities, installer companies and AHJs."""

from __future__ import annotations

from django.urls import reverse

from portal.roles import Cap
from portal.tenancy import workspaces_of

# Sections of (capability, url name, label); a section shows when any of its pages does.
UTILITY_MENU: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("", [(Cap.VIEW_DASHBOARD, "utility:dashboard", "Dashboard")]),
    (
        "Customers & programs",
        [
            (Cap.VIEW_CUSTOMERS, "utility:customer_list", "Customers"),
            (Cap.IMPORT_CUSTOMERS, "utility:customer_import", "Import customers"),
            (Cap.VIEW_PROGRAMS, "utility:program_list", "Programs"),
            (Cap.VIEW_PROGRAMS, "utility:enrollment_list", "Enrollments"),
        ],
    ),
    (
        "Dispatch",
        [
            (Cap.VIEW_EVENTS, "utility:event_list", "Events"),
            (Cap.VIEW_EVENTS, "utility:dispatch_group_list", "Dispatch groups"),
            (Cap.VIEW_EVENTS, "utility:grid_source_list", "Grid signals"),
        ],
    ),
    (
        "Fleet",
        [
            (Cap.VIEW_DEVICES, "utility:vehicle_list", "Vehicles"),
            (Cap.VIEW_DEVICES, "utility:charger_list", "Chargers"),
            (Cap.VIEW_DEVICES, "utility:approved_equipment_list", "Approved equipment"),
            (Cap.VIEW_DEVICES, "utility:battery_policy_list", "Battery policies"),
            (Cap.VIEW_PARTNERS, "utility:partner_list", "Partners"),
        ],
    ),
    (
        "Interconnection",
        [
            (Cap.VIEW_INTERCONNECTION, "utility:interconnection_queue", "Review queue"),
            (Cap.VIEW_INTERCONNECTION, "utility:interconnection_report", "Report"),
            (Cap.VIEW_INSTALLERS, "utility:installer_list", "Installers & AHJs"),
        ],
    ),
    (
        "Incentives",
        [
            (Cap.VIEW_INCENTIVES, "utility:incentive_list", "Approvals"),
            (Cap.VIEW_INCENTIVES, "utility:budget_dashboard", "Budgets"),
            (Cap.VIEW_INCENTIVES, "utility:payout_batch_list", "Payout batches"),
            (Cap.VIEW_INCENTIVES, "utility:dispute_list", "Disputes"),
            (Cap.VIEW_INCENTIVES, "utility:ledger", "Ledger"),
            (Cap.VIEW_INCENTIVES, "utility:incentive_offer_list", "Offers"),
        ],
    ),
    (
        "Billing",
        [
            (Cap.VIEW_BILLING, "utility:tariff_list", "Tariffs"),
            (Cap.VIEW_BILLING, "utility:meter_import_list", "Meter data"),
            (Cap.VIEW_BILLING, "utility:billing_dashboard", "Billing impact"),
            (Cap.VIEW_BILLING, "utility:settlement_list", "Settlement runs"),
        ],
    ),
    (
        "Administration",
        [
            (Cap.VIEW_MEMBERS, "utility:member_list", "Team"),
            (Cap.DECIDE_ACCESS_REQUESTS, "utility:access_request_list", "Access requests"),
            (Cap.VIEW_AUDIT, "utility:audit_list", "Audit trail"),
        ],
    ),
]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from portal.views import workspace_url

    workspaces = []
    for ws in workspaces_of(user):
        url = workspace_url(ws)
        workspaces.append(
            {
                "label": ws.label,
                "kind": ws.kind,
                "url": url,
                "current": request.path.startswith(url),
            }
        )
    menu = []
    access = getattr(request, "access", None)
    if access is not None:
        slug = access.utility.slug
        current = request.resolver_match.view_name if request.resolver_match else ""
        for title, pages in UTILITY_MENU:
            items = [
                {
                    "label": label,
                    "url": reverse(name, kwargs={"utility_slug": slug}),
                    "current": current == name,
                }
                for cap, name, label in pages
                if access.can(cap)
            ]
            if items:
                menu.append({"title": title, "items": items})
    return {
        "nav_workspaces": workspaces,
        "nav_menu": menu,
        "nav_current_utility": access.utility if access else None,
        "nav_roles": sorted(access.roles) if access else [],
    }
