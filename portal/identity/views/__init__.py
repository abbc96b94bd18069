"""Identity pages: team management (utility and installer company), accepting invitations,
and installer access requests (public form, installer form, program admin's decision)."""

from __future__ import annotations

from allauth.account.utils import perform_login
from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import FormView, ListView

from portal.identity import selectors, services
from portal.identity.forms import (
    AcceptInvitationForm,
    DecisionForm,
    InstallerRequestAccessForm,
    InvitationForm,
    RequestAccessForm,
)
from portal.models import AHJ, AccessRequest, InstallerCompany, Utility
from portal.roles import Cap, OrgKind
from portal.tenancy import organization_access
from portal.views import UtilityViewMixin


def organization_url(organization) -> str:
    """The workspace page of a utility, installer company or AHJ."""
    if isinstance(organization, Utility):
        return reverse("utility:dashboard", kwargs={"utility_slug": organization.slug})
    if isinstance(organization, InstallerCompany):
        return reverse("installer_workspace", kwargs={"org_slug": organization.slug})
    if isinstance(organization, AHJ):
        return reverse("ahj_workspace", kwargs={"org_slug": organization.slug})
    raise TypeError(organization)


# --- Teams ------------------------------------------------------------------------------------


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


class TeamPage(View):
    """Members, invitations and the invitation form. POST sends an invitation."""

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
                invitation = services.invite(
                    email=form.cleaned_data["email"],
                    role=role,
                    organization=organization,
                    invited_by=request.user,
                    audit_utility=self.audit_utility,
                )
            except services.IdentityError as error:
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


