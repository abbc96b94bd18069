"""Team pages of a utility and of an installer company: members, invitations, the
invitation form, and removing a role or withdrawing or resending an invitation."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from portal.identity import selectors
from portal.identity.forms import InvitationForm
from portal.identity.reauth import RecentAuthRequiredMixin
from portal.identity.services.errors import IdentityError
from portal.identity.services.invitations import invite, resend_invitation, revoke_invitation
from portal.identity.services.memberships import revoke_membership
from portal.roles import Cap, OrgKind
from portal.tenancy import organization_access
from portal.views import UtilityViewMixin


class UtilityTeamMixin(UtilityViewMixin):
    """A utility's team. Seeing it needs VIEW_MEMBERS, changing it MANAGE_MEMBERS."""

    required_capability = Cap.VIEW_MEMBERS
    url_prefix = "utility:"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.url_kwargs = {"utility_slug": kwargs["utility_slug"]}

    def get_team(self) -> selectors.Team:
        return selectors.utility_team(self.request.utility)

    def can_manage(self) -> bool:
        return self.request.access.can(Cap.MANAGE_MEMBERS)

    @property
    def audit_utility(self):
        return self.request.utility

    def ahj_choices(self):
        return selectors.ahjs_in_territory(utility=self.request.utility)

    def team_url(self) -> str:
        return reverse("utility:member_list", kwargs=self.url_kwargs)


class InstallerTeamMixin(LoginRequiredMixin):
    """An installer company's team; only its installer admins see and change it."""

    url_prefix = "installer_"
    audit_utility = None  # the company's own staffing is not any utility's business

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.workspace = organization_access(request.user, OrgKind.INSTALLER, kwargs["org_slug"])
        if Cap.MANAGE_INSTALLER_COMPANY not in self.workspace.capabilities:
            raise PermissionDenied("Only your company's installer admins manage its team.")
        self.url_kwargs = {"org_slug": kwargs["org_slug"]}
        return super().dispatch(request, *args, **kwargs)

    def get_team(self) -> selectors.Team:
        return selectors.installer_team(self.workspace.organization)

    def can_manage(self) -> bool:
        return True

    def ahj_choices(self):
        return None

    def team_url(self) -> str:
        return reverse("installer_team", kwargs=self.url_kwargs)


class TeamPage(RecentAuthRequiredMixin, View):
    """Members, invitations and the invitation form. POST sends an invitation (after a
    recent authentication, as every change to a team)."""

    template_name = "identity/team.html"
    invitations_per_page = 25

    def invitation_form(self, data=None) -> InvitationForm:
        return InvitationForm(data, roles=self.get_team().grantable_roles, ahjs=self.ahj_choices())

    def get(self, request, *args, **kwargs):
        return self.render_page(self.invitation_form() if self.can_manage() else None)

    def post(self, request, *args, **kwargs):
        if not self.can_manage():
            raise PermissionDenied("Your role does not allow changing the team.")
        form = self.invitation_form(request.POST)
        if form.is_valid():
            role = form.cleaned_data["role"]
            team = self.get_team()
            organization = form.cleaned_data.get("ahj") or team.organization
            try:
                invitation = invite(
                    email=form.cleaned_data["email"],
                    role=role,
                    organization=organization,
                    invited_by=request.user,
                    audit_utility=self.audit_utility,
                )
            except IdentityError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    f"Invitation sent to {invitation.email} as {invitation.get_role_display()}.",
                )
                return redirect(self.team_url())
        return self.render_page(form)

    def render_page(self, form):
        team = self.get_team()
        memberships = list(team.memberships())
        for membership in memberships:
            membership.revoke_url = self.action_url("membership_revoke", membership.pk)
        page = Paginator(team.invitations(), self.invitations_per_page).get_page(
            self.request.GET.get("page")
        )
        for invitation in page:
            invitation.revoke_url = self.action_url("invitation_revoke", invitation.pk)
            invitation.resend_url = self.action_url("invitation_resend", invitation.pk)
        context = {
            "team": team,
            "organization": team.organization,
            "staff": [m for m in memberships if m.ahj_id is None],
            "reviewers": [m for m in memberships if m.ahj_id is not None],
            "invitations": page,
            "page_obj": page,
            "paginator": page.paginator,
            "is_paginated": page.has_other_pages(),
            "form": form,
            "can_manage": self.can_manage(),
            "team_url": self.team_url(),
            "invitation_valid_days": settings.INVITATION_VALID_DAYS,
        }
        return render(self.request, self.template_name, context)

    def action_url(self, name: str, pk: int) -> str:
        return reverse(self.url_prefix + name, kwargs={**self.url_kwargs, "pk": pk})


