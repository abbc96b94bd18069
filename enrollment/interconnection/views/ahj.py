"""The AHJ's interconnection pages under /ahj/<org_slug>/: its queue, an application's page,
permit and inspection actions, and messages."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.views.generic import ListView

from enrollment.interconnection import selectors, services
from enrollment.interconnection.forms import ActionForm, DeficiencyFormSet, deficiency_items
from enrollment.interconnection.models import InterconnectionApplication
from enrollment.interconnection.services import InterconnectionError
from enrollment.interconnection.views.base import (
    OrgApplicationMixin,
    OrgDocumentMixin,
    OrgListMixin,
    application_scope,
    error_text,
    post_message,
    render_application,
)
from portal.roles import Cap, OrgKind

Application = InterconnectionApplication
Permit = Application.PermitStatus


class AHJMixin(OrgApplicationMixin):
    org_kind = OrgKind.AHJ
    capability = Cap.AHJ_WORKSPACE
    url_prefix = "ahj_"

    def applications(self):
        return selectors.ahj_applications(self.organization)


class AHJQueueView(OrgListMixin, AHJMixin, ListView):
    template_name = "interconnection/ahj_queue.html"
    context_object_name = "applications"
    paginate_by = 50
    DECISIONS = [Permit.PERMIT_REVIEW, Permit.INSPECTION_REQUESTED, Permit.INSPECTION_SCHEDULED]

    def get_queryset(self):
        self.show = self.request.GET.get("show", "")
        qs = self.applications()
        if self.show != "all":
            qs = qs.filter(permit_status__in=self.DECISIONS)
        return selectors.list_queryset(qs).order_by("submitted_at", "id")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(ahj=self.organization, show=self.show, workspace=self.workspace)
        return ctx


class AHJDetailView(AHJMixin):
    def page(self, app: Application, status: int = 200, **extra):
        return render_application(
            self.request,
            party=self.party,
            app=app,
            status=status,
            ahj=self.organization,
            can_decide=Cap.DECIDE_PERMITS in self.workspace.capabilities,
            deficiency_formset=extra.pop("deficiency_formset", None)
            or DeficiencyFormSet(prefix="items"),
            **extra,
        )

    def get(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            return self.page(app)


class AHJActView(AHJDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        if Cap.DECIDE_PERMITS not in self.workspace.capabilities:
            raise PermissionDenied("Your role does not allow permit decisions.")
        app = self.get_application(pk)
        with application_scope(app):
            form = ActionForm(request.POST)
            formset = None
            if not form.is_valid():
                return self.page(app, error="Check the highlighted fields.", action_form=form)
            data = form.cleaned_data
            action, expected, user = data["action"], data["expected"] or None, request.user
            try:
                if action == "issue_permit":
                    services.issue_permit(
                        application=app, permit_number=data["permit_number"], actor=user,
                        expected=expected,
                    )  # fmt: skip
                elif action == "request_corrections":
                    formset = DeficiencyFormSet(request.POST, prefix="items")
                    if not formset.is_valid():
                        raise services.InvalidInput("Check the correction items.")
                    services.request_corrections(
                        application=app, items=deficiency_items(formset), actor=user,
                        expected=expected,
                    )  # fmt: skip
                elif action == "schedule_inspection":
                    services.schedule_inspection(
                        application=app, on=data["on"], actor=user, expected=expected
                    )
                elif action in ("pass_inspection", "fail_inspection"):
                    services.record_inspection(
                        application=app, passed=action == "pass_inspection", actor=user,
                        comment=data["comment"], inspected_on=data["inspected_on"],
                        expected=expected,
                    )  # fmt: skip
                else:
                    raise services.InvalidInput("Choose an action.")
            except services.InspectionDateNeeded as error:
                form.add_error("inspected_on", error_text(error))
                return self.page(
                    self.get_application(pk), error=error_text(error), action_form=form
                )
            except (InterconnectionError, ValidationError) as error:
                return self.page(
                    self.get_application(pk), error=error_text(error), deficiency_formset=formset
                )
        messages.success(request, "Done.")
        return HttpResponseRedirect(self.party.url("interconnection_detail", pk=app.pk))


class AHJMessageView(AHJDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            return post_message(request, party=self.party, app=app, page=self.page)


class AHJApplicationDocumentView(OrgDocumentMixin, AHJMixin):
    pass
