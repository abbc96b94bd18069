"""The utility's interconnection pages under /u/<utility_slug>/ (the middleware scopes them;
each view declares its capability): the review queue, an application's page and actions,
documents, the PTO letter and the regulators' report."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView

from enrollment.interconnection import reports, selectors, services
from enrollment.interconnection.forms import ActionForm, DeficiencyFormSet, deficiency_items
from enrollment.interconnection.models import ApplicationDocument, InterconnectionApplication
from enrollment.interconnection.services import InterconnectionError
from enrollment.interconnection.views.base import (
    Party,
    error_text,
    post_message,
    render_application,
    serve_document,
)
from portal.downloads import csv_writer
from portal.models import User
from portal.roles import Cap
from portal.views import UtilityViewMixin

Application = InterconnectionApplication
Status = Application.Status


def _utility_party(request) -> Party:
    return Party("utility", "utility:", {"utility_slug": request.utility.slug})


class QueueView(UtilityViewMixin, ListView):
    """The review queue: open applications oldest first, with their running SLA clocks."""

    required_capability = Cap.VIEW_INTERCONNECTION
    template_name = "interconnection/utility_queue.html"
    context_object_name = "applications"
    paginate_by = 50

    def get_queryset(self):
        params = self.request.GET
        self.status = params.get("status", "") if params.get("status") in Status.values else ""
        self.sla_state = (
            params.get("sla", "") if params.get("sla") in ("breached", "due_soon") else ""
        )
        self.mine = params.get("mine") == "1"
        return selectors.list_queryset(
            selectors.utility_queue(
                utility=self.request.utility,
                status=self.status,
                assigned_to=self.request.user if self.mine else None,
                sla_state=self.sla_state,
            )
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        for app in ctx["applications"]:
            app.clock_display = selectors.clock_rows(app, app.open_clocks, today=today)
            app.ahj_flag = selectors.ahj_mismatch(app)
        ctx.update(
            status=self.status,
            sla_state=self.sla_state,
            mine=self.mine,
            statuses=[(v, label) for v, label in Status.choices if v != Status.DRAFT],
        )
        return ctx


class UtilityApplicationMixin(UtilityViewMixin):
    def get_application(self, pk: int) -> Application:
        return get_object_or_404(
            Application.objects.exclude(status=Status.DRAFT).select_related(
                *selectors.application_related()
            ),
            pk=pk,
        )

    def page(self, app: Application, status: int = 200, **extra):
        request = self.request
        can_review = request.access.can(Cap.REVIEW_INTERCONNECTION)
        return render_application(
            request,
            party=_utility_party(request),
            app=app,
            status=status,
            can_review=can_review,
            can_message=can_review,
            deficiency_formset=extra.pop("deficiency_formset", None)
            or DeficiencyFormSet(prefix="items"),
            engineers=services.engineers_of(app.utility_id) if can_review else [],
            ahj_flag=selectors.ahj_mismatch(app),
            pto_letter_url=reverse(
                "utility:interconnection_pto_letter",
                kwargs={"utility_slug": request.utility.slug, "pk": app.pk},
            ),
            **extra,
        )


class UtilityDetailView(UtilityApplicationMixin, View):
    required_capability = Cap.VIEW_INTERCONNECTION

    def get(self, request, *args, pk: int, **kwargs):
        return self.page(self.get_application(pk))


class UtilityActView(UtilityApplicationMixin, View):
    """Every utility decision posts here with its ``action`` and the state the page showed."""

    required_capability = Cap.REVIEW_INTERCONNECTION
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        form = ActionForm(request.POST)
        formset = None
        if not form.is_valid():
            return self.page(app, error="Choose an action.", action_form=form)
        data = form.cleaned_data
        action, expected, user = data["action"], data["expected"] or None, request.user
        try:
            if action == "acknowledge":
                services.acknowledge(application=app, actor=user, expected=expected)
            elif action == "accept_complete":
                services.accept_complete(application=app, actor=user, expected=expected)
            elif action == "request_info":
                formset = DeficiencyFormSet(request.POST, prefix="items")
                if not formset.is_valid():
                    raise services.InvalidInput("Check the deficiency items.")
                services.request_information(
                    application=app, items=deficiency_items(formset), actor=user, expected=expected
                )
            elif action == "approve":
                services.approve_engineering(
                    application=app, actor=user, comment=data["comment"], expected=expected
                )
            elif action == "reject":
                services.reject(
                    application=app, actor=user, reason=data["comment"], expected=expected
                )
            elif action == "assign":
                engineer = (
                    User.objects.filter(pk=data["engineer"]).first() if data["engineer"] else None
                )
                services.assign_engineer(application=app, engineer=engineer, actor=user)
            elif action in ("witness_schedule", "witness_waive", "witness_pass"):
                services.decide_witness_test(
                    application=app,
                    decision=action.removeprefix("witness_"),
                    actor=user,
                    on=data["on"],
                )
            elif action == "grant_pto":
                services.grant_pto(
                    application=app,
                    actor=user,
                    approved_export_kw=data["approved_export_kw"],
                    expected=expected,
                )
            elif action == "route_ahj":
                services.route_to_jurisdiction(application=app, actor=user)
            elif action == "revoke_pto":
                services.revoke_pto(
                    application=app, actor=user, reason=data["comment"], expected=expected
                )
            else:
                raise services.InvalidInput("Choose an action.")
        except (InterconnectionError, ValidationError) as error:
            app = self.get_application(pk)
            return self.page(
                app, error=error_text(error), deficiency_formset=formset, action_form=form
            )
        messages.success(request, "Done.")
        return HttpResponseRedirect(
            reverse(
                "utility:interconnection_detail",
                kwargs={"utility_slug": request.utility.slug, "pk": app.pk},
            )
        )


class UtilityMessageView(UtilityApplicationMixin, View):
    """Reading the thread needs VIEW_INTERCONNECTION (the detail page); writing needs
    REVIEW_INTERCONNECTION."""

    required_capability = Cap.REVIEW_INTERCONNECTION
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        return post_message(request, party=_utility_party(request), app=app, page=self.page)


class UtilityDocumentView(UtilityViewMixin, View):
    required_capability = Cap.VIEW_INTERCONNECTION

    def get(self, request, *args, pk: int, doc_pk: int, **kwargs):
        document = get_object_or_404(
            ApplicationDocument.objects.exclude(application__status=Status.DRAFT),
            pk=doc_pk,
            application_id=pk,
        )
        return serve_document(document)


class PtoLetterView(UtilityApplicationMixin, View):
    """A printable permission-to-operate letter (the browser prints it to PDF)."""

    required_capability = Cap.VIEW_INTERCONNECTION

    def get(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        if app.status != Status.PTO_GRANTED:
            raise Http404("Permission to operate has not been granted.")
        return render(request, "interconnection/pto_letter.html", {"application": app})


class ReportView(UtilityViewMixin, View):
    required_capability = Cap.VIEW_INTERCONNECTION

    def get(self, request, *args, **kwargs):
        report = reports.build(utility=request.utility)
        return render(
            request,
            "interconnection/report.html",
            {"report": report, "charts": reports.charts(report)},
        )


class ReportCsvView(UtilityViewMixin, View):
    required_capability = Cap.VIEW_INTERCONNECTION

    def get(self, request, *args, **kwargs):
        report = reports.build(utility=request.utility)
        response = HttpResponse(content_type="text/csv")
        name = f"interconnection-{request.utility.slug}-{timezone.localdate():%Y%m%d}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv_writer(response)
        for row in reports.csv_rows(report):
            writer.writerow(row)
        return response
