"""Pages of the tenancy core: home, per-role dashboards, audit trail, partners, installers,
the installer and AHJ workspaces, and the health check."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView
from django_scopes import scopes_disabled
from kombu import Connection

from portal.customers.selectors import counts_by_rate_class
from portal.downloads import csv_download
from portal.filters import AuditEventFilter
from portal.middleware import entered_utility
from portal.models import (
    AccessRequest,
    AHJTerritory,
    AuditEvent,
    InstallerApproval,
    Invitation,
    Membership,
    PartnerAgreement,
)
from portal.roles import Cap, OrgKind
from portal.tenancy import organization_access, workspaces_of


class HomeView(LoginRequiredMixin, TemplateView):
    """Sends a person with one workspace straight there; lists them otherwise."""

    template_name = "portal/home.html"

    def get(self, request, *args, **kwargs):
        workspaces = workspaces_of(request.user)
        if len(workspaces) == 1:
            return redirect(workspace_url(workspaces[0]))
        return self.render_to_response({"workspaces": workspaces})


class SwitchWorkspaceView(LoginRequiredMixin, View):
    """The workspace switcher's target: only a workspace of this user's is followed."""

    def get(self, request):
        wanted = request.GET.get("to", "")
        for ws in workspaces_of(request.user):
            if workspace_url(ws) == wanted:
                return redirect(wanted)
        return redirect("home")


def workspace_url(workspace) -> str:
    from django.urls import reverse

    if workspace.kind == OrgKind.UTILITY:
        return reverse("utility:dashboard", kwargs={"utility_slug": workspace.organization.slug})
    if workspace.kind == OrgKind.INSTALLER:
        return reverse("installer_workspace", kwargs={"org_slug": workspace.organization.slug})
    return reverse("ahj_workspace", kwargs={"org_slug": workspace.organization.slug})


class UtilityViewMixin:
    """For pages under /u/<utility_slug>/. The middleware has already scoped the request and
    answered 404 to non-members; this checks the page's capability (403 without it)."""

    # Declared by each view (or a mixin of its own); no default, so a mixin order can never
    # silently fall back to a weaker capability.
    required_capability: str

    def dispatch(self, request, *args, **kwargs):
        if not hasattr(request, "access"):
            # Called outside the middleware: allauth replaying a form post it kept while the
            # person re-authenticated (portal.identity.reauth). Enter the utility as the
            # middleware does.
            with entered_utility(request, kwargs["utility_slug"]):
                return self.dispatch(request, *args, **kwargs)
        capability = getattr(self, "required_capability", None)
        if capability is None:
            raise ImproperlyConfigured(f"{type(self).__name__} declares no required_capability.")
        if not request.access.can(capability):
            raise PermissionDenied("Your role does not allow this page.")
        return super().dispatch(request, *args, **kwargs)


class UtilityDashboardView(UtilityViewMixin, TemplateView):
    required_capability = Cap.VIEW_DASHBOARD
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        access = self.request.access
        utility = self.request.utility
        ctx["access"] = access
        if access.can(Cap.VIEW_MEMBERS):
            ctx["member_count"] = (
                Membership.objects.filter(utility=utility).values("user").distinct().count()
            )
            ctx["open_invitation_count"] = Invitation.objects.open().filter(utility=utility).count()
        if access.can(Cap.DECIDE_ACCESS_REQUESTS):
            ctx["pending_access_requests"] = AccessRequest.objects.filter(
                status=AccessRequest.Status.PENDING
            ).count()
        if access.can(Cap.VIEW_CUSTOMERS):
            by_rate = counts_by_rate_class()
            ctx["customer_count"] = sum(n for _label, n in by_rate)
            ctx["customers_by_rate"] = by_rate
        if access.can(Cap.VIEW_PARTNERS):
            ctx["agreements"] = PartnerAgreement.objects.select_related("partner")
        if access.can(Cap.VIEW_INSTALLERS):
            ctx["installer_count"] = InstallerApproval.objects.filter(active=True).count()
            ctx["ahj_count"] = AHJTerritory.objects.count()
        if access.can(Cap.VIEW_AUDIT):
            ctx["recent_audit"] = AuditEvent.objects.all()[:8]
        return ctx


class FilteredListMixin:
    """A list narrowed by a django-filter FilterSet from the query string. Invalid filter
    values give an empty list with the form's errors shown, never an error page."""

    filterset_class: type

    def base_queryset(self):
        raise NotImplementedError

    def filtered_queryset(self):
        self.filterset = self.filterset_class(
            self.request.GET or None, queryset=self.base_queryset(), request=self.request
        )
        if self.filterset.is_bound and not self.filterset.is_valid():
            return self.filterset.queryset.none()
        return self.filterset.qs

    def get_queryset(self):
        return self.filtered_queryset()

    def filter_error_response(self) -> HttpResponse | None:
        """For exports: a plain 400 naming the bad filter values, or None when all are fine."""
        if not self.filterset.errors:
            return None
        return HttpResponse(
            "Invalid filter: "
            + "; ".join(f"{k}: {' '.join(v)}" for k, v in self.filterset.errors.items()),
            status=400,
            content_type="text/plain",
        )

    def get_context_data(self, **kwargs):
        return super().get_context_data(filter=self.filterset, **kwargs)


class AuditListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_AUDIT
    filterset_class = AuditEventFilter
    template_name = "portal/audit_list.html"
    paginate_by = 50

    def base_queryset(self):
        return AuditEvent.objects.all()


class AuditExportView(UtilityViewMixin, FilteredListMixin, View):
    """The filtered audit trail as CSV, streamed so a large export does not sit in memory."""

    required_capability = Cap.VIEW_AUDIT
    filterset_class = AuditEventFilter

    def base_queryset(self):
        return AuditEvent.objects.all()

    def get(self, request, *args, **kwargs):
        events = self.filtered_queryset()
        if error := self.filter_error_response():
            return error

        header = [
            "time_utc", "actor", "action", "object_type", "object_id", "object",
            "from", "to", "comment", "request_id",
        ]  # fmt: skip
        rows = (
            [
                e.created_at.isoformat(),
                e.actor_label,
                e.action,
                e.object_type,
                e.object_id,
                e.object_repr,
                e.from_state,
                e.to_state,
                e.comment,
                e.request_id,
            ]  # fmt: skip
            for e in events.iterator(chunk_size=2000)
        )
        name = f"audit-{request.utility.slug}-{timezone.localdate():%Y%m%d}.csv"
        return csv_download(filename=name, header=header, rows=rows)


class AuditDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_AUDIT
    template_name = "portal/audit_detail.html"
    context_object_name = "event"

    def get_queryset(self):
        return AuditEvent.objects.all()

    def get_context_data(self, **kwargs):
        # Pairs built here: in the template ``changes.items`` would be a change named "items"
        # (a payout batch records its items), not the dict's pairs.
        changes = self.object.changes
        if isinstance(changes, dict):
            pairs = list(changes.items())
        elif changes:
            pairs = [("value", changes)]
        else:
            pairs = []
        return super().get_context_data(change_pairs=pairs, **kwargs)


class PartnerAgreementListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_PARTNERS
    template_name = "portal/partner_list.html"
    context_object_name = "agreements"
    paginate_by = 50

    def get_queryset(self):
        return PartnerAgreement.objects.select_related("partner", "adapter_config")


class InstallerApprovalListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_INSTALLERS
    template_name = "portal/installer_list.html"
    context_object_name = "approvals"
    paginate_by = 50

    def get_queryset(self):
        return InstallerApproval.objects.select_related("installer")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["territories"] = AHJTerritory.objects.select_related("ahj")
        return ctx


class InstallerWorkspaceView(LoginRequiredMixin, TemplateView):
    """An installer company's view across every utility it works with. Each row is read
    with an explicit filter on this company, never on a utility scope."""

    template_name = "portal/installer_workspace.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        workspace = organization_access(self.request.user, OrgKind.INSTALLER, kwargs["org_slug"])
        company = workspace.organization
        with scopes_disabled():
            ctx["approvals"] = list(
                InstallerApproval.objects.filter(installer=company).select_related("utility")
            )
            ctx["access_requests"] = list(
                AccessRequest.objects.filter(installer=company).select_related("utility")[:50]
            )
        ctx["members"] = Membership.objects.filter(installer=company).select_related("user")
        ctx["workspace"] = workspace
        ctx["company"] = company
        return ctx


class AHJWorkspaceView(LoginRequiredMixin, TemplateView):
    template_name = "portal/ahj_workspace.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        workspace = organization_access(self.request.user, OrgKind.AHJ, kwargs["org_slug"])
        ahj = workspace.organization
        with scopes_disabled():
            ctx["territories"] = list(
                AHJTerritory.objects.filter(ahj=ahj).select_related("utility")
            )
        ctx["members"] = Membership.objects.filter(ahj=ahj).select_related("user")
        ctx["workspace"] = workspace
        ctx["ahj"] = ahj
        return ctx


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        # kombu's filesystem transport "connects" to anything; check the folder it uses.
        from pathlib import Path

        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".healthz"
        probe.write_text("ok")
        probe.unlink()
        return "ok"
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=2,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


class HealthView(View):
    """Liveness for load balancers: database and broker, 200 or 503."""

    def get(self, request):
        checks = {}
        for name, check in (("database", _check_database), ("broker", _check_broker)):
            try:
                checks[name] = {"status": check()}
            except Exception as exc:  # noqa: BLE001 - any failure means "down"
                checks[name] = {"status": "down", "error": exc.__class__.__name__}
        healthy = all(c["status"] == "ok" for c in checks.values())
        return JsonResponse(
            {"status": "ok" if healthy else "down", "checks": checks},
            status=200 if healthy else 503,
        )
