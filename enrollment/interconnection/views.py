"""Interconnection pages for the three parties of one shared application.

Utility pages live under /u/<utility_slug>/ (the middleware scopes them; each view declares
its capability). Installer and AHJ pages work across utilities: they find the application
with ``scopes_disabled()`` through an explicit filter on the company or jurisdiction (anything
else is 404), then act and render inside that application's utility scope.

A refused action re-renders the page with the reason and the input kept; a successful one
redirects (so a reload does not repeat it), and a second click finds the state moved on.
"""

from __future__ import annotations

import csv
from contextlib import contextmanager

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView
from django_scopes import scope, scopes_disabled

from enrollment.interconnection import reports, selectors, services
from enrollment.interconnection.forms import (
    ActionForm,
    AnswerForm,
    ApplicationForm,
    DeficiencyFormSet,
    DocumentForm,
    MessageForm,
    NewApplicationForm,
    deficiency_items,
)
from enrollment.interconnection.models import ApplicationDocument, InterconnectionApplication
from enrollment.interconnection.services import AnswerInput, InterconnectionError
from portal.downloads import document_download
from portal.models import InstallerApproval, User, Utility
from portal.roles import Cap, OrgKind
from portal.tenancy import organization_access
from portal.views import UtilityViewMixin

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return getattr(error, "message", str(error))


def serve_document(document: ApplicationDocument) -> FileResponse:
    return document_download(
        file=document.file, filename=document.download_name, content_type=document.content_type
    )


@contextmanager
def application_scope(app: Application):
    with scope(utility=app.utility_id), timezone.override(app.utility.tzinfo):
        yield


class Party:
    """How one party's pages address an application."""

    def __init__(self, kind: str, url_prefix: str, slug_kwargs: dict):
        self.kind = kind
        self.url_prefix = url_prefix
        self.slug_kwargs = slug_kwargs

    def url(self, name: str, **kwargs) -> str:
        return reverse(f"{self.url_prefix}{name}", kwargs={**self.slug_kwargs, **kwargs})


def render_application(request, *, party: Party, app: Application, status: int = 200, **extra):
    ctx = selectors.application_page(app)
    for doc in ctx["documents"]:
        doc.url = party.url("interconnection_document", pk=app.pk, doc_pk=doc.pk)
    for deficiency in ctx["deficiencies"]:
        for item in deficiency.items.all():
            if item.response_document:
                item.response_document.url = party.url(
                    "interconnection_document", pk=app.pk, doc_pk=item.response_document_id
                )
    message_form = extra.pop("message_form", None) or MessageForm()
    can_message = extra.pop("can_message", True) and not app.is_draft
    ctx.update(
        party=party.kind,
        message_url=party.url("interconnection_message", pk=app.pk),
        message_form=message_form,
        can_message=can_message,
        act_url=party.url("interconnection_act", pk=app.pk),
        list_url=party.url(
            "interconnection_list" if party.kind != "utility" else "interconnection_queue"
        ),
        pto_blockers=services.pto_blockers(app)
        if app.status in (Status.INSTALLED, Status.PTO_REVOKED)
        else [],
        statuses=Status,
        permits=Permit,
        **extra,
    )
    return render(request, "interconnection/application_detail.html", ctx, status=status)


def post_message(request, *, party: Party, app: Application, page):
    """A message from ``party`` to the others. A refused one re-renders the page with the
    text kept; a sent one redirects to the thread."""
    form = MessageForm(request.POST)
    if not form.is_valid():
        return page(app, message_form=form, error="The message was not sent: see below.")
    try:
        services.post_message(
            application=app, author=request.user, party=party.kind, body=form.cleaned_data["body"]
        )
    except InterconnectionError as error:
        form.add_error("body", _error_text(error))
        return page(app, message_form=form, error=_error_text(error))
    messages.success(request, "Message sent.")
    return HttpResponseRedirect(party.url("interconnection_detail", pk=app.pk) + "#messages")


# --- Utility --------------------------------------------------------------------------------


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
                app, error=_error_text(error), deficiency_formset=formset, action_form=form
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
        writer = csv.writer(response)
        for row in reports.csv_rows(report):
            writer.writerow(row)
        return response


# --- Installer and AHJ ----------------------------------------------------------------------


