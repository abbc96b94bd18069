"""Installer access requests: the public form, the installer admin's form, and the program
admin's list and decision."""

from __future__ import annotations

from allauth.core import ratelimit
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import FormView, ListView

from portal.identity import selectors
from portal.identity.forms import DecisionForm, InstallerRequestAccessForm, RequestAccessForm
from portal.identity.reauth import RecentAuthRequiredMixin
from portal.identity.services.access_requests import (
    approve_access_request,
    reject_access_request,
    submit_access_request,
)
from portal.identity.services.errors import AccessRequestAlreadyDecided, IdentityError
from portal.models import AccessRequest
from portal.roles import Cap, OrgKind
from portal.tenancy import organization_access
from portal.views import UtilityViewMixin


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
            submit_access_request(
                utility=data["utility"],
                company_name=data["company_name"],
                license_state=data["license_state"],
                license_number=data["license_number"],
                contact_name=data["contact_name"],
                contact_email=data["contact_email"],
                message=data["message"],
                actor=self.request.user if self.request.user.is_authenticated else None,
            )
        except IdentityError as error:
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
            submit_access_request(
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
        except IdentityError as error:
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


class AccessRequestDetailView(UtilityViewMixin, RecentAuthRequiredMixin, View):
    """One request and, while it is pending, the program admin's decision (after a recent
    authentication: approving lets a company work in the utility and invites its admin)."""

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
            DecisionForm.APPROVE: approve_access_request,
            DecisionForm.REJECT: reject_access_request,
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
        except AccessRequestAlreadyDecided as error:
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
