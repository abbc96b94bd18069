"""Accepting an invitation: the link in the invitation email."""

from __future__ import annotations

from allauth.account.utils import perform_login
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from portal.identity import selectors
from portal.identity.forms import AcceptInvitationForm
from portal.identity.services.errors import InvitationUnavailable, WrongAccount
from portal.identity.services.invitations import accept_invitation, accept_invitation_as_new_user
from portal.models import AHJ, InstallerCompany, Utility


def organization_url(organization) -> str:
    """The workspace page of a utility, installer company or AHJ."""
    if isinstance(organization, Utility):
        return reverse("utility:dashboard", kwargs={"utility_slug": organization.slug})
    if isinstance(organization, InstallerCompany):
        return reverse("installer_workspace", kwargs={"org_slug": organization.slug})
    if isinstance(organization, AHJ):
        return reverse("ahj_workspace", kwargs={"org_slug": organization.slug})
    raise TypeError(organization)


class AcceptInvitationView(View):
    """The link in the invitation email. Someone with an account accepts while signed in as
    that account; someone new chooses a name and password here."""

    def dispatch(self, request, *args, token: str, **kwargs):
        self.token = token
        self.invitation = selectors.invitation_for_token(token)
        if self.invitation is None or self.invitation.status != "open":
            return self.unavailable(
                InvitationUnavailable(
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
                membership = accept_invitation(token=self.token, user=request.user)
            else:
                form = self.new_user_form(request.POST)
                if not form.is_valid():
                    return self.render_page(form)
                membership = accept_invitation_as_new_user(
                    token=self.token,
                    full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password1"],
                )
        except InvitationUnavailable as error:
            return self.unavailable(error)
        except WrongAccount as error:
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

    def unavailable(self, error: InvitationUnavailable):
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