class OrgApplicationMixin(LoginRequiredMixin, View):
    """An installer company's or an AHJ's pages: membership in the organization (404
    otherwise) and the capability (403 otherwise)."""

    org_kind: str
    capability: str
    url_prefix = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.workspace = organization_access(request.user, self.org_kind, kwargs["org_slug"])
        if self.capability not in self.workspace.capabilities:
            raise PermissionDenied("Your role does not allow this page.")
        self.organization = self.workspace.organization
        self.party = Party(self.org_kind, self.url_prefix, {"org_slug": self.organization.slug})
        return super().dispatch(request, *args, **kwargs)

    def applications(self):
        raise NotImplementedError

    def get_application(self, pk: int) -> Application:
        with scopes_disabled():
            app = (
                self.applications()
                .select_related(*selectors.application_related())
                .filter(pk=pk)
                .first()
            )
        if app is None:
            raise Http404("No such application.")
        return app


class OrgListMixin:
    """A cross-utility list. Only its query runs with scopes disabled, through the explicit
    organization filter: the page's rows (and the count for pagination) are read there, and
    the page renders outside it, so a query a template would start fails closed instead of
    reading every tenant's rows."""

    def get(self, request, *args, **kwargs):
        with scopes_disabled():
            self.object_list = self.get_queryset()
            ctx = self.get_context_data()
            ctx["applications"] = ctx["object_list"] = list(ctx["applications"])
        return self.render_to_response(ctx)