class TeamAction(View):
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
        except services.IdentityError as error:
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
        services.revoke_membership(
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
        services.revoke_invitation(
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
        services.resend_invitation(
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


# --- Accepting an invitation ------------------------------------------------------------------


class AcceptInvitationView(View):
    """The link in the invitation email. Someone with an account accepts while signed in as
    that account; someone new chooses a name and password here."""

    def dispatch(self, request, *args, token: str, **kwargs):
        self.token = token
        self.invitation = selectors.invitation_for_token(token)
        if self.invitation is None or self.invitation.status != "open":
            return self.unavailable(
                services.InvitationUnavailable(
                    "",
                    status=self.invitation.status if self.invitation else "unknown",
                    invitation=self.invitation,
                )
            )
        self.invitee = selectors.user_for_email(self.invitation.email)
        if self.invitee is not None and not request.user.is_authenticated:
            messages.info(request, f"Sign in as {self.invitation.email} to accept the invitation.")
            return redirect_to_login(request.get_full_path())
        if request.user.is_authenticated and request.user != self.invitee:
            return render(
                request,
                "identity/invitation_wrong_account.html",
                {"invitation": self.invitation},
                status=403,
            )
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        return self.render_page(self.new_user_form() if self.invitee is None else None)

    def post(self, request, *args, **kwargs):
        try:
            if self.invitee is not None:
                membership = services.accept_invitation(token=self.token, user=request.user)
            else:
                form = self.new_user_form(request.POST)
                if not form.is_valid():
                    return self.render_page(form)
                membership = services.accept_invitation_as_new_user(
                    token=self.token,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password1"],
                )
        except services.InvitationUnavailable as error:
            return self.unavailable(error)
        except services.WrongAccount as error:
            messages.error(request, error.message)
            return redirect_to_login(request.get_full_path())
        destination = organization_url(membership.organization)
        messages.success(
            request,
            f"Welcome to {membership.organization} as {membership.get_role_display()}.",
        )
        if self.invitee is None:
            return perform_login(request, membership.user, redirect_url=destination)
        return HttpResponseRedirect(destination)

    def new_user_form(self, data=None) -> AcceptInvitationForm:
        return AcceptInvitationForm(data, email=self.invitation.email)

    def render_page(self, form):
        return render(
            self.request,
            "identity/accept_invitation.html",
            {"invitation": self.invitation, "form": form},
        )

    def unavailable(self, error: services.InvitationUnavailable):
        invitation = error.invitation
        user = self.request.user
        if (
            error.status == "accepted"
            and user.is_authenticated
            and invitation.accepted_by_id == user.pk
        ):
            # A second click or a double submit by the person who accepted: nothing to do.
            messages.info(self.request, "You have already accepted this invitation.")
            return redirect(organization_url(invitation.organization))
        return render(
            self.request,
            "identity/invitation_unavailable.html",
            {"status": error.status, "invitation": invitation},
            status=404 if error.status == "unknown" else 410,
        )


# --- Access requests --------------------------------------------------------------------------


def _rate_limited(request) -> bool:
    """The public form emails program admins, so one address may only send a few an hour."""
    return not ratelimit.consume(request, action="portal_request_access")


class RequestAccessView(FormView):
    """Public: an installer company new to the portal asks to work in a utility."""

    template_name = "identity/request_access.html"
    form_class = RequestAccessForm

    def form_valid(self, form):
        if _rate_limited(self.request):
            form.add_error(None, "Too many requests from your network. Try again in an hour.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        data = form.cleaned_data
        try:
            services.submit_access_request(
                utility=data["utility"],
                company_name=data["company_name"],
                license_state=data["license_state"],
                license_number=data["license_number"],
                contact_name=data["contact_name"],
                contact_email=data["contact_email"],
                message=data["message"],
                actor=self.request.user if self.request.user.is_authenticated else None,
            )
        except services.IdentityError as error:
            form.add_error("license_number", error.message)
            return self.form_invalid(form)
        return redirect("request_access_sent")


class InstallerRequestAccessView(LoginRequiredMixin, FormView):
    """An installer admin of an existing company asks to work in another utility."""

    template_name = "identity/installer_request_access.html"
    form_class = InstallerRequestAccessForm

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.workspace = organization_access(request.user, OrgKind.INSTALLER, kwargs["org_slug"])
        if Cap.REQUEST_UTILITY_ACCESS not in self.workspace.capabilities:
            raise PermissionDenied("Only your company's installer admins request access.")
        self.company = self.workspace.organization
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "utilities": selectors.requestable_utilities(company=self.company),
        }

    def get_context_data(self, **kwargs):
        return super().get_context_data(company=self.company, **kwargs)

    def form_valid(self, form):
        user = self.request.user
        utility = form.cleaned_data["utility"]
        try:
            services.submit_access_request(
                utility=utility,
                installer=self.company,
                company_name=self.company.name,
                license_state=self.company.license_state,
                license_number=self.company.license_number,
                contact_name=user.full_name or user.email,
                contact_email=user.email,
                message=form.cleaned_data["message"],
                actor=user,
            )
        except services.IdentityError as error:
            form.add_error("utility", error.message)
            return self.form_invalid(form)
        messages.success(self.request, f"Your request was sent to {utility}.")
        return redirect("installer_workspace", org_slug=self.company.slug)


class AccessRequestListView(UtilityViewMixin, ListView):
    required_capability = Cap.DECIDE_ACCESS_REQUESTS
    template_name = "identity/access_request_list.html"
    context_object_name = "access_requests"
    paginate_by = 50
    STATUS_TABS = [("pending", "Pending"), ("approved", "Approved"), ("rejected", "Rejected")]

    def get_queryset(self):
        status = self.request.GET.get("status", AccessRequest.Status.PENDING)
        self.status = status if status in AccessRequest.Status.values else ""
        return selectors.access_requests(status=self.status or None)

    def get_context_data(self, **kwargs):
        return super().get_context_data(status=self.status, status_tabs=self.STATUS_TABS, **kwargs)


class AccessRequestDetailView(UtilityViewMixin, View):
    """One request and, while it is pending, the program admin's decision."""

    required_capability = Cap.DECIDE_ACCESS_REQUESTS
    template_name = "identity/access_request_detail.html"

    def get(self, request, *args, pk: int, **kwargs):
        return self.render_page(self.get_object(pk), DecisionForm())

    def post(self, request, *args, pk: int, **kwargs):
        access_request = self.get_object(pk)
        form = DecisionForm(request.POST)
        if not form.is_valid():
            return self.render_page(access_request, form)
        decide = {
            DecisionForm.APPROVE: services.approve_access_request,
            DecisionForm.REJECT: services.reject_access_request,
        }[form.cleaned_data["decision"]]
        extra = (
            {"reason": form.cleaned_data["reason"]}
            if form.cleaned_data["decision"] == DecisionForm.REJECT
            else {}
        )
        try:
            decided = decide(
                utility=request.utility, access_request_id=pk, actor=request.user, **extra
            )
        except services.AccessRequestAlreadyDecided as error:
            messages.warning(request, error.message)
            return redirect(request.path)
        messages.success(
            request,
            f"The request from {decided.company_name} was {decided.get_status_display().lower()}."
            f" {decided.contact_email} will be told by email.",
        )
        return redirect("utility:access_request_list", utility_slug=request.utility.slug)

    def get_object(self, pk: int) -> AccessRequest:
        # The scoped manager limits this to the current utility: another utility's id is 404.
        return get_object_or_404(
            AccessRequest.objects.select_related("installer", "decided_by"), pk=pk
        )

    def render_page(self, access_request: AccessRequest, form: DecisionForm):
        existing = access_request.installer or selectors.company_with_licence(
            license_state=access_request.license_state,
            license_number=access_request.license_number,
        )
        contact_is_member = (
            existing is not None
            and existing.memberships.filter(
                user__email__iexact=access_request.contact_email
            ).exists()
        )
        return render(
            self.request,
            self.template_name,
            {
                "access_request": access_request,
                "form": form,
                "existing_company": existing,
                "contact_is_member": contact_is_member,
            },
        )