class TeamAction(RecentAuthRequiredMixin, View):
    """Base for a change to one membership or invitation of the team: GET asks to confirm,
    POST does it. Looking the row up through the team's own queryset makes another
    organization's id a 404."""

    confirm_template = "identity/team_confirm.html"
    title = ""
    button = ""
    danger = True

    def get(self, request, *args, pk: int, **kwargs):
        target = get_object_or_404(self.queryset(), pk=pk)
        context = {
            "title": self.title,
            "question": self.question(target),
            "button": self.button,
            "danger": self.danger,
            "cancel_url": self.team_url(),
        }
        return render(request, self.confirm_template, context)

    def post(self, request, *args, pk: int, **kwargs):
        try:
            response = self.act(get_object_or_404(self.queryset(), pk=pk))
        except IdentityError as error:
            messages.error(request, error.message)
            response = None
        return response or redirect(self.team_url())


class RevokeMembership(TeamAction):
    title = "Remove a role"
    button = "Remove"

    def queryset(self):
        return self.get_team().memberships()

    def question(self, membership) -> str:
        where = membership.ahj or membership.organization
        role = membership.get_role_display()
        text = f"{membership.user.email} will no longer be {role} for {where}."
        if membership.user_id == self.request.user.pk:
            text += " This is your own role: you may lose access to this page."
        return text

    def act(self, membership):
        revoke_membership(
            membership=membership, actor=self.request.user, audit_utility=self.audit_utility
        )
        messages.success(
            self.request,
            f"{membership.user.email} is no longer {membership.get_role_display()}"
            + (f" for {membership.ahj}." if membership.ahj_id else "."),
        )
        if membership.user_id == self.request.user.pk:
            return redirect("home")  # this page may no longer be theirs to see
        return None


class RevokeInvitation(TeamAction):
    title = "Withdraw an invitation"
    button = "Withdraw"

    def queryset(self):
        return self.get_team().invitations()

    def question(self, invitation) -> str:
        return (
            f"Withdraw the invitation for {invitation.email} as "
            f"{invitation.get_role_display()}? The link in their email will stop working."
        )

    def act(self, invitation):
        revoke_invitation(
            invitation=invitation, actor=self.request.user, audit_utility=self.audit_utility
        )
        messages.success(self.request, f"The invitation for {invitation.email} was withdrawn.")


class ResendInvitation(TeamAction):
    title = "Resend an invitation"
    button = "Resend"
    danger = False

    def queryset(self):
        return self.get_team().invitations()

    def question(self, invitation) -> str:
        return (
            f"Send {invitation.email} a new invitation email? The link in the earlier email "
            f"will stop working; the new one is valid for {settings.INVITATION_VALID_DAYS} days."
        )

    def act(self, invitation):
        resend_invitation(
            invitation=invitation, actor=self.request.user, audit_utility=self.audit_utility
        )
        messages.success(
            self.request,
            f"A new invitation is on its way to {invitation.email}; the earlier link no "
            "longer works.",
        )


class UtilityTeamView(UtilityTeamMixin, TeamPage):
    pass


class UtilityTeamActionMixin(UtilityTeamMixin):
    required_capability = Cap.MANAGE_MEMBERS


class UtilityRevokeMembershipView(UtilityTeamActionMixin, RevokeMembership):
    pass


class UtilityRevokeInvitationView(UtilityTeamActionMixin, RevokeInvitation):
    pass


class UtilityResendInvitationView(UtilityTeamActionMixin, ResendInvitation):
    pass


class InstallerTeamView(InstallerTeamMixin, TeamPage):
    pass


class InstallerRevokeMembershipView(InstallerTeamMixin, RevokeMembership):
    pass


class InstallerRevokeInvitationView(InstallerTeamMixin, RevokeInvitation):
    pass


class InstallerResendInvitationView(InstallerTeamMixin, ResendInvitation):
    pass