class OrgDocumentMixin:
    def get(self, request, *args, pk: int, doc_pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            document = get_object_or_404(
                ApplicationDocument.objects.all(), pk=doc_pk, application=app
            )
            return serve_document(document)


class InstallerMixin(OrgApplicationMixin):
    org_kind = OrgKind.INSTALLER
    capability = Cap.INSTALLER_WORKSPACE
    url_prefix = "installer_"

    def applications(self):
        return selectors.installer_applications(self.organization)

    def page(self, app: Application, status: int = 200, **extra):
        editable = app.status in services.EDITABLE_STATES
        open_deficiency = extra.pop("answer_form", None)
        ctx = {
            "company": self.organization,
            "edit_form": extra.pop("edit_form", None)
            or (ApplicationForm(application=app) if editable else None),
            "document_form": extra.pop("document_form", None) or DocumentForm(),
            "checklist": selectors.checklist(app) if editable else [],
            "can_upload": app.status not in Application.FINAL_STATES,
            "document_url": self.party.url("interconnection_documents", pk=app.pk),
            "answer_url": self.party.url("interconnection_answer", pk=app.pk),
            "detail_url": self.party.url("interconnection_detail", pk=app.pk),
            "can_report_installed": app.permit_status
            in (Permit.PERMIT_ISSUED, Permit.INSPECTION_FAILED)
            and (
                not app.needs_interconnection
                or app.status in (Status.APPROVED_TO_INSTALL, Status.INSTALLED)
            ),
        }
        response = render_application(
            self.request, party=self.party, app=app, status=status, **ctx, **extra,
            answer_form=open_deficiency,
        )  # fmt: skip
        return response

    def redirect_to(self, app: Application, message: str):
        messages.success(self.request, message)
        return HttpResponseRedirect(self.party.url("interconnection_detail", pk=app.pk))


class InstallerListView(OrgListMixin, InstallerMixin, ListView):
    template_name = "interconnection/installer_list.html"
    context_object_name = "applications"
    paginate_by = 50
    SHOW = {
        "drafts": {"status": Status.DRAFT},
        "deficiencies": {"deficiencies__answered_at__isnull": True, "deficiencies__isnull": False},
        "open": {"status__in": Application.OPEN_STATES},
    }

    def get_queryset(self):
        self.show = self.request.GET.get("show", "")
        qs = self.applications()
        if self.show in self.SHOW:
            qs = qs.filter(**self.SHOW[self.show]).distinct()
        return selectors.with_message_summary(selectors.list_queryset(qs)).order_by(
            "-created_at", "-id"
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(company=self.organization, show=self.show, workspace=self.workspace)
        return ctx


class InstallerNewView(InstallerMixin):
    template_name = "interconnection/installer_new.html"

    def utilities(self):
        with scopes_disabled():
            approved = InstallerApproval.objects.filter(installer=self.organization, active=True)
            return Utility.objects.filter(pk__in=approved.values("utility_id"))

    def get(self, request, *args, **kwargs):
        form = NewApplicationForm(utilities=self.utilities())
        return render(request, self.template_name, {"form": form, "company": self.organization})

    def post(self, request, *args, **kwargs):
        form = NewApplicationForm(request.POST, utilities=self.utilities())
        with scopes_disabled():
            valid = form.is_valid()
        if not valid:
            return render(request, self.template_name, {"form": form, "company": self.organization})
        utility = form.cleaned_data["utility"]
        with scope(utility=utility.pk), timezone.override(utility.tzinfo):
            app = services.create_draft(
                utility=utility,
                installer=self.organization,
                service_account=form.cleaned_data["service_account"],
                actor=request.user,
                values={"configuration": form.cleaned_data["configuration"]},
            )
        return self.redirect_to(app, "Draft created. Fill in the details and upload the documents.")


class InstallerDetailView(InstallerMixin):
    """The application; while drafting (or answering a deficiency), also its edit form."""

    def get(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            return self.page(app, answer_form=self.answer_form(app))

    def answer_form(self, app: Application, data=None, files=None):
        deficiency = app.deficiencies.filter(answered_at__isnull=True).first()
        return AnswerForm(data, files, deficiency=deficiency) if deficiency else None

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = ApplicationForm(request.POST, application=app)
            if not form.is_valid():
                return self.page(app, edit_form=form, error="Check the highlighted fields.")
            try:
                services.update_draft(application=app, actor=request.user, values=form.values())
            except InterconnectionError as error:
                return self.page(self.get_application(pk), error=_error_text(error))
            return self.redirect_to(app, "Saved.")


class InstallerDocumentsView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = DocumentForm(request.POST, request.FILES)
            if not form.is_valid():
                return self.page(
                    app, document_form=form, error="The file was not uploaded: see below.",
                    answer_form=self.answer_form(app),
                )  # fmt: skip
            try:
                doc = services.upload_document(
                    application=app,
                    kind=form.cleaned_data["kind"],
                    upload=form.cleaned_data["file"],
                    actor=request.user,
                )
            except (InterconnectionError, ValidationError) as error:
                return self.page(
                    self.get_application(pk), document_form=form, error=_error_text(error),
                    answer_form=self.answer_form(app),
                )  # fmt: skip
            return self.redirect_to(app, f"Uploaded {doc}.")


class InstallerAnswerView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = self.answer_form(app, request.POST, request.FILES)
            if form is None:
                return self.page(app, error="There is no open deficiency to answer.")
            if not form.is_valid():
                return self.page(app, answer_form=form, error="Answer every item: see below.")
            answers = [
                AnswerInput(
                    item_id=item.pk,
                    response=form.cleaned_data.get(f"response_{item.pk}", ""),
                    upload=form.cleaned_data.get(f"file_{item.pk}"),
                )
                for item in form.deficiency_items
            ]
            try:
                services.answer_deficiency(application=app, answers=answers, actor=request.user)
            except (InterconnectionError, ValidationError) as error:
                return self.page(
                    self.get_application(pk), answer_form=form, error=_error_text(error)
                )
            return self.redirect_to(app, "Answer sent. The review continues.")


class InstallerActView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            form = ActionForm(request.POST)
            action = form.data.get("action", "")
            expected = form.data.get("expected") or None
            try:
                if action == "submit":
                    services.submit(application=app, actor=request.user, expected=expected)
                    message = "Submitted to the utility and the AHJ."
                elif action == "installed":
                    services.report_installed(application=app, actor=request.user)
                    message = "Installation reported; the AHJ is asked to inspect."
                elif action == "withdraw":
                    services.withdraw(
                        application=app, actor=request.user, reason=form.data.get("comment", "")
                    )
                    message = "Withdrawn."
                else:
                    raise services.InvalidInput("Choose an action.")
            except InterconnectionError as error:
                app = self.get_application(pk)
                return self.page(app, error=_error_text(error), answer_form=self.answer_form(app))
            return self.redirect_to(app, message)


class InstallerMessageView(InstallerDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, pk: int, **kwargs):
        app = self.get_application(pk)
        with application_scope(app):
            return post_message(
                request,
                party=self.party,
                app=app,
                page=lambda app, **extra: self.page(
                    app, answer_form=self.answer_form(app), **extra
                ),
            )


class InstallerApplicationDocumentView(OrgDocumentMixin, InstallerMixin):
    pass


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
                form.add_error("inspected_on", _error_text(error))
                return self.page(
                    self.get_application(pk), error=_error_text(error), action_form=form
                )
            except (InterconnectionError, ValidationError) as error:
                return self.page(
                    self.get_application(pk), error=_error_text(error), deficiency_formset=formset
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
