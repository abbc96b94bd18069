"""Who may enter which utility, with which capabilities.

The web middleware, the API base view, the Celery task base and the management-command base
all come here, so the rule "no membership → the utility does not exist for you" lives once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import Http404

from portal.models import AHJ, InstallerCompany, Membership, User, Utility
from portal.roles import MFA_REQUIRED_ROLES, Role, capabilities_for


def role_labels(roles) -> list[str]:
    return sorted(Role(r).label for r in roles)


@dataclass(frozen=True)
class Workspace:
    """One place a user can work: a utility, an installer company or an AHJ."""

    kind: str  # "utility" | "installer" | "ahj"
    organization: Utility | InstallerCompany | AHJ
    roles: frozenset[str]
    capabilities: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        return str(self.organization)

    @property
    def role_labels(self) -> list[str]:
        return role_labels(self.roles)


@dataclass(frozen=True)
class UtilityAccess:
    utility: Utility
    roles: frozenset[str]
    capabilities: frozenset[str]

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    @property
    def role_labels(self) -> list[str]:
        return role_labels(self.roles)


def memberships_of(user: User) -> list[Membership]:
    """All memberships of a user, with their organizations, in one query (cached per object)."""
    if not user.is_authenticated:
        return []
    cached = getattr(user, "_portal_memberships", None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=user).select_related("utility", "installer", "ahj")
        )
        user._portal_memberships = cached
    return cached


def workspaces_of(user: User) -> list[Workspace]:
    grouped: dict[tuple[str, int], tuple[object, set[str]]] = {}
    for m in memberships_of(user):
        key = (m.org_kind, m.organization.pk)
        grouped.setdefault(key, (m.organization, set()))[1].add(m.role)
    workspaces = [
        Workspace(
            kind=kind,
            organization=org,
            roles=frozenset(roles),
            capabilities=capabilities_for(roles),
        )
        for (kind, _), (org, roles) in grouped.items()
    ]
    order = {"utility": 0, "installer": 1, "ahj": 2}
    return sorted(workspaces, key=lambda w: (order[w.kind], w.label))


def utility_access(user: User, slug: str) -> UtilityAccess:
    """The user's access to a utility, or 404: a utility you do not belong to does not exist."""
    roles = {m.role for m in memberships_of(user) if m.utility_id and m.utility.slug == slug}
    if not roles:
        raise Http404("No such utility.")
    utility = next(
        m.utility for m in memberships_of(user) if m.utility_id and m.utility.slug == slug
    )
    return UtilityAccess(
        utility=utility, roles=frozenset(roles), capabilities=capabilities_for(roles)
    )


def organization_access(user: User, kind: str, slug: str) -> Workspace:
    for ws in workspaces_of(user):
        if ws.kind == kind and ws.organization.slug == slug:
            return ws
    raise Http404("No such organization.")


def requires_mfa(user: User) -> bool:
    """Program admins and the platform's staff (the admin site) must use a second factor."""
    if user.is_staff or user.is_superuser:
        return True
    return any(m.role in MFA_REQUIRED_ROLES for m in memberships_of(user))
